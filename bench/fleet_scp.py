#!/usr/bin/env python
# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet of minimal Verification SCPs: one process, one selectors loop, many loopback ports.

    fleet_scp.py --count N [--host 127.0.0.1] --ready FILE [--stats FILE] [--lifetime S]

For benchmarks of the role: a pynetdicom SCP costs milliseconds of CPU per association
(threads polling every millisecond), which on a small machine would be measured instead
of the client. This one accepts every association proposing Verification (with the first
transfer syntax proposed), answers each C-ECHO-RQ with a Success C-ECHO-RSP (Message ID Being
Responded To set), answers A-RELEASE-RQ (and then closes), and closes on A-ABORT, on any other
PDU, on a PDU declared longer than 1 MiB, and after 60 s without traffic. Nothing else of
DICOM is implemented: it is a test peer, not an SCP to rely on.

Why a bare ``selectors`` loop (epoll on Linux) over non-blocking sockets, and not asyncio
streams: the peer's CPU must not be what the benchmark measures. With asyncio (a task per
connection, ``readexactly`` under ``wait_for`` for every header and body) an association cost
the peer about 0.5 ms of CPU, and at 1,000 endpoints on 2 cores the peer was the bottleneck.
Here each connection is a byte buffer: every complete PDU in it is answered, the replies go
out with one ``send`` (what the socket does not take waits for writability), and one sweep a
second closes idle connections instead of a timer per read. An association costs the peer
well under 0.15 ms, most of it the kernel's TCP work.

When every port listens, ``{"host": ..., "ports": [...]}`` is written to FILE. On SIGTERM or
SIGINT, or after --lifetime seconds, it stops and writes to --stats how many associations,
echoes and releases each port saw.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections import OrderedDict

VERIFICATION = b"1.2.840.10008.1.1"
APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
IMPL_CLASS_UID = b"1.2.826.0.1.3680043.10.1234.1"
IMPL_VERSION = b"FLEET_SCP_1"
MAX_PDU = 16384
MAX_ACCEPTED_PDU = 1 << 20


def _item(kind: int, value: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(value)) + value


def _uid(value: bytes) -> bytes:
    return value + (b"\0" if len(value) % 2 else b"")


