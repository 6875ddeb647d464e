# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""A TCP channel that moves whole DICOM Upper Layer PDUs, every wait bounded.

pynetdicom's own transport blocks in ``recv`` with no timeout once connected,
trusts the PDU length a peer declares, and polls in a reactor thread. This
channel is synchronous: each read is bounded by the deadline of the wait it
belongs to (so a peer trickling bytes cannot extend it), a PDU's declared
length is checked against a cap before any byte of its body is read, and the
first byte is checked to be a PDU type so a non-DICOM peer is named at once.
With DICOM TLS the socket is an ``ssl.SSLSocket`` (the engine wraps it after connect):
an error on it is asked whether it is a TLS failure (under TLS 1.3 a refused client
certificate only shows at the first read) and raised as :class:`TlsFailed`. On a plain
channel, TLS bytes where a PDU was due raise :class:`PeerSpeaksTls`.
"""

from __future__ import annotations

import _thread
import enum
import errno
import os
import select
import socket
import struct
import time

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from . import _tls  # ssl costs 30-50 ms to import: plain runs never pay for it
    from ._turns import Turns


class PduType(enum.IntEnum):
    """The PDU types of the DICOM Upper Layer (PS3.8 9.3.1, table 9-10 and following)."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07

    @property
    def text(self) -> str:
        """As PS3.8 writes it: A-ASSOCIATE-RQ, P-DATA-TF."""
        return self.name.replace("_", "-")


PDU_TYPES = {pdu_type.value: pdu_type.text for pdu_type in PduType}
# PDUs whose length is fixed by PS3.8 (tables 9-21, 9-24, 9-25, 9-26): 4 bytes after the header.
FIXED_LENGTHS = {PduType.A_ASSOCIATE_RJ: 4, PduType.A_RELEASE_RQ: 4, PduType.A_RELEASE_RP: 4, PduType.A_ABORT: 4}
# Nothing an SCP sends in answer to a C-ECHO association needs more than this
# outside P-DATA; P-DATA is capped by the max PDU we offered.
CONTROL_PDU_CAP = 1 << 20
UNLIMITED_PDATA_CAP = 1 << 24
_HEADER = struct.Struct(">BBL")
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


# -- taking turns --------------------------------------------------------------------------
# The many-target path (echo_many.run_many) runs its associations on threads that take turns
# at running Python (_turns.Turns): a thread holds its pool's turn while it runs and gives it
# away only while it waits. A wait on the channel's socket goes to the pool (Turns.wait_for);
# every other wait of a run (resolve, TLS handshake and reads, retry sleep) is wrapped in
# waiting(). A thread outside a pool has no turn: its waits are plain polls and waiting() does
# nothing for it, so a single run (the script, the module with `host`) never loads _turns.
_TURNS: dict[int, Turns] = {}  # thread ident -> the turns of the pool the thread runs in


class waiting:  # noqa: N801 - a statement: ``with waiting():``
    """``with waiting():`` around a call that waits on the network (or sleeps): the thread's turn,
    if it takes turns, is another thread's meanwhile. Nested, the inner one does nothing."""

    __slots__ = ("turns",)

    def __enter__(self) -> None:
        self.turns = _TURNS.pop(_thread.get_ident(), None)
        if self.turns is not None:
            self.turns.give()

    def __exit__(self, *exc_info: object) -> None:
        if self.turns is not None:
            self.turns.take()
            _TURNS[_thread.get_ident()] = self.turns


class ChannelError(Exception):
    """Base of everything the channel raises; the text is one line for users."""


class WaitExpired(ChannelError):
    """A bounded wait ran out; ``cause`` says which bound (acse, dimse, connect, deadline)."""

    def __init__(self, cause: str, seconds: float | None) -> None:
        super().__init__(f"{cause} timeout")
        self.cause = cause
        self.seconds = seconds


class PeerClosed(ChannelError):
    """The peer closed (FIN) or reset (RST) the connection."""

    def __init__(self, reset: bool, mid_pdu: bool) -> None:
        how = "reset" if reset else "closed"
        super().__init__(f"the peer {how} the connection" + (" in the middle of a PDU" if mid_pdu else ""))
        self.reset = reset
        self.mid_pdu = mid_pdu


