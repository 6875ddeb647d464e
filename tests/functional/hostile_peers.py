"""Fake DICOM peers on plain sockets that misbehave on purpose.

Each :class:`HostilePeer` listens on an ephemeral 127.0.0.1 port, runs one
*behaviour* per accepted connection in its own thread, and records what the
client sent (PDU types, C-ECHO message IDs, whether an A-ABORT or an
A-RELEASE-RQ arrived, whether the client closed). Every wait is bounded: a peer
lives at most ``lifetime`` seconds and :meth:`HostilePeer.stop` ends it at once.

The PDUs a peer sends are built with pynetdicom's own classes (A-ASSOCIATE-AC,
C-ECHO-RSP in P-DATA-TF) or with ``struct`` for the fixed 10-byte ones
(A-ASSOCIATE-RJ, A-ABORT, A-RELEASE-RP), and what the client sends is parsed
with pynetdicom too, so a response can answer the right Message ID.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import socket
import struct
import threading
import time
import typing as t

from pynetdicom.dimse_messages import C_ECHO_RSP, DIMSEMessage
from pynetdicom.dimse_primitives import C_ECHO
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext

LOOPBACK = "127.0.0.1"
VERIFICATION = "1.2.840.10008.1.1"
A_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
HTTP_RESPONSE = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Content-Length: 11\r\nConnection: close\r\n\r\nBad Request"
)
TEXT_BANNER = b"220 mail.example.invalid ESMTP Postfix\r\n"
_HEADER = struct.Struct(">BBL")
# A poll step: how long any blocking call in a peer may wait before it looks at `stop`.
_TICK = 0.02


def associate_rj(result: int, source: int, reason: int) -> bytes:
    """A-ASSOCIATE-RJ (PS3.8 table 9-21), any codes, reserved ones included."""
    return _HEADER.pack(0x03, 0, 4) + bytes((0, result, source, reason))


def a_abort(source: int = 0, reason: int = 0) -> bytes:
    """A-ABORT (PS3.8 table 9-26)."""
    return _HEADER.pack(0x07, 0, 4) + bytes((0, 0, source, reason))


def associate_ac(rq: A_ASSOCIATE_RQ, max_pdu: int = 16384, transfer_syntax: str | None = None) -> bytes:
    """The A-ASSOCIATE-AC that accepts every context of ``rq`` with its first syntax."""
    primitive = rq.to_primitive()
    ac = A_ASSOCIATE()
    ac.application_context_name = primitive.application_context_name
    ac.calling_ae_title = primitive.calling_ae_title
    ac.called_ae_title = primitive.called_ae_title
    ac.result = 0
    ac.result_source = 1
    results = []
    for cx in primitive.presentation_context_definition_list:
        out = PresentationContext()
        out.context_id = cx.context_id
        out.abstract_syntax = cx.abstract_syntax
        out.transfer_syntax = [transfer_syntax or cx.transfer_syntax[0]]
        out.result = 0
        results.append(out)
    ac.presentation_context_definition_results_list = results
    length = MaximumLengthNotification()
    length.maximum_length_received = max_pdu
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = "1.2.826.0.1.3680043.9.3811.0.0.0"
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = "HOSTILE_1"
    ac.user_information = [length, class_uid, version]
    return bytes(A_ASSOCIATE_AC(ac).encode())


def echo_rsp(message_id: int, status: int, context_id: int = 1) -> bytes:
    """A C-ECHO-RSP in one P-DATA-TF PDU, answering ``message_id`` with ``status``."""
    primitive = C_ECHO()
    primitive.MessageIDBeingRespondedTo = message_id
    primitive.AffectedSOPClassUID = VERIFICATION
    primitive.Status = status
    message = C_ECHO_RSP()
    message.primitive_to_message(primitive)
    return b"".join(bytes(P_DATA_TF(p).encode()) for p in message.encode_msg(context_id, 16384))


@dataclasses.dataclass
class Seen:
    """What a peer observed from the client, over all its connections."""

    connections: int = 0
    pdu_types: list[int] = dataclasses.field(default_factory=list)
    echo_message_ids: list[int] = dataclasses.field(default_factory=list)
    calling_aet: str | None = None
    called_aet: str | None = None
    received_bytes: int = 0
    sent_bytes: int = 0
    client_closed: bool = False
    client_reset: bool = False
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def abort_received(self) -> bool:
        return 0x07 in self.pdu_types

    @property
    def release_received(self) -> bool:
        return 0x05 in self.pdu_types


class Conn:
    """One accepted connection, as a behaviour sees it."""

    def __init__(self, sock: socket.socket, seen: Seen, stop: threading.Event, until: float) -> None:
        self.sock = sock
        self.seen = seen
        self.stop = stop
        self.until = until
        self.closed = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- reading what the client sends ----------------------------------------------

    def _recv_exact(self, count: int, seconds: float) -> bytes | None:
        """``count`` bytes, or None on EOF, reset, timeout or stop."""
        buf = bytearray()
        end = min(self.until, time.monotonic() + seconds)
        while len(buf) < count:
            if self.stop.is_set() or time.monotonic() >= end:
                return None
            self.sock.settimeout(_TICK)
            try:
                chunk = self.sock.recv(count - len(buf))
            except TimeoutError:
                continue
            except OSError:
                self.seen.client_reset = True
                return None
            if not chunk:
                self.seen.client_closed = True
                return None
            buf += chunk
            self.seen.received_bytes += len(chunk)
        return bytes(buf)

    def read_pdu(self, seconds: float = 5.0) -> tuple[int, bytes] | None:
        """The next whole PDU from the client (type, encoding), or None."""
        header = self._recv_exact(6, seconds)
        if header is None:
            return None
        pdu_type, _reserved, length = _HEADER.unpack(header)
        if length > 1 << 20:
            self.seen.errors.append(f"client declared a PDU of {length} bytes")
            return None
        body = self._recv_exact(length, seconds) if length else b""
        if body is None:
            return None
        self.seen.pdu_types.append(pdu_type)
        return pdu_type, header + body

    def read_rq(self) -> A_ASSOCIATE_RQ | None:
        got = self.read_pdu()
        if got is None or got[0] != 0x01:
            return None
        rq = A_ASSOCIATE_RQ()
        rq.decode(got[1])
        primitive = rq.to_primitive()
        self.seen.calling_aet = str(primitive.calling_ae_title).strip()
        self.seen.called_aet = str(primitive.called_ae_title).strip()
        return rq

    def read_echo_rq(self) -> tuple[int, int] | None:
        """(message ID, context ID) of the next C-ECHO-RQ, or None (EOF, release, abort...)."""
        message = DIMSEMessage()
        while True:
            got = self.read_pdu()
            if got is None or got[0] != 0x04:
                return None
            pdu = P_DATA_TF()
            pdu.decode(got[1])
            if message.decode_msg(pdu.to_primitive()):
                message_id = int(message.command_set.MessageID)
                self.seen.echo_message_ids.append(message_id)
                return message_id, int(message.context_id or 1)

    def drain(self) -> None:
        """Read (and record) whatever the client sends until it closes or the peer stops."""
        while not self.closed and self.read_pdu(seconds=self.until - time.monotonic()) is not None:
            pass

    # -- acting ----------------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        try:
            self.sock.settimeout(2.0)
            self.sock.sendall(data)
            self.seen.sent_bytes += len(data)
            return True
        except OSError:
            return False

    def accept(self, max_pdu: int = 16384, transfer_syntax: str | None = None) -> bool:
        """Read the A-ASSOCIATE-RQ and accept it; False if none came."""
        rq = self.read_rq()
        if rq is None:
            return False
        return self.send(associate_ac(rq, max_pdu, transfer_syntax))

    def sleep(self, seconds: float) -> bool:
        """Sleep (bounded by stop and the lifetime); False when the peer must end."""
        end = min(self.until, time.monotonic() + seconds)
        while time.monotonic() < end:
            if self.stop.wait(min(_TICK, max(0.0, end - time.monotonic()))):
                return False
        return not self.stop.is_set() and time.monotonic() < self.until

    def fin(self) -> None:
        """Half-close: send our FIN, keep reading what the client says."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Close with SO_LINGER 0: the kernel sends a TCP RST."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.closed = True


