# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""A TCP channel that moves whole DICOM Upper Layer PDUs, every wait bounded.

pynetdicom's own transport blocks in ``recv`` with no timeout once connected,
trusts the PDU length a peer declares, and polls in a reactor thread. Here a
read or a write is a step of a run, which yields its waits to whoever drives the
run (drive, below, or the many-target loop): each read is bounded by the deadline of the wait it
belongs to (so a peer trickling bytes cannot extend it), a PDU's declared
length is checked against a cap before any byte of its body is read, and the
first byte is checked to be a PDU type so a non-DICOM peer is named at once.
With DICOM TLS the socket is an ``ssl.SSLSocket`` (the engine wraps it after connect):
an error on it is asked whether it is a TLS failure (under TLS 1.3 a refused client
certificate only shows at the first read) and raised as :class:`TlsFailed`. On a plain
channel, TLS bytes where a PDU was due raise :class:`PeerSpeaksTls`.
"""

from __future__ import annotations

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


# -- waits -----------------------------------------------------------------------------------
# A run is written as one linear generator (open, associate, echo, leave): every time it must
# wait for the network it yields (fd, events, until) and is resumed with True once ``fd`` is
# ready for ``events`` (select.POLLIN or POLLOUT), or with False once the monotonic time
# ``until`` has passed (None: no limit). An fd of -1 is a pure sleep until ``until``.
# Who resumes it decides how runs share the process: drive() polls the one descriptor a
# single run waits for (the script, the module with `host`); _loop.run_all polls the
# descriptors of every run of the many-target path at once, on one thread. What blocks in
# another way (a host name lookup, a TLS probe) runs on a thread of its own (in_thread), and
# the run waits for that thread like for a socket.
POLLIN = getattr(select, "POLLIN", 1)
POLLOUT = getattr(select, "POLLOUT", 4)
HAS_POLL = hasattr(select, "poll")

if TYPE_CHECKING:
    WaitFor: t.TypeAlias = "tuple[int, int, float | None]"
    Steps: t.TypeAlias = "t.Generator[WaitFor, bool, t.Any]"


def wait_once(fd: int, events: int, until: float | None) -> bool:
    """Block until ``fd`` is ready for ``events`` (True) or ``until`` has passed (False)."""
    timeout = None if until is None else max(until - time.monotonic(), 0.0)
    if fd < 0:
        if timeout is None:
            raise ValueError("a sleep without an end")
        time.sleep(timeout)
        return False
    if HAS_POLL:
        poller = select.poll()
        poller.register(fd, events)
        # poll() takes milliseconds; EINTR is retried with the time left (PEP 475).
        return bool(poller.poll(None if timeout is None else timeout * 1000.0))
    readable, writable, _errors = select.select(
        [fd] if events & POLLIN else [], [fd] if events & POLLOUT else [], [], timeout)
    return bool(readable or writable)


def drive(steps: Steps) -> t.Any:
    """Run ``steps`` to its end on this thread, each of its waits a blocking wait; its value."""
    try:
        wait_for = next(steps)
        while True:
            wait_for = steps.send(wait_once(*wait_for))
    except StopIteration as stop:
        return stop.value


def in_thread(call: t.Callable[[], t.Any], wait: Wait | None) -> Steps:
    """Run ``call`` on a daemon thread of its own and wait for it like for a socket, at most
    what is left of ``wait`` (None: until it ends): its value, or what it raised. Past the
    wait, WaitExpired is raised and the thread is left to end on its own (a resolver has no
    timeout of its own)."""
    import threading  # ~5 ms: only runs that look up a name or probe for TLS import it

    read_end, write_end = os.pipe()
    outcome: list[t.Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting run
            outcome.append((False, exc))
        finally:
            # The thread owns the write end and the waiter the read end: neither closes the
            # other's (a closed number may already be a new socket's).
            try:
                os.write(write_end, b"\0")
            except OSError:  # the waiter has given up and closed its end
                pass
            os.close(write_end)

    try:
        try:
            threading.Thread(target=run, name="dicom-wait", daemon=True).start()
        except RuntimeError:  # "can't start new thread" (a process or memory limit): here, then
            os.close(write_end)
            return call()
        if wait is not None:
            wait.remaining()  # raises WaitExpired once it has run out
        if not (yield (read_end, POLLIN, None if wait is None else wait.until)):
            raise WaitExpired(wait.cause, wait.seconds)  # type: ignore[union-attr]  # no limit: never False
    finally:
        os.close(read_end)
    done, value = outcome[0]
    if not done:
        raise value
    return value


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


def resolve(host: str, port: int, wait: Wait) -> Steps:
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
    # Only a host name needs a thread: the lookup blocks, and other runs may be waiting too.
    try:
        return (yield from in_thread(lookup, wait))
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


def connect(addresses: list[tuple[t.Any, ...]], wait: Wait) -> Steps:
    """Connect to the first address that answers, like ``socket.create_connection``; the
    socket is left non-blocking."""
    last: ConnectFailed | None = None
    for family, kind, proto, _canon, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            wait.remaining()  # raises WaitExpired once it has run out
            sock.setblocking(False)
            code = sock.connect_ex(sockaddr)
            if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
                if not (yield (sock.fileno(), POLLOUT, wait.until)):
                    raise WaitExpired(wait.cause, wait.seconds)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
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
        except BaseException:  # WaitExpired, or the run closed while it waited
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or ConnectFailed("unreachable", "the host name resolved to no address")


class PduChannel:
    """Whole PDUs over one connected socket.

    A plain socket is read and written without blocking: a PDU that has already arrived
    costs one recv, and when nothing has, the channel yields its wait (see drive) bounded by
    what is left of the :class:`Wait`. A TLS socket stays a timeout socket and blocks the
    thread it runs on: ssl may hold decrypted bytes that poll cannot see, and a read may need
    a write (the many-target path gives each TLS run a thread of its own).
    """

    def __init__(self, sock: socket.socket, tls: _tls.TlsSettings | None = None) -> None:
        self.sock = sock
        self.peer_address: str = _peer_name(sock)
        self.tls = tls
        self.received = False  # any byte from the peer yet (TLS 1.3: the first read tells)
        if tls is None and sock.getblocking():  # connect() leaves it non-blocking already
            sock.setblocking(False)

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

    def _await(self, events: int, wait: Wait) -> Steps:
        """Until the (non-blocking) socket is ready for ``events``, at most what is left of ``wait``."""
        wait.remaining()  # raises WaitExpired once it has run out
        if not (yield (self.sock.fileno(), events, wait.until)):
            raise WaitExpired(wait.cause, wait.seconds)

    def send(self, pdu: bytes, wait: Wait) -> Steps:
        try:
            if self.tls is not None:
                self.sock.settimeout(wait.remaining())
                self.sock.sendall(pdu)
                return
            wait.remaining()  # an expired wait sends nothing, as settimeout would refuse
            view = memoryview(pdu)
            while view:
                try:
                    view = view[self.sock.send(view):]
                except BlockingIOError:
                    yield from self._await(POLLOUT, wait)
        except TimeoutError:
            raise WaitExpired(wait.cause, wait.seconds) from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._tls_failure(exc)
            raise PeerClosed(isinstance(exc, ConnectionResetError), False) from None
        except OSError as exc:
            self._tls_failure(exc)
            raise PeerClosed(True, False) from exc

    def receive(self, wait: Wait, pdata_cap: int) -> Steps:
        """Read one PDU; return its type and its whole encoding (header included)."""
        # The 6-byte header (PS3.8 9.3.1) in as few reads as the peer allows, its type
        # byte judged as soon as it is there (a peer that is not DICOM may send no more).
        header = bytearray(_HEADER.size)
        got = yield from self._recv_into(memoryview(header), wait, mid_pdu=False)
        if header[0] not in PDU_TYPES:
            more = bytes(header[:got]) + (yield from self._peek())
            if self.tls is None:
                from . import _tls

                if _tls.looks_like_tls(more):
                    raise PeerSpeaksTls(_tls.PEER_SPEAKS_TLS_TEXT)
            raise NotDicom(f"the peer answered with bytes that are not DICOM: {preview(more)}")
        pdu_type = PduType(header[0])
        if got < len(header):
            yield from self._read_into(memoryview(header)[got:], wait)
        _type, _reserved, length = _HEADER.unpack(header)
        fixed = FIXED_LENGTHS.get(pdu_type)
        if fixed is not None and length != fixed:
            more = bytes(header) + (yield from self._peek())
            raise NotDicom(
                f"the peer sent {article(pdu_type.text)} PDU of {length} bytes where PS3.8 fixes {fixed}"
                f" (not DICOM?: {preview(more)})"
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
            yield from self._read_into(memoryview(pdu)[len(header):], wait)
        return pdu_type, bytes(pdu)

    def _read_into(self, view: memoryview, wait: Wait) -> Steps:
        """Fill ``view``: the rest of a PDU whose first bytes have arrived."""
        while view:
            view = view[(yield from self._recv_into(view, wait, mid_pdu=True)):]

    def _recv_into(self, view: memoryview, wait: Wait, mid_pdu: bool) -> Steps:
        """One read of at most ``len(view)`` bytes, at least one: how many came."""
        try:
            if self.tls is not None:
                self.sock.settimeout(wait.remaining())
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
                        yield from self._await(POLLIN, wait)
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

    def _peek(self) -> Steps:
        """Whatever else is already there, for a readable error message."""
        try:
            if self.tls is not None:
                self.sock.settimeout(0.05)
                return self.sock.recv(64)
            yield from self._await(POLLIN, Wait.of(0.05, "peek", None))
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
