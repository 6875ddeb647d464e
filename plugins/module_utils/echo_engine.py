# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The C-ECHO engine: one association, ``repeat`` echoes, release or abort.

:func:`run_echo` never raises for anything a peer or the network does, and
never waits past the timeouts of the request: every outcome is an
:class:`EchoResult` with a verdict and a one-line reason. The run itself is
:func:`echo_steps`, a generator that yields each of its waits: run_echo drives it on
the calling thread, the many-target path drives many at once (echo_many).
"""

from __future__ import annotations

import time

from . import _dul_codec as codec
from ._pdu_channel import (
    UNLIMITED_PDATA_CAP,
    ChannelError,
    ConnectFailed,
    NotDicom,
    PduChannel,
    PduType,
    PeerClosed,
    PeerSpeaksTls,
    TlsFailed,
    Wait,
    WaitExpired,
    article,
    connect,
    drive,
    in_thread,
    resolve,
)
from .echo_request import EchoRequest, RequestError, identity_type, validate
from .echo_result import (
    ABORTED,
    ACCEPTED,
    PROTOCOL_ERROR,
    REFUSED,
    REJECTED,
    TIMEOUT,
    TLS_ERROR,
    UNREACHABLE,
    EchoResult,
    Failure,
    hint_for,
)

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from . import _tls, _user_identity  # ssl costs 30-50 ms to import: only TLS runs pay for it
    from ._pdu_channel import Steps

# logging is imported when there is something to log (an internal error): it costs ~5 ms.
LOG_NAME = "dicom.network.echo"

# Short grace for what we send while leaving (A-ABORT): never worth a long wait.
_GOODBYE_SECONDS = 1.0
# How long past an expired deadline we still try to hand the peer that A-ABORT.
_GOODBYE_PAST_DEADLINE = 0.2
# What we sent that a rejection for these reasons is about (PS3.8 table 9-21): facts for
# msg. What to check is the hint's (_hints), which knows a reason is evidence, not proof.
_REJECT_SENT = {
    (1, 1): "we sent calling AE title {calling!r}, called AE title {called!r}",
    (1, 3): "we sent calling AE title {calling!r}",
    (1, 7): "we sent called AE title {called!r}, calling AE title {calling!r}",
}


# How long a plain association that the peer closed at once may spend asking the port,
# on a second connection, whether it speaks TLS (for a message that says so).
_TLS_PROBE_SECONDS = 2.0
UNVERIFIED_WARNING = ("TLS: the peer's certificate was not verified (-ic / tls_verify: false): the peer is not "
                      "authenticated, its certificate is reported as it was shown")


def tls_settings(request: EchoRequest) -> _tls.TlsSettings | None:
    """The TLS settings of a request, or None for plain DICOM."""
    if not request.tls:
        return None
    from . import _tls

    ca = request.tls_ca_file
    return _tls.TlsSettings(
        ca_files=() if ca is None else ((ca,) if isinstance(ca, str) else tuple(ca)),
        ca_path=request.tls_ca_path,
        cert_file=request.tls_cert_file,
        key_file=request.tls_key_file,
        key_password=request.tls_key_password,
        verify=request.tls_verify,
        server_name=request.tls_server_name,
        min_version=request.tls_min_version,
    )


def _read_token(path: str, kind: str, name: str) -> bytes:
    # A Kerberos ticket, SAML assertion or JWT fits in a user identity item (PS3.8 table D.3-14).
    from ._user_identity import MAX_FIELDS as max_bytes

    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise RequestError(name, f"cannot read {path}: {exc.strerror or exc}") from None
    if kind in ("saml", "jwt"):
        data = data.rstrip(b"\r\n")  # text formats: the file's final newline is not part of it
    if not data:
        raise RequestError(name, f"{path} is empty")
    if len(data) > max_bytes:
        raise RequestError(name, f"{path} is larger than the {max_bytes} bytes a user identity can carry")
    return data


def user_identity(request: EchoRequest, names: t.Mapping[str, str] | None = None) -> _user_identity.Identity | None:
    """The user identity a (validated) request sends, or None; reads the token file."""
    names = names or {}
    kind = identity_type(request)
    if kind is None:
        return None
    # Loaded only for a run that sends an identity, like _tls for a TLS run.
    from . import _user_identity

    if kind in ("username", "username_password"):
        primary = str(request.username).encode("utf-8")  # PS3.7 D.3.3.7.1: UTF-8
        secondary = None if kind == "username" else str(request.password).encode("utf-8")
    elif request.identity_token is not None:
        primary, secondary = request.identity_token.encode("utf-8"), None
    else:
        field = "identity_token_file"
        primary = _read_token(str(request.identity_token_file), kind, names.get(field, field))
        secondary = None
    try:
        return _user_identity.Identity(kind, primary, secondary, request.identity_positive_response)
    except _user_identity.IdentityError as exc:
        field = "identity_token" if kind not in ("username", "username_password") else "username"
        raise RequestError(names.get(field, field), str(exc)) from None


class _Stop(Exception):
    """Ends the run early; the result has already been told why."""


def _ms(start: float, end: float | None = None) -> float:
    return round(((end if end is not None else time.monotonic()) - start) * 1000.0, 3)


def _seconds(value: float | None) -> str:
    return "no limit" if value is None else f"{value:g} s"


class _Run:
    """The state of one run: the request, its result, its channel and its clock."""

    def __init__(self, request: EchoRequest, result: EchoResult, tls: _tls.TlsSettings | None = None,
                 identity: _user_identity.Identity | None = None) -> None:
        self.request = request
        self.result = result
        self.tls = tls
        self.identity = identity
        self.addresses: list[tuple[t.Any, ...]] = []
        self.started = time.monotonic()
        self.deadline = None if request.deadline is None else self.started + request.deadline
        self.channel: PduChannel | None = None
        self.peer_max_pdu: int | None = None

    def wait(self, seconds: float | None, cause: str) -> Wait:
        return Wait.of(seconds, cause, self.deadline)

    def phase(self, name: str) -> None:
        self.result.association["phase"] = name

    def stop(self, failure: Failure, msg: str, result: str | None = None, cause: str | None = None) -> t.NoReturn:
        self.result.fail(failure, msg, result, cause)
        raise _Stop()

    def run(self) -> Steps:
        """Open, associate, echo, leave; whatever happens, the result says what and why."""
        req, res = self.request, self.result
        try:
            yield from self.open()
            yield from self.associate()
            yield from self.echo()
            yield from self.leave()
            if res.failure is None:
                res.ok = True
                count = len(res.echoes)
                res.msg = (
                    f"{count} C-ECHO{'s' if count != 1 else ''} to {req.called_aet} at {req.label}"
                    f" returned Success"
                )
        except _Stop:
            answered = [e for e in res.echoes if e["status"] == 0x0000]
            if res.association["phase"] == "release" and answered and len(answered) == req.repeat:
                res.msg = f"{len(answered)} C-ECHO(s) returned Success, but {res.msg}"
        except codec.BadPdu as exc:
            # PS3.8 9.1.6: an unrecognised PDU is answered with a provider A-ABORT.
            yield from self.send_abort(codec.abort_pdu(2, 1))
            res.fail(self._phase_failure(), f"protocol error {self._where()}: {exc}", PROTOCOL_ERROR)
        except Exception as exc:
            import logging

            logging.getLogger(LOG_NAME).debug("internal error", exc_info=True)
            text = " ".join(str(exc).split())  # one line, whatever the exception says
            res.fail(self._phase_failure(), f"internal error {self._where()}: {type(exc).__name__}: {text}")
        finally:
            self.close()
            res.summarise_echoes()
            res.timing["total_ms"] = _ms(self.started)

    # -- the steps, in order -------------------------------------------------

    def open(self) -> Steps:
        req = self.request
        self.phase("connect")
        begin = time.monotonic()
        wait = self.wait(req.connect_timeout, "connect")
        try:
            addresses = yield from resolve(req.host, req.port, wait)
            sock = yield from connect(addresses, wait)
        except ConnectFailed as exc:
            self.stop(Failure.CONNECT, f"cannot connect: {exc}", REFUSED if exc.kind == "refused" else UNREACHABLE,
                      cause=str(exc))
        except WaitExpired as exc:
            self.stop(Failure.CONNECT, self._expired(exc, f"no TCP connection to {req.label}"), TIMEOUT)
        self.addresses = addresses
        self.result.timing["connect_ms"] = _ms(begin)
        if self.tls is not None:
            sock = self.handshake(sock, self.tls)
        self.channel = PduChannel(sock, self.tls)
        self.result.peer["address"] = self.channel.peer_address or None

    def handshake(self, sock: t.Any, settings: _tls.TlsSettings) -> t.Any:
        """DICOM TLS (PS3.15 annex B) over the connected socket, bounded like the connection."""
        from . import _tls

        req, res = self.request, self.result
        # The facts run() set up for a TLS run; the failure kind is added to them.
        facts: dict[str, t.Any] = res.tls if res.tls is not None else {}
        begin = time.monotonic()
        # Bounded like the connection; with no connect timeout (the script's default), by the
        # ACSE timeout, since the handshake is how the association begins: never unbounded.
        if req.connect_timeout is not None:
            wait = self.wait(req.connect_timeout, "connect")
        else:
            wait = self.wait(req.acse_timeout, "ACSE")
        try:
            # A TLS run blocks its thread (the many-target path gives it one of its own).
            tls = _tls.handshake(sock, settings, req.host, wait,
                                 reconnect=lambda: drive(connect(self.addresses, wait)))
        except _tls.TlsError as exc:
            facts.update(error=exc.kind, peer_certificate=exc.certificate)
            self.stop(Failure.TLS, str(exc), TLS_ERROR, cause=str(exc))
        except WaitExpired as exc:
            facts["error"] = "handshake_timeout"
            self.stop(Failure.TLS, self._expired(exc, f"no TLS handshake with {req.label}") + " (does the peer speak"
                      " TLS on this port?)", TIMEOUT)
        res.timing["tls_ms"] = _ms(begin)
        res.tls = _tls.session_facts(tls, settings.verify)
        if not settings.verify:
            res.warnings.append(UNVERIFIED_WARNING)
        return tls

    def associate(self) -> Steps:
        req, res = self.request, self.result
        self.phase("associate")
        begin = time.monotonic()
        wait = self.wait(req.acse_timeout, "ACSE")
        rq = codec.associate_rq(req)
        if self.identity is not None:
            from . import _user_identity

            # PS3.7 D.3.3.7: the user identity rides in the request's User Information.
            rq = _user_identity.add_to_associate_rq(rq, _user_identity.encode_rq_item(self.identity))
        yield from self._send(rq, wait)
        pdu_type, data = yield from self._receive(wait, "while waiting for A-ASSOCIATE-AC")
        res.timing["associate_ms"] = _ms(begin)
        if pdu_type == PduType.A_ASSOCIATE_RJ:
            self._rejected(codec.parse_rj(data))
        if pdu_type != PduType.A_ASSOCIATE_AC:
            yield from self._unexpected(pdu_type, "an A-ASSOCIATE-AC")
        accepted = codec.parse_ac(data, req)
        res.association["result"] = ACCEPTED
        res.accepted_contexts = accepted.accepted
        res.rejected_contexts = accepted.rejected
        res.peer.update(
            ae_title=accepted.ae_title,
            max_pdu=accepted.max_pdu,
            implementation_class_uid=accepted.implementation_class_uid,
            implementation_version_name=accepted.implementation_version_name,
        )
        self.peer_max_pdu = accepted.max_pdu
        if not accepted.accepted:
            why = "; ".join(sorted({c["result"] for c in accepted.rejected})) or "none proposed"
            res.fail(
                Failure.NO_CONTEXT,
                f"no acceptable presentation context: the peer accepted the association but not Verification"
                f" with {', '.join(req.transfer_syntaxes)} ({why})",
            )
            yield from self.leave()
            raise _Stop()
        if self.identity is not None:
            yield from self.identity_response(data, self.identity)

    def identity_response(self, ac: bytes, identity: _user_identity.Identity) -> Steps:
        """The peer's user identity response (PS3.7 D.3.3.7.2), and the verdict when one was asked for."""
        from . import _user_identity

        res = self.result
        try:
            item = _user_identity.find_in_associate_ac(ac)
            response = _user_identity.parse_ac_item(item) if item is not None else None
        except ValueError as exc:
            yield from self._protocol_error(f"the A-ASSOCIATE-AC carries a malformed user identity response: {exc}")
        res.user_identity = _user_identity.result(identity, response)
        if identity.positive_response and response is None:
            res.fail(
                Failure.ASSOCIATION,
                f"the peer accepted the association without the positive response to our user identity"
                f" ({identity.type}) that was asked for (-rsp / identity_positive_response): it did not confirm"
                f" the identity, so it may not check identities at all",
            )
            yield from self.leave()
            raise _Stop()

    def echo(self) -> Steps:
        req, res = self.request, self.result
        self.phase("echo")
        cap = req.max_pdu or UNLIMITED_PDATA_CAP
        for index in range(req.repeat):
            message_id = index % 65535 + 1
            entry: dict[str, t.Any] = {"message_id": message_id, "status": None, "rtt_ms": None}
            res.echoes.append(entry)
            begin = time.monotonic()
            wait = self.wait(req.dimse_timeout, "DIMSE")
            for pdu in codec.echo_rq_pdus(message_id, self.peer_max_pdu):
                yield from self._send(pdu, wait)
            assembler = codec.ResponseAssembler()
            while True:
                pdu_type, data = yield from self._receive(
                    wait, f"while waiting for the C-ECHO-RSP to message {message_id}", pdata_cap=cap)
                if pdu_type != PduType.P_DATA_TF:
                    yield from self._unexpected(pdu_type, "a C-ECHO-RSP")
                try:
                    response = assembler.feed(data)
                except codec.BadPdu as exc:
                    yield from self._protocol_error(str(exc))
                if response is not None:
                    break
            entry["rtt_ms"] = _ms(begin)
            if response.message_id_responded != message_id:
                # Not an answer to this echo: its status is not this echo's status.
                stray = f" (status {codec.hex_code(response.status)})" if response.status is not None else ""
                yield from self._protocol_error(
                    f"the C-ECHO-RSP answers message ID {response.message_id_responded}, not {message_id}{stray}",
                    failure=Failure.ECHO,
                )
            if not isinstance(response.status, int):
                yield from self._protocol_error(f"the C-ECHO-RSP to message {message_id} carries no status",
                                                failure=Failure.ECHO)
            entry["status"] = response.status
            if response.status != 0x0000 and res.failure is None:
                res.fail(
                    Failure.ECHO,
                    f"C-ECHO {message_id} failed with status 0x{response.status:04X}"
                    f" ({codec.status_text(response.status)})",
                )

    def leave(self) -> Steps:
        """Release (or abort, when asked) an association that is still up."""
        if self.request.abort:
            self.phase("abort")
            yield from self.send_abort(codec.abort_pdu())
            return
        req, res = self.request, self.result
        self.phase("release")
        begin = time.monotonic()
        wait = self.wait(req.acse_timeout, "ACSE")
        yield from self._send(codec.A_RELEASE_RQ_BYTES, wait)
        while True:
            pdu_type, _data = yield from self._receive(wait, "while waiting for A-RELEASE-RP")
            if pdu_type == PduType.A_RELEASE_RP:
                break
            if pdu_type == PduType.A_RELEASE_RQ:
                # Release collision (PS3.8 7.2.2): the requestor answers and keeps waiting.
                yield from self._send(codec.A_RELEASE_RP_BYTES, wait)
                continue
            if pdu_type == PduType.P_DATA_TF:
                continue  # a late P-DATA cannot change the verdict now
            yield from self._unexpected(pdu_type, "an A-RELEASE-RP")
        res.association["released"] = True
        res.timing["release_ms"] = _ms(begin)

    # -- failures --------------------------------------------------------------

    def _send(self, pdu: bytes, wait: Wait) -> Steps:
        if self.channel is None:
            self.stop(self._phase_failure(), f"the connection is already closed {self._where()}", ABORTED)
        try:
            yield from self.channel.send(pdu, wait)
        except WaitExpired as exc:
            self.stop(self._phase_failure(), self._expired(exc, "the peer stopped reading"), TIMEOUT)
        except TlsFailed as exc:
            self._tls_failed(exc)
        except PeerClosed as exc:
            yield from self._speaks_tls(exc)
            self.stop(self._phase_failure(), f"{exc} {self._where()}", ABORTED)

    def _receive(self, wait: Wait, doing: str, pdata_cap: int = 0) -> Steps:
        """The next PDU, as (type, bytes); an A-ABORT or a failure ends the run."""
        if self.channel is None:
            self.stop(self._phase_failure(), f"the connection is already closed {doing}", ABORTED)
        try:
            pdu_type, data = yield from self.channel.receive(
                wait, pdata_cap or self.request.max_pdu or UNLIMITED_PDATA_CAP)
        except WaitExpired as exc:
            yield from self.send_abort(codec.abort_pdu())
            self.stop(self._phase_failure(), self._expired(exc, f"no answer {doing}"), TIMEOUT)
        except TlsFailed as exc:
            self._tls_failed(exc)
        except PeerClosed as exc:
            yield from self._speaks_tls(exc)
            self.stop(self._phase_failure(), f"{exc} {doing}", ABORTED)
        except PeerSpeaksTls as exc:
            self.close()
            self.stop(Failure.TLS, f"TLS: {exc}", TLS_ERROR)
        except NotDicom as exc:
            yield from self._protocol_error(str(exc))
        if pdu_type == PduType.A_ABORT:
            self._aborted(codec.parse_abort(data), doing)
        return pdu_type, data

    def _tls_failed(self, exc: TlsFailed) -> t.NoReturn:
        if self.result.tls is not None:
            self.result.tls["error"] = exc.error.kind
        self.close()
        self.stop(Failure.TLS, str(exc), TLS_ERROR)

    def _speaks_tls(self, exc: PeerClosed) -> Steps:
        """A plain association the peer dropped before answering: ask the port, on a second
        connection, whether it speaks TLS. A DICOM TLS peer (DCMTK, Orthanc, pynetdicom)
        resets plain bytes without a word, so its answer to a ClientHello is the only evidence."""
        if self.tls is not None or exc.mid_pdu or self.result.association["phase"] != "associate":
            return
        if self.channel is not None and self.channel.received:
            return
        from . import _tls

        wait = Wait.of(_TLS_PROBE_SECONDS, "probe", self.deadline)
        try:
            sock = yield from connect(self.addresses, wait)
            # Its handshake blocks (bounded by the same wait): on a thread, others may be waiting too.
            speaks = yield from in_thread(lambda: _tls.probe_speaks_tls(sock, wait), wait)
        except ChannelError:
            return
        if speaks:
            self.close()
            self.stop(Failure.TLS, f"TLS: {exc} at our A-ASSOCIATE-RQ, and it answers a TLS handshake: "
                                   f"{_tls.PEER_SPEAKS_TLS_TEXT}", TLS_ERROR)

    def _phase_failure(self) -> Failure:
        # One rule for the failure class: what broke during the C-ECHO is the echo's
        # failure (exit 7), anything before or after it the association's (exit 6).
        return Failure.ECHO if self.result.association["phase"] == "echo" else Failure.ASSOCIATION

    def _where(self) -> str:
        return {
            "associate": "during association negotiation",
            "echo": "during the C-ECHO",
            "release": "during release",
            "abort": "while aborting",
        }.get(self.result.association["phase"] or "", "")

    def _expired(self, exc: WaitExpired, what: str) -> str:
        if exc.cause == "deadline":
            return f"{what}: the overall deadline of {_seconds(self.request.deadline)} ran out"
        return f"{what} within {_seconds(exc.seconds)} ({exc.cause} timeout)"

    def _rejected(self, rj: codec.Rejection) -> t.NoReturn:
        assoc = self.result.association
        assoc.update(
            reject_result=rj.result, reject_source=rj.source, reject_reason=rj.reason,
            reject_result_text=rj.result_text, reject_source_text=rj.source_text, reject_reason_text=rj.reason_text,
        )
        kind = {1: "permanently", 2: "transiently"}.get(rj.result, f"(result {rj.result})")
        sent = _REJECT_SENT.get((rj.source, rj.reason), "").format(
            calling=self.request.calling_aet, called=self.request.called_aet
        )
        if self.identity is not None:
            # PS3.7 D.3.3.7: an acceptor that does not authenticate the user rejects the
            # association; no reason code says so, hence "may".
            refused = (f"the peer may have refused our user identity ({self.identity.type}): check the account"
                       f" and its {'password' if self.identity.type == 'username_password' else 'credentials'}"
                       f" on the PACS")
            sent = f"{sent}; {refused}" if sent else refused
        self.close()
        self.stop(
            Failure.REJECTED,
            f"association rejected {kind} by the {rj.source_text}: {rj.reason_text}"
            + (f" ({sent})" if sent else "")
            + f" [result {rj.result}, source {rj.source}, reason {rj.reason}]",
            REJECTED,
        )

    def _aborted(self, abort: codec.Abort, doing: str) -> t.NoReturn:
        assoc = self.result.association
        assoc.update(
            aborted_by="peer", abort_source=abort.source, abort_reason=abort.reason,
            abort_source_text=abort.source_text, abort_reason_text=abort.reason_text,
        )
        self.close()
        self.stop(
            self._phase_failure(),
            f"the peer aborted the association {doing}: A-ABORT from the {abort.source_text}, {abort.reason_text}"
            f" [source {abort.source}, reason {abort.reason}]",
            ABORTED,
        )

    def _unexpected(self, pdu_type: PduType, wanted: str) -> Steps:
        yield from self._protocol_error(f"the peer sent {article(pdu_type.text)} where {wanted} was due")

    def _protocol_error(self, text: str, failure: Failure | None = None) -> Steps:
        """Ends the run (it never returns)."""
        # PS3.8 9.1.6: an unrecognised or unexpected PDU is answered with a provider A-ABORT.
        yield from self.send_abort(codec.abort_pdu(2, 2))
        self.stop(failure or self._phase_failure(), f"protocol error {self._where()}: {text}", PROTOCOL_ERROR)

    def send_abort(self, pdu: bytes) -> Steps:
        """Send an A-ABORT (``pdu``) and close: how we leave an association we give up on."""
        if self.channel is None:
            return
        self.result.association["aborted_by"] = "us"
        # Not bounded by the run's deadline: when the deadline is what ended the run
        # it has already passed, and the peer must still be told. An A-ABORT is 10
        # bytes a live socket takes at once; a short grace past the deadline bounds it.
        seconds = _GOODBYE_SECONDS
        if self.deadline is not None:
            seconds = min(seconds, max(self.deadline - time.monotonic(), 0.0) + _GOODBYE_PAST_DEADLINE)
        try:
            yield from self.channel.send(pdu, Wait.of(seconds, "abort", None))
        except ChannelError:
            pass
        self.close()

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None