class NotDicom(ChannelError):
    """The peer sent bytes that cannot be a DICOM Upper Layer PDU."""


class PeerSpeaksTls(NotDicom):
    """A plain channel got a TLS record where a PDU was due: the port speaks DICOM TLS."""


class TlsFailed(ChannelError):
    """The TLS session failed after the handshake; ``error`` is the :class:`_tls.TlsError`."""

    def __init__(self, error: _tls.TlsError) -> None:
        super().__init__(str(error))
        self.error = error


class ConnectFailed(ChannelError):
    """TCP could not be set up; ``kind`` is refused, unreachable or timeout."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class Wait:
    """An absolute monotonic limit and the name of the bound that set it."""

    __slots__ = ("cause", "seconds", "until")

    def __init__(self, until: float | None, cause: str, seconds: float | None) -> None:
        self.until = until
        self.cause = cause
        self.seconds = seconds

    @classmethod
    def of(cls, seconds: float | None, cause: str, deadline: float | None) -> Wait:
        """The tighter of ``seconds`` from now and the run's absolute ``deadline``."""
        until = None if seconds is None else time.monotonic() + seconds
        if deadline is not None and (until is None or deadline < until):
            return cls(deadline, "deadline", seconds)
        return cls(until, cause, seconds)

    def remaining(self) -> float | None:
        if self.until is None:
            return None
        left = self.until - time.monotonic()
        if left <= 0:
            raise WaitExpired(self.cause, self.seconds)
        return left


def preview(data: bytes) -> str:
    """A short printable rendering of unexpected bytes for a one-line message."""
    text = data[:32].decode("latin-1")
    shown = "".join(c if 32 <= ord(c) < 127 else "." for c in text)
    return repr(shown) + ("..." if len(data) > 32 else "")


def article(name: str) -> str:
    """``name`` with "a" or "an", as it is read aloud (an A-ABORT, a P-DATA-TF)."""
    return ("an " if name[:1].upper() in "AEFHILMNORSX" else "a ") + name


def _describe_gai(exc: socket.gaierror) -> str:
    return exc.strerror or str(exc)


def resolve(host: str, port: int, wait: Wait) -> list[tuple[t.Any, ...]]:
    """getaddrinfo, bounded by ``wait`` (the resolver has no timeout of its own)."""
    def lookup() -> list[tuple[t.Any, ...]]:
        # An ASCII name as bytes: a str would be encoded with the idna codec, whose import
        # (stringprep, unicodedata) costs more than the lookup; validation bounds the labels.
        name = host.encode("ascii") if host.isascii() else host
        return socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)

    if _is_literal(host):
        try:
            return lookup()
        except socket.gaierror as exc:
            raise ConnectFailed("unreachable", f"cannot use address {host}: {_describe_gai(exc)}") from None
    # Only a host name needs the thread (and the ~15 ms of importing threads and futures).
    import concurrent.futures
    import threading

    # A plain daemon thread: an executor's shutdown would wait for a hung resolver.
    future: concurrent.futures.Future[list[tuple[t.Any, ...]]] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(lookup())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            future.set_exception(exc)

    threading.Thread(target=run, name="dicom-resolve", daemon=True).start()
    try:
        with waiting():
            return future.result(timeout=wait.remaining())
    except concurrent.futures.TimeoutError:
        raise WaitExpired(wait.cause, wait.seconds) from None
    except socket.gaierror as exc:
        raise ConnectFailed("unreachable", f"cannot resolve host name {host!r}: {_describe_gai(exc)}") from None
    except (OSError, UnicodeError) as exc:
        raise ConnectFailed("unreachable", f"cannot resolve host name {host!r}: {exc}") from None


def _is_literal(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.split("%", 1)[0])
        return True
    except OSError:
        return False


_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.ENETDOWN}


