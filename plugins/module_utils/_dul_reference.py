# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""pynetdicom's side of _dul_codec: the same encodings and decodings, done by pynetdicom's
PDU, DIMSE and status classes (the engine's codec before 0.2, unchanged in what it answers).

_dul_codec hands here whatever its fast path does not recognise, and the tests compare
the two on every byte. pynetdicom is imported inside each function, when it is used.
"""

from __future__ import annotations

from ._dul_codec import (
    APPLICATION_CONTEXT_NAME,
    C_ECHO_RSP_COMMAND,
    CONTEXT_ID,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    MAX_RESPONSE_BYTES,
    Abort,
    Acceptance,
    BadPdu,
    EchoResponse,
    Rejection,
    hex_code,
    unanswered_context,
)
from .echo_request import VERIFICATION_SOP_CLASS, EchoRequest

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def _decode(pdu_class: type, data: bytes) -> t.Any:
    pdu = pdu_class()
    try:
        pdu.decode(data)
    except Exception as exc:  # noqa: BLE001 - any decoder fault means a malformed PDU
        raise BadPdu(f"malformed {pdu_class.__name__.replace('_', '-')} PDU ({_fault(exc)})") from None
    return pdu


def _fault(exc: Exception) -> str:
    """A decoder's exception as one short line: its class, and its text when it has one."""
    text = " ".join(str(exc).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _text(getter: t.Callable[[], str], code: int) -> str:
    try:
        text = getter()
    except (ValueError, KeyError):
        text = ""
    if not text or text in ("(no value available)", "Reserved"):
        return f"reserved ({code})"
    return text


def pynetdicom_associate_rq(request: EchoRequest, extra_user_items: t.Sequence[t.Any] = ()) -> bytes:
    """The A-ASSOCIATE-RQ as pynetdicom encodes it (``extra_user_items``: its notification primitives)."""
    from pynetdicom.pdu import A_ASSOCIATE_RQ
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
    )
    from pynetdicom.presentation import build_context

    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT_NAME
    primitive.calling_ae_title = request.calling_aet
    primitive.called_ae_title = request.called_aet
    context = build_context(VERIFICATION_SOP_CLASS, list(request.transfer_syntaxes))
    context.context_id = CONTEXT_ID
    primitive.presentation_context_definition_list = [context]
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = request.max_pdu
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    primitive.user_information = [max_length, class_uid, version, *extra_user_items]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


def encode_echo_rq(message_id: int, peer_max_pdu: int | None) -> list[bytes]:
    """The C-ECHO-RQ as pynetdicom encodes it, as P-DATA-TF PDUs fragmented for the peer's max PDU."""
    from pynetdicom.dimse_messages import C_ECHO_RQ
    from pynetdicom.dimse_primitives import C_ECHO
    from pynetdicom.pdu import P_DATA_TF

    primitive = C_ECHO()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = VERIFICATION_SOP_CLASS
    message = C_ECHO_RQ()
    message.primitive_to_message(primitive)
    out = []
    for p_data in message.encode_msg(CONTEXT_ID, peer_max_pdu or 0):
        pdu = P_DATA_TF()
        pdu.from_primitive(p_data)
        out.append(bytes(pdu.encode()))
    return out


def pynetdicom_parse_ac(data: bytes, request: EchoRequest) -> Acceptance:
    """:func:`parse_ac` done by pynetdicom's classes (the engine's decoder before 0.2)."""
    from pynetdicom.pdu import A_ASSOCIATE_AC
    from pynetdicom.pdu_primitives import (
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
        UserIdentityNegotiation,
    )

    pdu = _decode(A_ASSOCIATE_AC, data)
    try:
        primitive = pdu.to_primitive()
        contexts = list(primitive.presentation_context_definition_results_list)
        user_items = list(primitive.user_information or [])
        ae_title = pdu.called_ae_title
    except Exception as exc:  # noqa: BLE001 - any decoder fault means a malformed PDU
        raise BadPdu(f"malformed A-ASSOCIATE-AC PDU ({_fault(exc)})") from None
    result = Acceptance([], [], None, None, None, None)
    if isinstance(ae_title, bytes):
        ae_title = ae_title.decode("ascii", "replace")
    result.ae_title = (ae_title or "").strip() or None
    seen = set()
    for cx in contexts:
        if cx.context_id != CONTEXT_ID:
            continue
        seen.add(cx.context_id)
        syntax = str(cx.transfer_syntax[0]) if cx.transfer_syntax else None
        entry = {
            "context_id": cx.context_id,
            "abstract_syntax": VERIFICATION_SOP_CLASS,
            "transfer_syntax": syntax if cx.result == 0 else None,
            "result": _text(lambda c=cx: c.status, cx.result).lower() if cx.result != 0 else "accepted",
            "result_code": cx.result,
        }
        if cx.result == 0 and syntax in request.transfer_syntaxes:
            result.accepted.append(entry)
        else:
            if cx.result == 0:
                entry["result"] = f"accepted with a transfer syntax that was not proposed ({syntax})"
                entry["transfer_syntax"] = None
            result.rejected.append(entry)
    if CONTEXT_ID not in seen:
        result.rejected.append(unanswered_context())
    for item in user_items:
        if isinstance(item, MaximumLengthNotification):
            result.max_pdu = item.maximum_length_received
        elif isinstance(item, ImplementationClassUIDNotification):
            result.implementation_class_uid = str(item.implementation_class_uid or "") or None
        elif isinstance(item, ImplementationVersionNameNotification):
            name = item.implementation_version_name
            if isinstance(name, bytes):
                name = name.decode("ascii", "replace")
            result.implementation_version_name = (name or "").strip() or None
        elif isinstance(item, UserIdentityNegotiation) and item.server_response is not None:
            result.user_identity_response = bytes(item.server_response)
    return result


def pynetdicom_parse_rj(data: bytes) -> Rejection:
    from pynetdicom.pdu import A_ASSOCIATE_RJ

    pdu = _decode(A_ASSOCIATE_RJ, data)
    return Rejection(
        pdu.result, pdu.source, pdu.reason_diagnostic,
        _text(lambda: pdu.result_str, pdu.result),
        _text(lambda: pdu.source_str, pdu.source),
        _text(lambda: pdu.reason_str, pdu.reason_diagnostic),
    )


def pynetdicom_parse_abort(data: bytes) -> Abort:
    from pynetdicom.pdu import A_ABORT_RQ

    pdu = _decode(A_ABORT_RQ, data)
    reason_text = _text(lambda: pdu.reason_str, pdu.reason_diagnostic) if pdu.source == 2 else "not specified"
    return Abort(pdu.source, pdu.reason_diagnostic, _text(lambda: pdu.source_str, pdu.source), reason_text)


class PynetdicomAssembler:
    """:class:`ResponseAssembler` done by pynetdicom's DIMSE classes."""

    def __init__(self) -> None:
        from pynetdicom.dimse_messages import DIMSEMessage

        self._message = DIMSEMessage()
        self._size = 0

    def feed(self, data: bytes) -> EchoResponse | None:
        from pynetdicom.pdu import P_DATA_TF

        pdu = _decode(P_DATA_TF, data)
        self._size += len(data)
        if self._size > MAX_RESPONSE_BYTES:
            raise BadPdu(
                f"the C-ECHO-RSP grew past {MAX_RESPONSE_BYTES} bytes without ending"
                " (a C-ECHO-RSP is a command set of about 100 bytes)"
            )
        try:
            done = self._message.decode_msg(pdu.to_primitive())
        except Exception as exc:  # noqa: BLE001 - any decoder fault means a malformed message
            raise BadPdu(f"malformed DIMSE message ({_fault(exc)})") from None
        if not done:
            return None
        command = self._message.command_set
        # pydicom converts an element when it is read: a Status of 3 bytes fails only here.
        field = self._read(command, "CommandField")
        if field != C_ECHO_RSP_COMMAND:
            raise BadPdu(f"expected a C-ECHO-RSP, got a DIMSE message with command field {hex_code(field)}")
        answered, status = self._read(command, "MessageIDBeingRespondedTo"), self._read(command, "Status")
        return EchoResponse(answered, status, self._message.context_id)

    @staticmethod
    def _read(command: t.Any, keyword: str) -> t.Any:
        try:
            return command.get(keyword)
        except Exception as exc:  # noqa: BLE001 - any conversion fault means a malformed message
            raise BadPdu(f"malformed DIMSE message ({_fault(exc)})") from None


def pynetdicom_status_text(code: int) -> str:
    """:func:`status_text` from pynetdicom's tables."""
    from pynetdicom.status import GENERAL_STATUS, code_to_category

    category = code_to_category(code)
    meaning = GENERAL_STATUS.get(code, ("", ""))[1]
    return f"{category}: {meaning}" if meaning else category


def describe_pdu(data: bytes) -> str:
    """pynetdicom's own rendering of a PDU, for -d's dumps (imports pynetdicom)."""
    from pynetdicom import pdu as pdus

    classes = {0x01: pdus.A_ASSOCIATE_RQ, 0x02: pdus.A_ASSOCIATE_AC, 0x03: pdus.A_ASSOCIATE_RJ, 0x04: pdus.P_DATA_TF,
               0x05: pdus.A_RELEASE_RQ, 0x06: pdus.A_RELEASE_RP, 0x07: pdus.A_ABORT_RQ}
    pdu_class = classes.get(data[0]) if data else None
    if pdu_class is None:
        return f"not a PDU: {data[:16].hex()}"
    try:
        return str(_decode(pdu_class, data))
    except BadPdu as exc:
        return str(exc)