def _label(request: EchoRequest) -> str:
    """The request's label, even for a request that validation is about to refuse (host=None...)."""
    try:
        return str(request.label)
    except Exception:  # noqa: BLE001 - any field may be of any type before validation
        return f"{request.host}:{request.port}"


def run_echo(request: EchoRequest, names: t.Mapping[str, str] | None = None) -> EchoResult:
    """Validate ``request``, perform it, and return what happened. Never raises."""
    return drive(echo_steps(request, names))


def echo_steps(request: EchoRequest, names: t.Mapping[str, str] | None = None) -> Steps:
    """:func:`run_echo` as steps that yield their waits (see ``_pdu_channel.drive``): the
    many-target path runs many at once on one thread. Its value is the EchoResult."""
    result = EchoResult(name=_label(request), host=str(request.host), port=request.port)
    try:
        request = validate(request, names)
    except RequestError as exc:
        result.fail(Failure.USAGE, str(exc))
        result.hint = hint_for(result.as_dict())
        return result
    # The peer as it is dialled: an IPv6 literal without the brackets the user may have typed,
    # and named with them once ("[::1]:104", not the "[[::1]]:104" of the label as typed).
    result.host = result.peer["host"] = request.host
    result.name = request.label
    if codec.PYNETDICOM_IMPORT_ERROR is not None:
        result.fail(Failure.USAGE, f"pynetdicom is not installed: {codec.PYNETDICOM_IMPORT_ERROR}")
    else:
        yield from _secured_run(request, result, names)
    if result.ok is False and result.failure is None:  # pragma: no cover - defensive
        result.fail(Failure.ASSOCIATION, "the run ended without a verdict")
    if not result.ok:
        result.hint = hint_for(result.as_dict(), calling_aet=request.calling_aet, called_aet=request.called_aet)
    return result


def _secured_run(request: EchoRequest, result: EchoResult, names: t.Mapping[str, str] | None) -> Steps:
    """Read the TLS files and the identity token, then run; a bad one is a usage error.

    Files, keys and tokens are read before anything goes on the wire: a wrong path or a
    wrong key password is the user's to fix, whatever the peer.
    """
    try:
        identity = user_identity(request, names)
        settings = tls_settings(request)
        if settings is not None:
            from . import _tls

            _tls.client_context(settings)
    except RequestError as exc:
        result.fail(Failure.USAGE, str(exc))
        return
    except ValueError as exc:  # _tls.TlsConfigError: its option as the face spells it
        option = getattr(exc, "option", None)
        detail = getattr(exc, "detail", str(exc))
        result.fail(Failure.USAGE, f"{(names or {}).get(option, option)}: {detail}" if option else str(exc))
        return
    # Used, and filled as far as the run gets.
    if settings is not None:
        result.tls = {"version": None, "cipher": None, "peer_certificate": None, "verified": None, "error": None}
    if identity is not None:
        result.user_identity = {"type": identity.type, "positive_response_requested": identity.positive_response,
                                "positive_response": None}
    yield from _Run(request, result, settings, identity).run()