def _element(group: int, elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", group, elem, len(value)) + value


def parse_items(data: bytes) -> list[tuple[int, bytes]]:
    items, offset = [], 0
    while offset + 4 <= len(data):
        kind, unused, length = struct.unpack_from(">BBH", data, offset)
        items.append((kind, data[offset + 4:offset + 4 + length]))
        offset += 4 + length
    return items


def associate_ac(rq: bytes) -> bytes:
    """The A-ASSOCIATE-AC for an A-ASSOCIATE-RQ body: Verification accepted, others refused."""
    called, calling = rq[4:20], rq[20:36]
    contexts = []
    for kind, value in parse_items(rq[68:]):
        if kind != 0x20:
            continue
        context_id = value[0]
        subs = parse_items(value[4:])
        abstract = next((v for k, v in subs if k == 0x30), b"").rstrip(b"\0 ")
        syntaxes = [v for k, v in subs if k == 0x40]
        if abstract == VERIFICATION and syntaxes:
            result, syntax = 0, syntaxes[0]
        else:
            result, syntax = 3, syntaxes[0] if syntaxes else b"1.2.840.10008.1.2"
        contexts.append(_item(0x21, bytes([context_id, 0, result, 0]) + _item(0x40, syntax)))
    user = _item(0x51, struct.pack(">I", MAX_PDU)) + _item(0x52, IMPL_CLASS_UID) + _item(0x55, IMPL_VERSION)
    body = (
        struct.pack(">HH", 1, 0) + called + calling + b"\0" * 32
        + _item(0x10, APP_CONTEXT) + b"".join(contexts) + _item(0x50, user)
    )
    return struct.pack(">BBI", 0x02, 0, len(body)) + body


def echo_rsp(context_id: int, message_id: int) -> bytes:
    elements = (
        _element(0x0000, 0x0002, _uid(VERIFICATION))
        + _element(0x0000, 0x0100, struct.pack("<H", 0x8030))
        + _element(0x0000, 0x0120, struct.pack("<H", message_id))
        + _element(0x0000, 0x0800, struct.pack("<H", 0x0101))
        + _element(0x0000, 0x0900, struct.pack("<H", 0x0000))
    )
    command = _element(0x0000, 0x0000, struct.pack("<I", len(elements))) + elements
    pdv = struct.pack(">IBB", len(command) + 2, context_id, 0x03) + command
    return struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv


def command_fields(command: bytes) -> dict[tuple[int, int], bytes]:
    fields, offset = {}, 0
    while offset + 8 <= len(command):
        group, elem, length = struct.unpack_from("<HHI", command, offset)
        fields[(group, elem)] = command[offset + 8:offset + 8 + length]
        offset += 8 + length
    return fields


RELEASE_RP = struct.pack(">BBIL", 0x06, 0, 4, 0)

IDLE_TIMEOUT = 60.0  # seconds without a byte received or sent: the connection is closed
SWEEP_INTERVAL = 1.0  # idle connections are looked for at most this often
RECV_SIZE = 65536
HIGH_WATER = 65536  # replies not yet sent beyond this: stop reading until the peer reads
ACCEPT_PAUSE = 1.0  # out of descriptors: stop accepting on that port for this long
READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
_HEADER = struct.Struct(">BBI")
_PDV_HEADER = struct.Struct(">IBB")
_US = struct.Struct("<H")
# The replies depend on nothing but their arguments, and a benchmark's clients send the same
# A-ASSOCIATE-RQ and Message IDs over and over: building each once saves most of their cost.
_associate_ac = functools.lru_cache(maxsize=256)(associate_ac)
_echo_rsp = functools.lru_cache(maxsize=4096)(echo_rsp)


class Listener:
    """A listening socket and the counts of the port it listens on."""

    __slots__ = ("sock", "counts")

    def __init__(self, sock: socket.socket, counts: dict[str, int]) -> None:
        self.sock = sock
        self.counts = counts


class Connection:
    """An accepted connection: its bytes received and not yet parsed, and not yet sent."""

    __slots__ = ("sock", "counts", "inbuf", "need", "outbuf", "command", "last", "events", "closing")

    def __init__(self, sock: socket.socket, counts: dict[str, int], now: float) -> None:
        self.sock: socket.socket | None = sock
        self.counts = counts
        self.inbuf = bytearray()
        self.need = 6  # bytes inbuf must hold before it is worth parsing
        self.outbuf = bytearray()
        self.command = bytearray()  # command fragments of a C-ECHO-RQ split over PDVs
        self.last = now
        self.events = READ
        self.closing = False  # nothing more is read: close once outbuf is sent


class Fleet:
    """Every port's listening socket and every connection, served by one selector loop."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        # Oldest activity first: the idle sweep stops at the first connection not idle.
        self.connections: OrderedDict[Connection, None] = OrderedDict()
        self.listeners: list[Listener] = []
        self.paused: list[tuple[float, Listener]] = []
        self.now = time.monotonic()

    def listen(self, host: str, counts: dict[str, int]) -> int:
        family, _kind, _proto, _name, address = socket.getaddrinfo(
            host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )[0]
        # SO_REUSEADDR, and IPV6_V6ONLY for IPv6, as asyncio.start_server sets them.
        sock = socket.create_server(address, family=family, backlog=512)
        sock.setblocking(False)
        listener = Listener(sock, counts)
        self.listeners.append(listener)
        self.selector.register(sock, READ, listener)
        return sock.getsockname()[1]

    # -- accepting -------------------------------------------------------------

    def accept(self, listener: Listener) -> None:
        # One per readiness event: each port mostly has one connection waiting, and a second
        # accept() would mostly fail with EAGAIN. The selector is level-triggered: it reports
        # the port again while connections wait.
        try:
            sock, _address = listener.sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # nothing waiting after all, or reset by the client before it was accepted
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # The socket stays readable: without a pause this would spin.
                self.selector.unregister(listener.sock)
                self.paused.append((self.now + ACCEPT_PAUSE, listener))
            return
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # already reset by the client
            sock.close()
            return
        conn = Connection(sock, listener.counts, self.now)
        self.selector.register(sock, READ, conn)
        self.connections[conn] = None

    # -- one connection --------------------------------------------------------

    def readable(self, conn: Connection) -> None:
        sock = conn.sock
        if sock is None:
            return
        try:
            data = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # ConnectionResetError and the like
            self.close(conn)
            return
        if not data:  # the client closed its side: send what is pending, then close
            conn.closing = True
            self.update(conn)
            return
        conn.last = self.now
        self.connections.move_to_end(conn)
        inbuf = conn.inbuf
        if inbuf:
            inbuf += data
            if len(inbuf) < conn.need:
                return
            data = bytes(inbuf)
            inbuf.clear()
        elif len(data) < conn.need:
            inbuf += data
            return
        replies: list[bytes] = []
        try:
            consumed = self.handle(conn, data, replies)
        except (IndexError, ValueError, struct.error):  # a malformed PDU: answered by closing
            consumed = len(data)
            conn.closing = True
        if not conn.closing and consumed < len(data):
            inbuf += data[consumed:]
        if replies:
            self.send(conn, b"".join(replies))
        if conn.sock is not None:
            self.update(conn)

    def handle(self, conn: Connection, data: bytes, replies: list[bytes]) -> int:
        """Answer the complete PDUs at the start of data (into replies): how many bytes they are."""
        counts = conn.counts
        offset, end = 0, len(data)
        while end - offset >= 6:
            kind, _unused, length = _HEADER.unpack_from(data, offset)
            if length > MAX_ACCEPTED_PDU:
                conn.closing = True
                break
            stop = offset + 6 + length
            if stop > end:
                conn.need = stop - offset
                return offset
            body = data[offset + 6 : stop]
            offset = stop
            if kind == 0x04:
                position = 0
                while position + 6 <= length:
                    pdv_length, context_id, control = _PDV_HEADER.unpack_from(body, position)
                    fragment = body[position + 6 : position + 4 + pdv_length]
                    position += 4 + pdv_length
                    if not control & 0x01:
                        continue  # a data set fragment: C-ECHO has none
                    command = conn.command
                    command += fragment
                    if control & 0x02:
                        fields = command_fields(bytes(command))
                        command.clear()
                        if _US.unpack(fields.get((0, 0x0100), b"\0\0"))[0] == 0x0030:
                            counts["echoes"] += 1
                            message_id = _US.unpack(fields.get((0, 0x0110), b"\0\0"))[0]
                            replies.append(_echo_rsp(context_id, message_id))
            elif kind == 0x01:
                counts["associations"] += 1
                replies.append(_associate_ac(body))
            elif kind == 0x05:
                counts["released"] += 1
                replies.append(RELEASE_RP)
                conn.closing = True
                break
            else:  # A-ABORT, or anything unexpected
                conn.closing = True
                break
        conn.need = 6
        return offset

    def send(self, conn: Connection, data: bytes) -> None:
        if conn.outbuf:  # waiting for writability already: keep the order
            conn.outbuf += data
            return
        assert conn.sock is not None
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # BrokenPipeError, ConnectionResetError
            self.close(conn)
            return
        if sent < len(data):
            conn.outbuf += data[sent:]

    def writable(self, conn: Connection) -> None:
        assert conn.sock is not None
        try:
            sent = conn.sock.send(conn.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        if sent:
            del conn.outbuf[:sent]
            conn.last = self.now
            self.connections.move_to_end(conn)
        self.update(conn)

    def update(self, conn: Connection) -> None:
        """Close conn when it is done, or wait for the events it needs."""
        events = 0
        if not conn.closing and len(conn.outbuf) < HIGH_WATER:
            events |= READ
        if conn.outbuf:
            events |= WRITE
        if not events:
            self.close(conn)
        elif events != conn.events:
            conn.events = events
            self.selector.modify(conn.sock, events, conn)

    def close(self, conn: Connection) -> None:
        sock, conn.sock = conn.sock, None
        if sock is None:
            return
        self.connections.pop(conn, None)
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()

    # -- the loop --------------------------------------------------------------

    def sweep(self) -> None:
        """Close the connections idle for IDLE_TIMEOUT; resume the ports paused accepting."""
        limit = self.now - IDLE_TIMEOUT
        connections = self.connections
        while connections:
            conn = next(iter(connections))
            if conn.last > limit:
                break
            self.close(conn)
        if self.paused:
            due = [listener for when, listener in self.paused if when <= self.now]
            self.paused = [(when, listener) for when, listener in self.paused if when > self.now]
            for listener in due:
                self.selector.register(listener.sock, READ, listener)

    def run(self, lifetime: float, stop: list[int], wakeup: socket.socket) -> None:
        """Serve until a signal is recorded in stop (wakeup wakes the loop) or lifetime is over."""
        self.selector.register(wakeup, READ, None)
        deadline = time.monotonic() + lifetime
        next_sweep = time.monotonic() + SWEEP_INTERVAL
        select, readable, writable, accept = self.selector.select, self.readable, self.writable, self.accept
        while not stop:
            self.now = time.monotonic()
            if self.now >= deadline:
                break
            if self.now >= next_sweep:
                next_sweep = self.now + SWEEP_INTERVAL
                self.sweep()
            for key, mask in select(min(next_sweep, deadline) - self.now):
                data = key.data
                if data.__class__ is Connection:
                    # Not when the connection stopped reading: a hang-up or an error is
                    # reported as readable and writable, and writing finds out which.
                    if mask & READ and data.events & READ:
                        readable(data)
                    if mask & WRITE and data.sock is not None:
                        writable(data)
                elif data is None:
                    try:
                        while wakeup.recv(512):
                            pass
                    except OSError:
                        pass
                else:
                    accept(data)

    def shutdown(self) -> None:
        for conn in list(self.connections):
            self.close(conn)
        for listener in self.listeners:
            listener.sock.close()
        self.selector.close()


def serve(args: argparse.Namespace) -> int:
    stop: list[int] = []
    wakeup, wakeup_write = socket.socketpair()
    wakeup.setblocking(False)
    wakeup_write.setblocking(False)
    signal.set_wakeup_fd(wakeup_write.fileno(), warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: stop.append(number))
    fleet = Fleet()
    ports: list[int] = []
    stats: dict[int, dict[str, int]] = {}
    for _index in range(args.count):
        counts = {"associations": 0, "echoes": 0, "released": 0}
        port = fleet.listen(args.host, counts)
        ports.append(port)
        stats[port] = counts
    text = json.dumps({"host": args.host, "ports": ports})
    with open(args.ready + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(args.ready + ".tmp", args.ready)
    fleet.run(args.lifetime, stop, wakeup)
    fleet.shutdown()
    if args.stats:
        with open(args.stats, "w", encoding="utf-8") as handle:
            json.dump({str(port): counts for port, counts in stats.items()}, handle)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="how many ports to listen on")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ready", required=True, help="write the listening ports here (JSON)")
    parser.add_argument("--stats", help="write what each port saw here (JSON) when stopping")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 10000:
        parser.error("--count must be between 1 and 10000")
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, args.count + 1024) if hard != resource.RLIM_INFINITY else args.count + 1024
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
