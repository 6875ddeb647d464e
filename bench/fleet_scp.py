#!/usr/bin/env python
# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet of minimal Verification SCPs: one process, one asyncio loop, many loopback ports.

    fleet_scp.py --count N [--host 127.0.0.1] --ready FILE [--stats FILE] [--lifetime S]

For benchmarks of the role: a pynetdicom SCP costs milliseconds of CPU per association
(threads polling every millisecond), which on a small machine would be measured instead
of the client. This one answers in well under a millisecond: it accepts every association
proposing Verification (with the first transfer syntax proposed), answers each C-ECHO-RQ
with a Success C-ECHO-RSP (Message ID Being Responded To set), answers A-RELEASE-RQ, and
closes on A-ABORT. Nothing else of DICOM is implemented: it is a test peer, not an SCP to
rely on.

When every port listens, ``{"host": ..., "ports": [...]}`` is written to FILE. On SIGTERM or
SIGINT, or after --lifetime seconds, it stops and writes to --stats how many associations,
echoes and releases each port saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import sys

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


class Stats:
    def __init__(self, ports: list[int]) -> None:
        self.seen = {port: {"associations": 0, "echoes": 0, "released": 0} for port in ports}


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counts: dict) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    command = bytearray()
    try:
        while True:
            header = await asyncio.wait_for(reader.readexactly(6), 60)
            kind, unused, length = struct.unpack(">BBI", header)
            if length > MAX_ACCEPTED_PDU:
                break
            body = await asyncio.wait_for(reader.readexactly(length), 60)
            if kind == 0x01:
                counts["associations"] += 1
                writer.write(associate_ac(body))
            elif kind == 0x04:
                offset = 0
                while offset + 6 <= len(body):
                    pdv_length, context_id, control = struct.unpack_from(">IBB", body, offset)
                    fragment = body[offset + 6:offset + 4 + pdv_length]
                    offset += 4 + pdv_length
                    if not control & 0x01:
                        continue  # a data set fragment: C-ECHO has none
                    command += fragment
                    if control & 0x02:
                        fields = command_fields(bytes(command))
                        command.clear()
                        if struct.unpack("<H", fields.get((0, 0x0100), b"\0\0"))[0] == 0x0030:
                            counts["echoes"] += 1
                            message_id = struct.unpack("<H", fields.get((0, 0x0110), b"\0\0"))[0]
                            writer.write(echo_rsp(context_id, message_id))
            elif kind == 0x05:
                counts["released"] += 1
                writer.write(RELEASE_RP)
                await writer.drain()
                break
            else:  # A-ABORT, or anything unexpected
                break
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main_async(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = []
    ports: list[int] = []
    stats: dict[int, dict] = {}
    for _index in range(args.count):
        counts = {"associations": 0, "echoes": 0, "released": 0}
        server = await asyncio.start_server(
            lambda r, w, c=counts: serve_connection(r, w, c), args.host, 0, backlog=512, reuse_address=True
        )
        port = server.sockets[0].getsockname()[1]
        servers.append(server)
        ports.append(port)
        stats[port] = counts
    text = json.dumps({"host": args.host, "ports": ports})
    with open(args.ready + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(args.ready + ".tmp", args.ready)
    try:
        await asyncio.wait_for(stop.wait(), args.lifetime)
    except asyncio.TimeoutError:
        pass
    for server in servers:
        server.close()
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
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