def connect(addresses: list[tuple[t.Any, ...]], wait: Wait) -> socket.socket:
    """Connect to the first address that answers, like ``socket.create_connection``."""
    last: ConnectFailed | None = None
    for family, kind, proto, _canon, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            turns = _TURNS.get(_thread.get_ident())
            if turns is None:
                sock.settimeout(wait.remaining())
                sock.connect(sockaddr)
            else:
                _connect_taking_turns(sock, sockaddr, wait, turns)
        except TimeoutError:
            sock.close()
            raise WaitExpired(wait.cause, wait.seconds) from None
        except OSError as exc:
            sock.close()
            where = f"{sockaddr[0]} port {sockaddr[1]}"
            if exc.errno in _REFUSED:
                last = ConnectFailed("refused", f"connection refused by {where} (nothing listens there)")
            elif exc.errno in _UNREACHABLE:
                last = ConnectFailed("unreachable", f"{where} is unreachable: {exc.strerror}")
            else:
                last = ConnectFailed("unreachable", f"cannot connect to {where}: {exc.strerror or exc}")
            continue
        except WaitExpired:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or ConnectFailed("unreachable", "the host name resolved to no address")


def _connect_taking_turns(sock: socket.socket, sockaddr: t.Any, wait: Wait, turns: Turns) -> None:
    """``sock.connect`` without blocking: the thread waits for the socket like any other wait
    of the pool, and leaves the socket as the blocking connect would (timeout mode)."""
    remaining = wait.remaining()
    sock.setblocking(False)
    code = sock.connect_ex(sockaddr)
    if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
        if not turns.wait_for(sock.fileno(), select.POLLOUT, wait.until):
            raise TimeoutError
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, os.strerror(code))
    sock.settimeout(remaining)


