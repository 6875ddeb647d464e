# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""DICOM Upper Layer PDUs and DIMSE messages for Verification, encoded and
decoded by pynetdicom's own PDU and DIMSE classes.

The engine owns the socket and the order of events; every byte layout and
every PS3.8 code text comes from pynetdicom, so none of it is written twice.
Any exception pynetdicom raises on a malformed PDU becomes :class:`BadPdu`.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
import typing as t

try:
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID
    from pynetdicom import __version__ as PYNETDICOM_VERSION
    from pynetdicom.dimse_messages import C_ECHO_RQ, DIMSEMessage
    from pynetdicom.dimse_primitives import C_ECHO
    from pynetdicom.pdu import (
        A_ABORT_RQ,
        A_ASSOCIATE_AC,
        A_ASSOCIATE_RJ,
        A_ASSOCIATE_RQ,
        P_DATA_TF,
    )
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
    )
    from pynetdicom.presentation import build_context
    from pynetdicom.status import GENERAL_STATUS, code_to_category
except ImportError as exc:  # the faces report it with install advice
    PYNETDICOM_IMPORT_ERROR: ImportError | None = exc
    PYNETDICOM_VERSION = None
else:
    PYNETDICOM_IMPORT_ERROR = None

from .echo_request import VERIFICATION_SOP_CLASS, EchoRequest

APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_VERSION_NAME = "DICOMNET_010"
CONTEXT_ID = 1
C_ECHO_RSP_COMMAND = 0x8030
A_RELEASE_RQ_BYTES = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
A_RELEASE_RP_BYTES = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
# A C-ECHO-RSP is a command set of about 100 bytes and no data set; a peer that keeps
# sending fragments that never end the message must not grow our memory without bound.
MAX_RESPONSE_BYTES = 1 << 16


class BadPdu(Exception):
    """A PDU or DIMSE message that pynetdicom could not make sense of."""


@dataclasses.dataclass
class Acceptance:
    accepted: list[dict[str, t.Any]]
    rejected: list[dict[str, t.Any]]
    max_pdu: int | None
    implementation_class_uid: str | None
    implementation_version_name: str | None
    ae_title: str | None


@dataclasses.dataclass
class Rejection:
    result: int
    source: int
    reason: int
    result_text: str
    source_text: str
    reason_text: str


@dataclasses.dataclass
class Abort:
    source: int
    reason: int
    source_text: str
    reason_text: str


@dataclasses.dataclass
class EchoResponse:
    message_id_responded: int | None
    status: int | None
    context_id: int | None


def associate_rq(request: EchoRequest) -> bytes:
    """The A-ASSOCIATE-RQ: one Verification context with the syntaxes asked, in order."""
    return _associate_rq(request.calling_aet, request.called_aet, tuple(request.transfer_syntaxes), request.max_pdu)


# A fleet check sends the same request shape to many peers; encoding it costs more CPU
# than the whole exchange on loopback, so each shape is encoded once.
@functools.lru_cache(maxsize=256)
def _associate_rq(calling_aet: str, called_aet: str, transfer_syntaxes: tuple[str, ...], max_pdu: int) -> bytes:
    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT_NAME
    primitive.calling_ae_title = calling_aet
    primitive.called_ae_title = called_aet
    context = build_context(VERIFICATION_SOP_CLASS, list(transfer_syntaxes))
    context.context_id = CONTEXT_ID
    primitive.presentation_context_definition_list = [context]
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = max_pdu
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = PYNETDICOM_IMPLEMENTATION_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    primitive.user_information = [max_length, class_uid, version]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


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


def parse_ac(data: bytes, request: EchoRequest) -> Acceptance:
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
        result.rejected.append({
            "context_id": CONTEXT_ID,
            "abstract_syntax": VERIFICATION_SOP_CLASS,
            "transfer_syntax": None,
            "result": "not answered by the peer",
            "result_code": None,
        })
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
    return result


def parse_rj(data: bytes) -> Rejection:
    pdu = _decode(A_ASSOCIATE_RJ, data)
    return Rejection(
        pdu.result, pdu.source, pdu.reason_diagnostic,
        _text(lambda: pdu.result_str, pdu.result),
        _text(lambda: pdu.source_str, pdu.source),
        _text(lambda: pdu.reason_str, pdu.reason_diagnostic),
    )


def parse_abort(data: bytes) -> Abort:
    pdu = _decode(A_ABORT_RQ, data)
    reason_text = _text(lambda: pdu.reason_str, pdu.reason_diagnostic) if pdu.source == 2 else "not specified"
    return Abort(pdu.source, pdu.reason_diagnostic, _text(lambda: pdu.source_str, pdu.source), reason_text)


def abort_pdu(source: int = 0, reason: int = 0) -> bytes:
    """A-ABORT: source 0 (we, the service user) or 2 (provider, for a protocol fault)."""
    return bytes((0x07, 0, 0, 0, 0, 4, 0, 0, source, reason))


def encode_echo_rq(message_id: int, peer_max_pdu: int | None) -> list[bytes]:
    """The C-ECHO-RQ as P-DATA-TF PDUs, fragmented for the peer's max PDU."""
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


# (0000,0110) Message ID, US, implicit VR little endian: tag, 4-byte length 2, then the value.
_MESSAGE_ID_ELEMENT = b"\x00\x00\x10\x01\x02\x00\x00\x00"


@functools.lru_cache(maxsize=32)
def _echo_rq_template(peer_max_pdu: int) -> tuple[bytes, int] | None:
    """pynetdicom's encoding of one C-ECHO-RQ and where its Message ID sits.

    Encoding a command set through pydicom costs most of an echo's CPU time;
    only the 2-byte Message ID changes between echoes, and its length is fixed,
    so the group length and PDU lengths stay valid when it is patched.
    """
    pdus = encode_echo_rq(0x5A5A, peer_max_pdu)
    marker = _MESSAGE_ID_ELEMENT + b"\x5a\x5a"
    if len(pdus) != 1 or pdus[0].count(marker) != 1:
        return None  # fragmented for a tiny max PDU: encode each echo in full
    return pdus[0], pdus[0].index(marker) + len(_MESSAGE_ID_ELEMENT)


def echo_rq_pdus(message_id: int, peer_max_pdu: int | None) -> list[bytes]:
    """The C-ECHO-RQ for ``message_id``, ready for the wire."""
    template = _echo_rq_template(peer_max_pdu or 0)
    if template is None:
        return encode_echo_rq(message_id, peer_max_pdu)
    data, offset = template
    return [data[:offset] + struct.pack("<H", message_id) + data[offset + 2:]]


class ResponseAssembler:
    """Collects P-DATA-TF PDUs until one DIMSE message is complete."""

    def __init__(self) -> None:
        self._message = DIMSEMessage()
        self._size = 0

    def feed(self, data: bytes) -> EchoResponse | None:
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
        field = command.get("CommandField")
        if field != C_ECHO_RSP_COMMAND:
            raise BadPdu(f"expected a C-ECHO-RSP, got a DIMSE message with command field {hex_code(field)}")
        return EchoResponse(
            command.get("MessageIDBeingRespondedTo"),
            command.get("Status"),
            self._message.context_id,
        )


def hex_code(value: object) -> str:
    """A command field or status as DICOM writes it (0x0122), whatever the peer put there."""
    return f"0x{value:04X}" if isinstance(value, int) else repr(value)


def status_text(code: int) -> str:
    """'Success', or the category and meaning pynetdicom knows for a status code."""
    category = code_to_category(code)
    meaning = GENERAL_STATUS.get(code, ("", ""))[1]
    return f"{category}: {meaning}" if meaning else category