Behaviour = t.Callable[[Conn], None]


class HostilePeer:
    """A listening socket whose connections are handled by ``behaviour``."""

    def __init__(self, behaviour: Behaviour, lifetime: float = 20.0, host: str = LOOPBACK) -> None:
        self.behaviour = behaviour
        self.seen = Seen()
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.until = time.monotonic() + lifetime
        self.listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(8)
        self.host = host
        self.port = self.listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"hostile-{self.port}", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self.stop_event.is_set() and time.monotonic() < self.until:
            self.listener.settimeout(_TICK)
            try:
                sock, _addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.seen.connections += 1
            self._socks.append(sock)
            worker = threading.Thread(target=self._handle, args=(sock,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _handle(self, sock: socket.socket) -> None:
        conn = Conn(sock, self.seen, self.stop_event, self.until)
        try:
            self.behaviour(conn)
            conn.drain()
        except Exception as exc:  # noqa: BLE001 - recorded for the test to show
            self.seen.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            self.finished.set()

    def wait_finished(self, seconds: float = 3.0) -> bool:
        """Wait (bounded) until a connection's handler has ended (the client closed)."""
        return self.finished.wait(seconds)

    def stop(self) -> None:
        self.stop_event.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self._acceptor.join(2.0)
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.close()
        for worker in self._threads:
            worker.join(2.0)

    def __enter__(self) -> HostilePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- behaviours ------------------------------------------------------------------------
# Each takes the Conn; after it returns the peer keeps reading (and recording) until the
# client closes, so a test can see an A-ABORT or an A-RELEASE-RQ that came late.


def silent(conn: Conn) -> None:
    """(1) TCP accepted; nothing is ever sent (what the client sends is still read)."""


def answer_with(data: bytes) -> Behaviour:
    """(2) Answer the connection with ``data`` (HTTP, a banner, random bytes), then read."""

    def behaviour(conn: Conn) -> None:
        conn.read_pdu()
        conn.send(data)

    return behaviour


def random_bytes(seed: int, size: int = 256, first: int | None = None) -> bytes:
    rng = random.Random(seed)
    data = bytearray(rng.randrange(256) for _byte in range(size))
    if first is not None:
        data[0] = first
    return bytes(data)


def huge_header(pdu_type: int = 0x02, after_accept: bool = False) -> Behaviour:
    """(3) A PDU header declaring 0xFFFFFFF0 bytes, then silence (at once, or after the AC)."""

    def behaviour(conn: Conn) -> None:
        if after_accept:
            if not conn.accept() or conn.read_echo_rq() is None:
                return
        else:
            conn.read_pdu()
        conn.send(_HEADER.pack(pdu_type, 0, 0xFFFFFFF0))

    return behaviour


def trickle(after_accept: bool = False, step: float = 0.2) -> Behaviour:
    """(3) One byte every ``step`` seconds, forever, of a PDU that looks plausible."""

    def behaviour(conn: Conn) -> None:
        if after_accept:
            if not conn.accept() or conn.read_echo_rq() is None:
                return
            stream = _HEADER.pack(0x04, 0, 8000)
        else:
            conn.read_pdu()
            stream = _HEADER.pack(0x02, 0, 8000)
        index = 0
        while conn.sleep(step):
            byte = stream[index:index + 1] or b"\x00"
            if not conn.send(byte):
                return
            index += 1

    return behaviour


def accept_then_silent(conn: Conn) -> None:
    """(4) A-ASSOCIATE-AC, then never a C-ECHO-RSP (the client hits its DIMSE timeout)."""
    conn.accept()


def abort_on_rq(source: int = 2, reason: int = 0) -> Behaviour:
    """(5) A-ABORT in reply to the A-ASSOCIATE-RQ."""

    def behaviour(conn: Conn) -> None:
        conn.read_pdu()
        conn.send(a_abort(source, reason))

    return behaviour


def abort_after_echo_rq(source: int = 0, reason: int = 0) -> Behaviour:
    """(5) Accept, read the C-ECHO-RQ, answer with an A-ABORT."""

    def behaviour(conn: Conn) -> None:
        if conn.accept() and conn.read_echo_rq() is not None:
            conn.send(a_abort(source, reason))

    return behaviour


def close_after_accept(how: str, wait_for_echo: bool = False) -> Behaviour:
    """(6) A-ASSOCIATE-AC then a TCP FIN (``fin``) or RST (``rst``), at once or on the C-ECHO-RQ."""

    def behaviour(conn: Conn) -> None:
        if not conn.accept():
            return
        if wait_for_echo and conn.read_echo_rq() is None:
            return
        if how == "rst":
            conn.reset()
        else:
            conn.fin()

    return behaviour


def endless_fragments(conn: Conn) -> None:
    """(12) Accept, then answer the C-ECHO-RQ with command fragments that never end, as fast as TCP goes."""
    if not conn.accept() or conn.read_echo_rq() is None:
        return
    body = b"\x00" * 16000
    pdv = struct.pack(">LB", len(body) + 2, 1) + b"\x01" + body  # context 1, command, not the last fragment
    burst = (_HEADER.pack(0x04, 0, len(pdv)) + pdv) * 16
    while conn.sleep(0) and conn.send(burst):
        pass


def mutate(rng: random.Random, data: bytes) -> bytes:
    """A few random byte changes, cuts and insertions past the header; the length is usually kept honest."""
    out = bytearray(data)
    for _edit in range(rng.randint(1, 6)):
        at = rng.randrange(6, len(out)) if len(out) > 6 else 0
        roll = rng.random()
        if roll < 0.6:
            out[at] = rng.randrange(256)
        elif roll < 0.8:
            del out[at:at + rng.randint(1, 8)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _byte in range(rng.randint(1, 8)))
    if len(out) >= 6 and rng.random() < 0.8:
        out[2:6] = struct.pack(">L", len(out) - 6)  # so the body is parsed, not just the length refused
    return bytes(out)


def mutated_ac(seed: int) -> Behaviour:
    """A valid A-ASSOCIATE-AC for the client's request, then damaged (seeded)."""

    def behaviour(conn: Conn) -> None:
        rq = conn.read_rq()
        if rq is not None:
            conn.send(mutate(random.Random(seed), associate_ac(rq)))

    return behaviour


def mutated_echo_rsp(seed: int) -> Behaviour:
    """Accept, then a valid C-ECHO-RSP to the client's request, damaged (seeded)."""

    def behaviour(conn: Conn) -> None:
        if conn.accept() and (got := conn.read_echo_rq()) is not None:
            conn.send(mutate(random.Random(seed), echo_rsp(got[0], 0, got[1])))

    return behaviour


def serve(status: int = 0x0000, wrong_id: bool = False, answer_release: bool = True,
          answer: int | None = None) -> Behaviour:
    """(4, 7, 10) Accept and answer C-ECHO-RQs with ``status`` (only the first ``answer`` of them,
    if given: later ones are read and never answered); handle (or ignore) A-RELEASE-RQ."""

    def behaviour(conn: Conn) -> None:
        if not conn.accept():
            return
        while True:
            got = conn.read_echo_rq()
            if got is None:
                break
            message_id, context_id = got
            if answer is not None and len(conn.seen.echo_message_ids) > answer:
                continue
            answered = (message_id + 1) % 65536 if wrong_id else message_id
            if not conn.send(echo_rsp(answered, status, context_id)):
                return
        if conn.seen.pdu_types and conn.seen.pdu_types[-1] == 0x05 and answer_release:
            conn.send(A_RELEASE_RP)

    return behaviour


def reject(result: int, source: int, reason: int) -> Behaviour:
    """(8) A-ASSOCIATE-RJ with the given codes."""

    def behaviour(conn: Conn) -> None:
        conn.read_pdu()
        conn.send(associate_rj(result, source, reason))

    return behaviour


class FullBacklog:
    """(9) A listener with backlog 0 whose accept queue is full: a new connect never completes.

    On Linux a SYN to a listener whose accept queue is full is dropped, so the
    client's connect() waits for a SYN-ACK that never comes.
    """

    def __init__(self, max_fill: int = 16) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []
        self.full = False
        for _attempt in range(max_fill):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(0.3)
            self.fillers.append(sock)
            try:
                sock.connect((LOOPBACK, self.port))
            except (TimeoutError, OSError):
                self.full = True
                break

    def close(self) -> None:
        for sock in self.fillers:
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(OSError):
            self.listener.close()

    def __enter__(self) -> FullBacklog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoConnectionExpected:
    """A plain listening socket that must see no connection (bad input sends nothing)."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]

    def connections(self) -> int:
        """How many connections are waiting (the kernel completes them without accept)."""
        count = 0
        for _attempt in range(64):
            try:
                sock, _addr = self.listener.accept()
            except BlockingIOError:
                break
            sock.close()
            count += 1
        return count

    def close(self) -> None:
        self.listener.close()