class PduChannel:
    """Whole PDUs over one connected socket.

    A plain socket is read and written without blocking, every wait a ``poll()`` bounded by
    what is left of the :class:`Wait`: a timeout socket costs an ioctl per ``settimeout``
    and a poll before every recv, where a PDU that has already arrived costs one recv here
    (the many-target path runs ~10 reads and writes per association). A TLS socket stays a
    timeout socket: ssl may hold decrypted bytes that poll cannot see, and a read may need
    a write.
    """

    def __init__(self, sock: socket.socket, tls: _tls.TlsSettings | None = None) -> None:
        self.sock = sock
        self.peer_address: str = _peer_name(sock)
        self.tls = tls
        self.received = False  # any byte from the peer yet (TLS 1.3: the first read tells)
        self._poller: t.Any = None
        if tls is None and hasattr(select, "poll"):
            sock.setblocking(False)
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)

    def _tls_failure(self, exc: BaseException | None) -> None:
        """Raise TlsFailed when ``exc`` (None: a clean close) is a TLS failure."""
        if self.tls is None:
            return
        from . import _tls

        if exc is None:
            error = None if self.received else _tls.closed_after_certificate_request(self.sock, self.tls)
        else:
            error = _tls.classify_read_error(exc, self.sock, self.tls, first_read=not self.received)
        if error is not None:
            raise TlsFailed(error) from None

    def _await(self, event: int, wait: Wait) -> None:
        """Until the (non-blocking) socket is ready for ``event``, at most what is left of ``wait``."""
        remaining = wait.remaining()  # raises WaitExpired once it has run out
        turns = _TURNS.get(_thread.get_ident())
        if turns is not None:
            ready = turns.wait_for(self.sock.fileno(), event, wait.until)
        else:
            self._poller.modify(self.sock, event)
            # poll() takes milliseconds; EINTR is retried with the time left (PEP 475).
            ready = self._poller.poll(None if remaining is None else remaining * 1000.0)
        if not ready:
            raise WaitExpired(wait.cause, wait.seconds)

    def send(self, pdu: bytes, wait: Wait) -> None:
        try:
            if self._poller is None:
                self.sock.settimeout(wait.remaining())
                with waiting():
                    self.sock.sendall(pdu)
                return
            wait.remaining()  # an expired wait sends nothing, as settimeout would refuse
            view = memoryview(pdu)
            while view:
                try:
                    view = view[self.sock.send(view):]
                except BlockingIOError:
                    self._await(select.POLLOUT, wait)
        except TimeoutError:
            raise WaitExpired(wait.cause, wait.seconds) from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._tls_failure(exc)
            raise PeerClosed(isinstance(exc, ConnectionResetError), False) from None
        except OSError as exc:
            self._tls_failure(exc)
            raise PeerClosed(True, False) from exc

    def receive(self, wait: Wait, pdata_cap: int) -> tuple[PduType, bytes]:
        """Read one PDU; return its type and its whole encoding (header included)."""
        # The 6-byte header (PS3.8 9.3.1) in as few reads as the peer allows, its type
        # byte judged as soon as it is there (a peer that is not DICOM may send no more).
        header = bytearray(_HEADER.size)
        got = self._recv_into(memoryview(header), wait, mid_pdu=False)
        if header[0] not in PDU_TYPES:
            more = bytes(header[:got]) + self._peek()
            if self.tls is None:
                from . import _tls

                if _tls.looks_like_tls(more):
                    raise PeerSpeaksTls(_tls.PEER_SPEAKS_TLS_TEXT)
            raise NotDicom(f"the peer answered with bytes that are not DICOM: {preview(more)}")
        pdu_type = PduType(header[0])
        if got < len(header):
            self._read_into(memoryview(header)[got:], wait)
        _type, _reserved, length = _HEADER.unpack(header)
        fixed = FIXED_LENGTHS.get(pdu_type)
        if fixed is not None and length != fixed:
            raise NotDicom(
                f"the peer sent {article(pdu_type.text)} PDU of {length} bytes where PS3.8 fixes {fixed}"
                f" (not DICOM?: {preview(bytes(header) + self._peek())})"
            )
        # The cap is checked before the body is read, or its buffer allocated.
        cap = pdata_cap if pdu_type == PduType.P_DATA_TF else CONTROL_PDU_CAP
        if length > cap:
            raise NotDicom(
                f"the peer declared {article(pdu_type.text)} PDU of {length} bytes, more than the {cap} accepted"
            )
        pdu = bytearray(len(header) + length)
        pdu[:len(header)] = header
        if length:
            self._read_into(memoryview(pdu)[len(header):], wait)
        return pdu_type, bytes(pdu)

    def _read_into(self, view: memoryview, wait: Wait) -> None:
        """Fill ``view``: the rest of a PDU whose first bytes have arrived."""
        while view:
            view = view[self._recv_into(view, wait, mid_pdu=True):]

    def _recv_into(self, view: memoryview, wait: Wait, mid_pdu: bool) -> int:
        """One read of at most ``len(view)`` bytes, at least one: how many came."""
        try:
            if self._poller is None:
                self.sock.settimeout(wait.remaining())
                with waiting():
                    n = self.sock.recv_into(view)
                self._quickack()
            else:
                wait.remaining()  # a peer trickling bytes does not extend the wait
                while True:
                    try:
                        n = self.sock.recv_into(view)
                        break
                    except BlockingIOError:
                        if mid_pdu:
                            self._quickack()
                        self._await(select.POLLIN, wait)
        except TimeoutError:
            raise WaitExpired(wait.cause, wait.seconds) from None
        except ConnectionResetError as exc:
            self._tls_failure(exc)
            raise PeerClosed(True, mid_pdu) from None
        except OSError as exc:  # ssl.SSLError included
            self._tls_failure(exc)
            raise PeerClosed(True, mid_pdu) from exc
        if n == 0:
            self._tls_failure(None)
            raise PeerClosed(False, mid_pdu)
        self.received = True
        return n

    def _quickack(self) -> None:
        # A delayed ACK costs 40 ms per echo against peers that write a PDU in two parts
        # and hold the second for our ACK (Nagle): acknowledge at once what has come, when
        # we are about to wait for the rest (a plain socket knows when; TLS after each read).
        if _QUICKACK is not None:
            try:
                self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                pass

    def _peek(self) -> bytes:
        """Whatever else is already there, for a readable error message."""
        try:
            if self._poller is None:
                self.sock.settimeout(0.05)
                with waiting():
                    return self.sock.recv(64)
            self._await(select.POLLIN, Wait.of(0.05, "peek", None))
            return self.sock.recv(64)
        except (OSError, WaitExpired):
            return b""

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _peer_name(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""
