# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The C-ECHO engine: one association, ``repeat`` echoes, release or abort.

:func:`run_echo` never raises for anything a peer or the network does, and
never waits past the timeouts of the request: every outcome is an
:class:`EchoResult` with a verdict and a one-line reason.
"""

from __future__ import annotations

import logging
import time
import typing as t

from . import _dul_codec as codec
from ._hints import hint_for
from ._pdu_channel import (
    UNLIMITED_PDATA_CAP,
    ChannelError,
    ConnectFailed,
    NotDicom,
    PduChannel,
    PduType,
    PeerClosed,
    Wait,
    WaitExpired,
    article,
    connect,
    resolve,
)
from .echo_request import EchoRequest, RequestError, validate
from .echo_result import (
    ABORTED,
    ACCEPTED,
    PROTOCOL_ERROR,
    REFUSED,
    REJECTED,
    TIMEOUT,
    UNREACHABLE,
    EchoResult,
    Failure,
)

LOG = logging.getLogger("dicom.network.echo")

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


class _Stop(Exception):
    """Ends the run early; the result has already been told why."""


def _ms(start: float, end: float | None = None) -> float:
    return round(((end if end is not None else time.monotonic()) - start) * 1000.0, 3)


def _seconds(value: float | None) -> str:
    return "no limit" if value is None else f"{value:g} s"


class _Run:
    """The state of one run: the request, its result, its channel and its clock."""

    def __init__(self, request: EchoRequest, result: EchoResult) -> None:
        self.request = request
        self.result = result
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

    def run(self) -> None:
        """Open, associate, echo, leave; whatever happens, the result says what and why."""
        req, res = self.request, self.result
        try:
            self.open()
            self.associate()
            self.echo()
            self.leave()
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
            self.send_abort(codec.abort_pdu(2, 1))
            res.fail(self._phase_failure(), f"protocol error {self._where()}: {exc}", PROTOCOL_ERROR)
        except Exception as exc:
            LOG.debug("internal error", exc_info=True)
            text = " ".join(str(exc).split())  # one line, whatever the exception says
            res.fail(self._phase_failure(), f"internal error {self._where()}: {type(exc).__name__}: {text}")
        finally:
            self.close()
            res.summarise_echoes()
            res.timing["total_ms"] = _ms(self.started)

    # -- the steps, in order -------------------------------------------------

    def open(self) -> None:
        req = self.request
        self.phase("connect")
        begin = time.monotonic()
        wait = self.wait(req.connect_timeout, "connect")
        try:
            addresses = resolve(req.host, req.port, wait)
            sock = connect(addresses, wait)
        except ConnectFailed as exc:
            self.stop(Failure.CONNECT, f"cannot connect: {exc}", REFUSED if exc.kind == "refused" else UNREACHABLE,
                      cause=str(exc))
        except WaitExpired as exc:
            self.stop(Failure.CONNECT, self._expired(exc, f"no TCP connection to {req.label}"), TIMEOUT)
        self.channel = PduChannel(sock)
        self.result.peer["address"] = self.channel.peer_address or None
        self.result.timing["connect_ms"] = _ms(begin)

    def associate(self) -> None:
        req, res = self.request, self.result
        self.phase("associate")
        begin = time.monotonic()
        wait = self.wait(req.acse_timeout, "ACSE")
        self._send(codec.associate_rq(req), wait)
        pdu_type, data = self._receive(wait, "while waiting for A-ASSOCIATE-AC")
        res.timing["associate_ms"] = _ms(begin)
        if pdu_type == PduType.A_ASSOCIATE_RJ:
            self._rejected(codec.parse_rj(data))
        if pdu_type != PduType.A_ASSOCIATE_AC:
            self._unexpected(pdu_type, "an A-ASSOCIATE-AC")
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
            self.leave()
            raise _Stop()

    def echo(self) -> None:
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
                self._send(pdu, wait)
            assembler = codec.ResponseAssembler()
            while True:
                pdu_type, data = self._receive(wait, f"while waiting for the C-ECHO-RSP to message {message_id}",
                                               pdata_cap=cap)
                if pdu_type != PduType.P_DATA_TF:
                    self._unexpected(pdu_type, "a C-ECHO-RSP")
                try:
                    response = assembler.feed(data)
                except codec.BadPdu as exc:
                    self._protocol_error(str(exc))
                if response is not None:
                    break
            entry["rtt_ms"] = _ms(begin)
            if response.message_id_responded != message_id:
                # Not an answer to this echo: its status is not this echo's status.
                stray = f" (status {codec.hex_code(response.status)})" if response.status is not None else ""
                self._protocol_error(
                    f"the C-ECHO-RSP answers message ID {response.message_id_responded}, not {message_id}{stray}",
                    failure=Failure.ECHO,
                )
            if not isinstance(response.status, int):
                self._protocol_error(f"the C-ECHO-RSP to message {message_id} carries no status", failure=Failure.ECHO)
            entry["status"] = response.status
            if response.status != 0x0000 and res.failure is None:
                res.fail(
                    Failure.ECHO,
                    f"C-ECHO {message_id} failed with status 0x{response.status:04X}"
                    f" ({codec.status_text(response.status)})",
                )

    def leave(self) -> None:
        """Release (or abort, when asked) an association that is still up."""
        if self.request.abort:
            self.phase("abort")
            self.send_abort(codec.abort_pdu())
            return
        req, res = self.request, self.result
        self.phase("release")
        begin = time.monotonic()
        wait = self.wait(req.acse_timeout, "ACSE")
        self._send(codec.A_RELEASE_RQ_BYTES, wait)
        while True:
            pdu_type, _data = self._receive(wait, "while waiting for A-RELEASE-RP")
            if pdu_type == PduType.A_RELEASE_RP:
                break
            if pdu_type == PduType.A_RELEASE_RQ:
                # Release collision (PS3.8 7.2.2): the requestor answers and keeps waiting.
                self._send(codec.A_RELEASE_RP_BYTES, wait)
                continue
            if pdu_type == PduType.P_DATA_TF:
                continue  # a late P-DATA cannot change the verdict now
            self._unexpected(pdu_type, "an A-RELEASE-RP")
        res.association["released"] = True
        res.timing["release_ms"] = _ms(begin)

    # -- failures --------------------------------------------------------------

    def _send(self, pdu: bytes, wait: Wait) -> None:
        if self.channel is None:
            self.stop(self._phase_failure(), f"the connection is already closed {self._where()}", ABORTED)
        try:
            self.channel.send(pdu, wait)
        except WaitExpired as exc:
            self.stop(self._phase_failure(), self._expired(exc, "the peer stopped reading"), TIMEOUT)
        except PeerClosed as exc:
            self.stop(self._phase_failure(), f"{exc} {self._where()}", ABORTED)

    def _receive(self, wait: Wait, doing: str, pdata_cap: int = 0) -> tuple[PduType, bytes]:
        if self.channel is None:
            self.stop(self._phase_failure(), f"the connection is already closed {doing}", ABORTED)
        try:
            pdu_type, data = self.channel.receive(wait, pdata_cap or self.request.max_pdu or UNLIMITED_PDATA_CAP)
        except WaitExpired as exc:
            self.send_abort(codec.abort_pdu())
            self.stop(self._phase_failure(), self._expired(exc, f"no answer {doing}"), TIMEOUT)
        except PeerClosed as exc:
            self.stop(self._phase_failure(), f"{exc} {doing}", ABORTED)
        except NotDicom as exc:
            self._protocol_error(str(exc))
        if pdu_type == PduType.A_ABORT:
            self._aborted(codec.parse_abort(data), doing)
        return pdu_type, data

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

    def _unexpected(self, pdu_type: PduType, wanted: str) -> t.NoReturn:
        self._protocol_error(f"the peer sent {article(pdu_type.text)} where {wanted} was due")

    def _protocol_error(self, text: str, failure: Failure | None = None) -> t.NoReturn:
        # PS3.8 9.1.6: an unrecognised or unexpected PDU is answered with a provider A-ABORT.
        self.send_abort(codec.abort_pdu(2, 2))
        self.stop(failure or self._phase_failure(), f"protocol error {self._where()}: {text}", PROTOCOL_ERROR)

    def send_abort(self, pdu: bytes) -> None:
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
            self.channel.send(pdu, Wait.of(seconds, "abort", None))
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
        _Run(request, result).run()
    if result.ok is False and result.failure is None:  # pragma: no cover - defensive
        result.fail(Failure.ASSOCIATION, "the run ended without a verdict")
    if not result.ok:
        result.hint = hint_for(result.as_dict(), calling_aet=request.calling_aet, called_aet=request.called_aet)
    return result
