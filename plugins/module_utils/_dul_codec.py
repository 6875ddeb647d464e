# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""DICOM Upper Layer PDUs and the C-ECHO DIMSE messages, in stdlib ``struct``.

Why our own codec: importing pynetdicom (and with it pydicom) costs about 0.2 s
of CPU, eight times what a whole DCMTK ``echoscu`` run costs, and a C-ECHO
needs a handful of fixed layouts. The layouts are written below as tables next
to their PS3.8 / PS3.7 references, in the style of pynetdicom's ``pdu.py``.

pynetdicom stays the authority on every byte:

* the unit tests encode randomized requests with both and require identical
  bytes, and decode valid, mutated and random PDUs with both and require the
  same facts (``tests/unit/plugins/module_utils/test_dul_codec.py``);
* the fast decoders below are strict: whatever they do not recognise (an item
  type, a sub-item twice, a UID that is not conformant, a command set element
  of an odd length...) is handed, with the whole PDU, to the ``pynetdicom_*``
  functions at the end of this file, which decode it exactly as the engine
  always did (same facts, same one-line error messages) and are the only place
  pynetdicom is imported, at first use;
* the functional suites record every PDU the engine decodes
  (``DICOM_NETWORK_PDU_RECORD``) and decode them all again with both.
"""

from __future__ import annotations

import itertools
import os
import struct
import sys

from ._record import Record
from .echo_request import VERIFICATION_SOP_CLASS, EchoRequest

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1, the DICOM application context
# PS3.7 D.3.3.2: our implementation, under the UUID-derived root of PS3.5 B.2. The
# bytes on the wire are ours now, so the peer is not told it is talking to pynetdicom.
IMPLEMENTATION_CLASS_UID = "2.25.18161956521029095087908837396242063157"
IMPLEMENTATION_VERSION_NAME = "DICOMNET_010"
CONTEXT_ID = 1
C_ECHO_RQ_COMMAND = 0x0030
C_ECHO_RSP_COMMAND = 0x8030
NO_DATA_SET = 0x0101  # PS3.7 E.1-1, (0000,0800) Command Data Set Type: no data set follows
A_RELEASE_RQ_BYTES = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"  # PS3.8 table 9-24
A_RELEASE_RP_BYTES = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"  # PS3.8 table 9-25
# A C-ECHO-RSP is a command set of about 100 bytes and no data set; a peer that keeps
# sending fragments that never end the message must not grow our memory without bound.
MAX_RESPONSE_BYTES = 1 << 16


def _find_pynetdicom() -> ImportError | None:
    """Whether pynetdicom is installed, without importing it (a directory lookup, not 0.2 s).

    As ``importlib.util.find_spec`` does, a module blocked in ``sys.modules`` (None) is missing.
    """
    if "pynetdicom" in sys.modules:
        return None if sys.modules["pynetdicom"] is not None else ImportError("No module named 'pynetdicom'")
    # What importlib.util.find_spec() asks (it costs ~4 ms to import): each finder of the import system.
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None and find_spec("pynetdicom", None) is not None:
            return None
    return ImportError("No module named 'pynetdicom'")


# pynetdicom is still needed for what the fast path declines and for -d's PDU dumps.
PYNETDICOM_IMPORT_ERROR: ImportError | None = _find_pynetdicom()

# Tests set this to a directory: every PDU the engine decodes is appended to a file there
# (pdus-<pid>.jsonl), for tests/functional/codec_crosscheck.py to decode again with pynetdicom.
_RECORD_DIR = os.environ.get("DICOM_NETWORK_PDU_RECORD") or None
_ASSEMBLER_IDS = itertools.count(1)


def __getattr__(name: str) -> t.Any:
    # pynetdicom's side of every encoding and decoding lives in _dul_reference: a module run
    # compiles its sources on each run (AnsiballZ), so it is loaded only when used.
    if name in REFERENCE_NAMES:
        return getattr(_reference(), name)
    # PYNETDICOM_VERSION needs importlib.metadata (~10 ms): computed when someone asks.
    if name == "PYNETDICOM_VERSION":
        from importlib import metadata

        try:
            return metadata.version("pynetdicom")
        except metadata.PackageNotFoundError:
            return None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class BadPdu(Exception):
    """A PDU or DIMSE message that cannot be made sense of."""


class _Declined(Exception):
    """The fast path does not recognise this input: pynetdicom decides."""


class Acceptance(Record):
    """What an A-ASSOCIATE-AC says (PS3.8 9.3.3): the contexts accepted and rejected, the peer's limits."""

    accepted: list[dict[str, t.Any]]
    rejected: list[dict[str, t.Any]]
    max_pdu: int | None
    implementation_class_uid: str | None
    implementation_version_name: str | None
    ae_title: str | None
    # PS3.7 D.3.3.7.2: the server response of a user identity the peer confirmed.
    user_identity_response: bytes | None = None


class Rejection(Record):
    """An A-ASSOCIATE-RJ (PS3.8 9.3.4): result, source and reason, with their PS3.8 texts."""

    result: int
    source: int
    reason: int
    result_text: str
    source_text: str
    reason_text: str


class Abort(Record):
    """An A-ABORT (PS3.8 9.3.8): source and reason, with their PS3.8 texts."""

    source: int
    reason: int
    source_text: str
    reason_text: str


class EchoResponse(Record):
    """A C-ECHO-RSP command set (PS3.7 9.3.5.2): the message it answers, its status, its context."""

    message_id_responded: int | None
    status: int | None
    context_id: int | None


# -- PS3.8 texts (our tables; tests hold them equal to pynetdicom's for every code) --------

# PS3.8 table 9-21, A-ASSOCIATE-RJ: Result, Source, and Reason/Diag. per source.
RJ_RESULTS = {1: "Rejected (Permanent)", 2: "Rejected (Transient)"}
RJ_SOURCES = {
    1: "DUL service-user",
    2: "DUL service-provider (ACSE related)",
    3: "DUL service-provider (presentation related)",
}
RJ_REASONS = {
    1: {1: "No reason given", 2: "Application context name not supported", 3: "Calling AE title not recognised",
        7: "Called AE title not recognised"},
    2: {1: "No reason given", 2: "Protocol version not supported"},
    3: {1: "Temporary congestion", 2: "Local limit exceeded"},
}
# PS3.8 table 9-26, A-ABORT: Source, and Reason/Diag. (defined for the provider only).
ABORT_SOURCES = {0: "DUL service-user", 2: "DUL service-provider"}
ABORT_REASONS = {
    0: "No reason given",
    1: "Unrecognised PDU",
    2: "Unexpected PDU",
    4: "Unrecognised PDU parameter",
    5: "Unexpected PDU parameter",
    6: "Invalid PDU parameter value",
}
# PS3.8 table 9-18, Presentation Context Item (AC): Result/Reason, as pynetdicom words it.
CONTEXT_RESULTS = {
    0: "accepted",
    1: "user rejected",
    2: "provider rejected",
    3: "abstract syntax not supported",
    4: "transfer syntax(es) not supported",
}
# PS3.7 C.4 and 9.1.1.1.9 (general statuses): category and meaning, as pynetdicom words them.
SUCCESS, FAILURE, WARNING, CANCEL, PENDING, UNKNOWN = "Success", "Failure", "Warning", "Cancel", "Pending", "Unknown"
STATUS_MEANINGS = {
    0x0105: "No Such Attribute",
    0x0106: "Invalid Attribute Value",
    0x0107: "Attribute List Error",
    0x0110: "Processing Failure",
    0x0111: "Duplication SOP Instance",
    0x0112: "No Such SOP Instance",
    0x0113: "No Such Event Type",
    0x0114: "No Such Argument",
    0x0115: "Invalid Argument Value",
    0x0116: "Attribute Value Out of Range",
    0x0117: "Invalid Object Instance",
    0x0118: "No Such SOP Class",
    0x0119: "Class-Instance Conflict",
    0x0120: "Missing Attribute",
    0x0121: "Missing Attribute Value",
    0x0122: "Refused: SOP Class Not Supported",
    0x0123: "No Such Action",
    0x0124: "Refused: Not Authorised",
    0x0210: "Duplicate Invocation",
    0x0211: "Unrecognised Operation",
    0x0212: "Mistyped Argument",
    0x0213: "Resource Limitation",
}
_WARNING_CODES = frozenset((0x0001, 0x0107, 0x0116))
_FAILURE_CODES = frozenset(code for code in STATUS_MEANINGS if code not in _WARNING_CODES)


def _reserved(table: t.Mapping[int, str], code: int) -> str:
    return table.get(code) or f"reserved ({code})"


def status_category(code: int) -> str:
    """PS3.7 C.4: Success, Warning, Failure, Cancel, Pending or Unknown."""
    if code == 0x0000:
        return SUCCESS
    if code in (0xFF00, 0xFF01):
        return PENDING
    if code == 0xFE00:
        return CANCEL
    if code in _FAILURE_CODES or 0xA000 <= code < 0xB000 or 0xC000 <= code < 0xD000:
        return FAILURE
    if code in _WARNING_CODES or 0xB000 <= code < 0xC000:
        return WARNING
    return UNKNOWN


def status_text(code: int) -> str:
    """'Success', or the category and meaning of a status code ('Failure: Refused: ...')."""
    category = status_category(code)
    meaning = STATUS_MEANINGS.get(code, "")
    return f"{category}: {meaning}" if meaning else category


def hex_code(value: object) -> str:
    """A command field or status as DICOM writes it (0x0122), whatever the peer put there."""
    return f"0x{value:04X}" if isinstance(value, int) else repr(value)


# -- layouts ------------------------------------------------------------------------------

# PS3.8 9.3.1: every PDU starts with PDU-type (1), reserved (1), PDU-length (4), big endian.
_PDU_HEADER = struct.Struct(">BBL")
# PS3.8 9.3.1: every item and sub-item starts with Item-type (1), reserved (1), Item-length (2).
_ITEM_HEADER = struct.Struct(">BBH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">L")

# PS3.8 table 9-11 (A-ASSOCIATE-RQ) and 9-17 (A-ASSOCIATE-AC), the fixed part:
#   offset  length  field
#   0       1       PDU-type (0x01 RQ, 0x02 AC)
#   1       1       reserved
#   2       4       PDU-length (what follows this field)
#   6       2       Protocol-version (bit 0 set: version 1)
#   8       2       reserved
#   10      16      Called-AE-title, space padded (AC: echoed, not to be tested)
#   26      16      Calling-AE-title, space padded (AC: echoed, not to be tested)
#   42      32      reserved
#   74      -       Variable items: 0x10 application context, 0x20/0x21 presentation
#                   context(s), 0x50 user information
_ASSOCIATE_FIXED = struct.Struct(">BBLHH16s16s32x")
_ASSOCIATE_FIXED_LENGTH = 74
PROTOCOL_VERSION = 0x0001

# Item types, PS3.8 tables 9-12 to 9-16 and 9-18 to 9-20, PS3.7 annex D.
APPLICATION_CONTEXT_ITEM = 0x10  # PS3.8 table 9-12: the UID as item value
PRESENTATION_CONTEXT_RQ_ITEM = 0x20  # PS3.8 table 9-13, see _CONTEXT_RQ
PRESENTATION_CONTEXT_AC_ITEM = 0x21  # PS3.8 table 9-18, see _CONTEXT_AC
ABSTRACT_SYNTAX_SUB_ITEM = 0x30  # PS3.8 table 9-14: the UID as item value
TRANSFER_SYNTAX_SUB_ITEM = 0x40  # PS3.8 tables 9-15 and 9-19: the UID as item value
USER_INFORMATION_ITEM = 0x50  # PS3.8 table 9-16: user data sub-items as item value
MAXIMUM_LENGTH_SUB_ITEM = 0x51  # PS3.8 D.1, table D.1-1: Maximum-length-received (4)
IMPLEMENTATION_CLASS_UID_SUB_ITEM = 0x52  # PS3.7 D.3.3.2, table D.3-1: the UID as item value
IMPLEMENTATION_VERSION_NAME_SUB_ITEM = 0x55  # PS3.7 D.3.3.2, table D.3-3: 1-16 characters
USER_IDENTITY_RQ_SUB_ITEM = 0x58  # PS3.7 D.3.3.7.1, table D.3-14 (encoded by _user_identity.py)
USER_IDENTITY_AC_SUB_ITEM = 0x59  # PS3.7 D.3.3.7.2, table D.3-15, see _USER_IDENTITY_AC

# PS3.8 table 9-13, Presentation Context Item (RQ), after the item header:
#   Presentation-context-ID (1), reserved (1), Result/Reason (1, reserved in the RQ),
#   reserved (1), then one Abstract Syntax sub-item and one or more Transfer Syntax sub-items.
_CONTEXT_RQ = struct.Struct(">B3x")
# PS3.8 table 9-18, Presentation Context Item (AC), after the item header:
#   Presentation-context-ID (1), reserved (1), Result/Reason (1), reserved (1), then one
#   Transfer Syntax sub-item (its value is not to be tested when the result is not 0).
_CONTEXT_AC = struct.Struct(">BxBx")
# PS3.7 table D.3-15, User Identity sub-item (AC), after the sub-item header:
#   Server-response-length (2), Server-response.
_USER_IDENTITY_AC = _U16

# PS3.8 table 9-21 (A-ASSOCIATE-RJ) and 9-26 (A-ABORT), after the PDU header:
#   RJ: reserved (1), Result (1), Source (1), Reason/Diag. (1)
#   A-ABORT: reserved (1), reserved (1), Source (1), Reason/Diag. (1)
_ASSOCIATE_RJ = struct.Struct(">xBBB")
_ABORT = struct.Struct(">xxBB")

# PS3.8 table 9-22 (P-DATA-TF): after the PDU header, one or more PDV items (table 9-23):
#   Item-length (4, counts what follows it), Presentation-context-ID (1), then the
#   Presentation-data-value, whose first byte is the message control header (PS3.8 E.2):
#   bit 0 set: command information, clear: data set; bit 1 set: the last fragment.
_PDV_HEADER = struct.Struct(">LBB")
_COMMAND = 0x01
_LAST_FRAGMENT = 0x02

# PS3.5 7.1.3, implicit VR little endian (always used for a command set, PS3.7 6.3.1):
#   Group (2), Element (2), Value length (4), Value.
_ELEMENT = struct.Struct("<HHL")
_US = struct.Struct("<H")
_UL = struct.Struct("<L")
# PS3.7 E.1-1 command elements (group 0000) the C-ECHO messages carry, PS3.7 9.3.5.
COMMAND_GROUP_LENGTH = 0x0000  # UL
AFFECTED_SOP_CLASS_UID = 0x0002  # UI
COMMAND_FIELD = 0x0100  # US
MESSAGE_ID = 0x0110  # US
MESSAGE_ID_BEING_RESPONDED_TO = 0x0120  # US
COMMAND_DATA_SET_TYPE = 0x0800  # US
STATUS = 0x0900  # US


def _conformant_uid(value: bytes) -> bool:
    """PS3.5 9.1: 1-64 characters, components of digits without leading zeros, dot-separated."""
    if not 0 < len(value) <= 64:
        return False
    for part in value.split(b"."):
        if not part.isdigit() or (part[0] == 0x30 and len(part) > 1):  # bytes.isdigit: ASCII 0-9 only
            return False
    return True


def _ae_value(value: bytes) -> bool:
    """PS3.5 6.2, VR AE: 1-16 printable ISO 646 characters, no backslash."""
    return 0 < len(value) <= 16 and all(0x20 <= c <= 0x7E and c != 0x5C for c in value)


# -- encoding -------------------------------------------------------------------------------


def _item(item_type: int, value: bytes) -> bytes:
    return _ITEM_HEADER.pack(item_type, 0, len(value)) + value


def _ae(value: str) -> bytes:
    return value.ljust(16).encode("ascii")


def associate_rq(request: EchoRequest, extra_user_items: t.Sequence[bytes] = ()) -> bytes:
    """The A-ASSOCIATE-RQ: one Verification context with the syntaxes asked, in order.

    ``extra_user_items`` are whole user information sub-items (a 0x58 user
    identity from ``_user_identity.encode_rq_item``), sent after ours.
    """
    return _associate_rq(request.calling_aet, request.called_aet, tuple(request.transfer_syntaxes),
                         request.max_pdu, tuple(extra_user_items))


def _associate_rq(calling_aet: str, called_aet: str, transfer_syntaxes: tuple[str, ...], max_pdu: int,
                  extra_user_items: tuple[bytes, ...] = ()) -> bytes:
    syntaxes = []
    for uid in transfer_syntaxes:
        if uid and uid not in syntaxes:  # a syntax proposed twice is proposed once (as pynetdicom does)
            syntaxes.append(uid)
    context = _CONTEXT_RQ.pack(CONTEXT_ID) + _item(ABSTRACT_SYNTAX_SUB_ITEM, VERIFICATION_SOP_CLASS.encode())
    context += b"".join(_item(TRANSFER_SYNTAX_SUB_ITEM, uid.encode("ascii")) for uid in syntaxes)
    user = (
        _item(MAXIMUM_LENGTH_SUB_ITEM, _U32.pack(max_pdu))
        + _item(IMPLEMENTATION_CLASS_UID_SUB_ITEM, IMPLEMENTATION_CLASS_UID.encode())
        + _item(IMPLEMENTATION_VERSION_NAME_SUB_ITEM, IMPLEMENTATION_VERSION_NAME.encode())
        + b"".join(extra_user_items)
    )
    items = (
        _item(APPLICATION_CONTEXT_ITEM, APPLICATION_CONTEXT_NAME.encode())
        + _item(PRESENTATION_CONTEXT_RQ_ITEM, context)
        + _item(USER_INFORMATION_ITEM, user)
    )
    length = _ASSOCIATE_FIXED_LENGTH - 6 + len(items)
    return _ASSOCIATE_FIXED.pack(0x01, 0, length, PROTOCOL_VERSION, 0, _ae(called_aet), _ae(calling_aet)) + items


def abort_pdu(source: int = 0, reason: int = 0) -> bytes:
    """A-ABORT: source 0 (we, the service user) or 2 (provider, for a protocol fault)."""
    return _PDU_HEADER.pack(0x07, 0, 4) + _ABORT.pack(source, reason)


def _element(element: int, value: bytes) -> bytes:
    return _ELEMENT.pack(0x0000, element, len(value)) + value


def _echo_rq_command_set(message_id: int) -> bytes:
    """PS3.7 table 9.3-12, C-ECHO-RQ: the command set, with its group length first."""
    uid = VERIFICATION_SOP_CLASS.encode()
    uid += b"\x00" * (len(uid) % 2)  # PS3.5 9.1: a UID is padded to even length with one NUL
    body = (
        _element(AFFECTED_SOP_CLASS_UID, uid)
        + _element(COMMAND_FIELD, _US.pack(C_ECHO_RQ_COMMAND))
        + _element(MESSAGE_ID, _US.pack(message_id))
        + _element(COMMAND_DATA_SET_TYPE, _US.pack(NO_DATA_SET))
    )
    return _element(COMMAND_GROUP_LENGTH, _UL.pack(len(body))) + body


def _pdata(fragment: bytes, control: int) -> bytes:
    pdv = _PDV_HEADER.pack(len(fragment) + 2, CONTEXT_ID, control) + fragment
    return _PDU_HEADER.pack(0x04, 0, len(pdv)) + pdv


def _echo_rq_parts() -> tuple[bytes, bytes]:
    """One C-ECHO-RQ in one P-DATA-TF, split around its Message ID value.

    The Message ID is the only part that changes between echoes and its length
    is fixed, so the group and PDU lengths hold: the parts are joined per echo.
    """
    whole = _pdata(_echo_rq_command_set(0), _COMMAND | _LAST_FRAGMENT)
    at = len(whole) - len(_element(COMMAND_DATA_SET_TYPE, b"..")) - 2  # Message ID comes last but one
    return whole[:at], whole[at + 2:]


_ECHO_HEAD, _ECHO_TAIL = _echo_rq_parts()
# The PDU-length of that one P-DATA-TF: a peer's max PDU at least this takes it whole.
_ONE_PDU = len(_ECHO_HEAD) + 2 + len(_ECHO_TAIL) - 6


def echo_rq_pdus(message_id: int, peer_max_pdu: int | None) -> list[bytes]:
    """The C-ECHO-RQ for ``message_id``, as P-DATA-TF PDUs that fit the peer's max PDU."""
    if not peer_max_pdu or peer_max_pdu >= _ONE_PDU:
        return [_ECHO_HEAD + _US.pack(message_id) + _ECHO_TAIL]
    if peer_max_pdu < 7:
        # PS3.8 9.3.5: a P-DATA-TF needs 6 bytes of PDV header before one byte of the message.
        # (pynetdicom refuses to encode it too, with a ValueError the engine would call internal.)
        raise BadPdu(f"the peer's maximum PDU length of {peer_max_pdu} bytes leaves no room for a C-ECHO-RQ"
                     " (PS3.8 9.3.5: a P-DATA-TF PDU needs at least 7)")
    # PS3.8 9.3.5: fragments of (max - 6) bytes, each in its own PDV (4 + 1 + 1 header bytes).
    size = peer_max_pdu - 6
    command = _echo_rq_command_set(message_id)
    cuts = range(0, len(command), size)
    last = cuts[-1]
    return [_pdata(command[at:at + size], _COMMAND | (_LAST_FRAGMENT if at == last else 0)) for at in cuts]


# -- decoding ------------------------------------------------------------------------------


def _items(data: bytes, start: int, end: int) -> t.Iterator[tuple[int, int, int]]:
    """(type, value start, value end) of each item between ``start`` and ``end``, exactly."""
    at = start
    while at < end:
        if at + 4 > end:
            raise _Declined("a truncated item header")
        item_type, _reserved, length = _ITEM_HEADER.unpack_from(data, at)
        if at + 4 + length > end:
            raise _Declined(f"item 0x{item_type:02X} runs past its parent")
        yield item_type, at + 4, at + 4 + length
        at += 4 + length


def _uid(data: bytes, start: int, end: int, allow_empty: bool = False) -> str | None:
    value = data[start:end]
    if value.endswith(b"\x00"):
        value = value[:-1]  # one trailing NUL pads a UID to even length (PS3.5 9.1)
    if not value and allow_empty:
        return None
    if not _conformant_uid(value):
        raise _Declined(f"a UID that is not conformant: {value[:70]!r}")
    return value.decode("ascii")


def unanswered_context() -> dict[str, t.Any]:
    """Our Verification context, when the A-ASSOCIATE-AC holds no answer to it."""
    return {
        "context_id": CONTEXT_ID,
        "abstract_syntax": VERIFICATION_SOP_CLASS,
        "transfer_syntax": None,
        "result": "not answered by the peer",
        "result_code": None,
    }


def _fast_parse_ac(data: bytes, request: EchoRequest) -> Acceptance:
    if len(data) < _ASSOCIATE_FIXED_LENGTH:
        raise _Declined("shorter than the fixed part")
    _type, _res, _length, _version, _res2, called, _calling = _ASSOCIATE_FIXED.unpack_from(data)
    if not called.isascii():
        raise _Declined("a called AE title that is not ASCII")
    result = Acceptance([], [], None, None, None, called.decode("ascii").strip() or None)
    seen_items: set[int] = set()
    seen_context = False
    for item_type, start, end in _items(data, _ASSOCIATE_FIXED_LENGTH, len(data)):
        if item_type == PRESENTATION_CONTEXT_AC_ITEM:
            if end - start < 4:
                raise _Declined("a short presentation context item")
            context_id, code = _CONTEXT_AC.unpack_from(data, start)
            if not 1 <= context_id <= 255 or context_id % 2 == 0:
                raise _Declined(f"presentation context ID {context_id}")
            syntax = None
            subs = list(_items(data, start + 4, end))
            if len(subs) > 1 or any(sub_type != TRANSFER_SYNTAX_SUB_ITEM for sub_type, _s, _e in subs):
                raise _Declined("a presentation context with other than one transfer syntax")
            if subs:
                syntax = _uid(data, subs[0][1], subs[0][2], allow_empty=True)
            if context_id != CONTEXT_ID:
                continue
            seen_context = True
            entry = {
                "context_id": context_id,
                "abstract_syntax": VERIFICATION_SOP_CLASS,
                "transfer_syntax": syntax if code == 0 else None,
                "result": CONTEXT_RESULTS.get(code, "unknown"),
                "result_code": code,
            }
            if code == 0 and syntax in request.transfer_syntaxes:
                result.accepted.append(entry)
            else:
                if code == 0:
                    entry["result"] = f"accepted with a transfer syntax that was not proposed ({syntax})"
                    entry["transfer_syntax"] = None
                result.rejected.append(entry)
            continue
        if item_type in seen_items:
            raise _Declined(f"item 0x{item_type:02X} twice")
        seen_items.add(item_type)
        if item_type == APPLICATION_CONTEXT_ITEM:
            _uid(data, start, end)  # its value is not ours to judge, but it must decode
        elif item_type == USER_INFORMATION_ITEM:
            _fast_user_information(data, start, end, result)
        else:
            raise _Declined(f"item 0x{item_type:02X}")
    if seen_items != {APPLICATION_CONTEXT_ITEM, USER_INFORMATION_ITEM}:
        raise _Declined("no application context or no user information item")
    if not seen_context:
        result.rejected.append(unanswered_context())
    return result


def _fast_user_information(data: bytes, start: int, end: int, result: Acceptance) -> None:
    seen: set[int] = set()
    for sub_type, sub_start, sub_end in _items(data, start, end):
        if sub_type in seen:
            raise _Declined(f"sub-item 0x{sub_type:02X} twice")
        seen.add(sub_type)
        value = data[sub_start:sub_end]
        if sub_type == MAXIMUM_LENGTH_SUB_ITEM:
            if len(value) != 4:
                raise _Declined("a maximum length sub-item that is not 4 bytes")
            result.max_pdu = _U32.unpack(value)[0]
        elif sub_type == IMPLEMENTATION_CLASS_UID_SUB_ITEM:
            result.implementation_class_uid = _uid(data, sub_start, sub_end)
        elif sub_type == IMPLEMENTATION_VERSION_NAME_SUB_ITEM:
            if not _ae_value(value) or not value.strip():
                raise _Declined(f"an implementation version name that is not an AE value: {value[:20]!r}")
            result.implementation_version_name = value.decode("ascii").strip()
        elif sub_type == USER_IDENTITY_AC_SUB_ITEM:
            if len(value) < 2 or _USER_IDENTITY_AC.unpack_from(value)[0] != len(value) - 2:
                raise _Declined("a user identity sub-item whose length does not add up")
            result.user_identity_response = value[2:]
        else:
            raise _Declined(f"user information sub-item 0x{sub_type:02X}")


def parse_ac(data: bytes, request: EchoRequest) -> Acceptance:
    """What the peer's A-ASSOCIATE-AC says about our Verification context and itself."""
    _record("ac", data, request.transfer_syntaxes)
    try:
        return _fast_parse_ac(data, request)
    except (_Declined, struct.error) as exc:
        return _fallback(lambda: _reference().pynetdicom_parse_ac(data, request), "A-ASSOCIATE-AC", exc)


def parse_rj(data: bytes) -> Rejection:
    _record("rj", data)
    if len(data) < 10:
        short = _Declined("shorter than 10 bytes")
        return _fallback(lambda: _reference().pynetdicom_parse_rj(data), "A-ASSOCIATE-RJ", short)
    result, source, reason = _ASSOCIATE_RJ.unpack_from(data, 6)
    return Rejection(
        result, source, reason,
        _reserved(RJ_RESULTS, result), _reserved(RJ_SOURCES, source), _reserved(RJ_REASONS.get(source, {}), reason),
    )


def parse_abort(data: bytes) -> Abort:
    _record("abort", data)
    if len(data) < 10:
        short = _Declined("shorter than 10 bytes")
        return _fallback(lambda: _reference().pynetdicom_parse_abort(data), "A-ABORT", short)
    source, reason = _ABORT.unpack_from(data, 6)
    reason_text = _reserved(ABORT_REASONS, reason) if source == 2 else "not specified"
    return Abort(source, reason, _reserved(ABORT_SOURCES, source), reason_text)


def _pdvs(data: bytes) -> list[tuple[int, int, int, int]]:
    """(context ID, control header, fragment start, fragment end) of each PDV of a P-DATA-TF."""
    out = []
    at, end = 6, len(data)
    while at < end:
        if at + 6 > end:
            raise _Declined("a truncated PDV item header")
        length, context_id, control = _PDV_HEADER.unpack_from(data, at)
        if length < 2 or at + 4 + length > end:
            raise _Declined(f"a PDV item of length {length}")
        out.append((context_id, control, at + 6, at + 4 + length))
        at += 4 + length
    return out


def _fast_command_set(data: bytes) -> dict[int, int | None]:
    """The US elements of a command set that we read, by element number (group 0000 only)."""
    values: dict[int, int | None] = {}
    at, end, last = 0, len(data), -1
    while at < end:
        if at + 8 > end:
            raise _Declined("a truncated command element")
        group, element, length = _ELEMENT.unpack_from(data, at)
        if group != 0x0000 or element <= last or length == 0xFFFFFFFF or at + 8 + length > end:
            raise _Declined(f"command element ({group:04X},{element:04X}) of length {length}")
        last = element
        if element in (COMMAND_FIELD, MESSAGE_ID_BEING_RESPONDED_TO, STATUS, COMMAND_DATA_SET_TYPE):
            if length != 2:
                raise _Declined(f"command element (0000,{element:04X}) of length {length}")
            values[element] = _US.unpack_from(data, at + 8)[0]
        at += 8 + length
    return values


class ResponseAssembler:
    """Collects P-DATA-TF PDUs until one DIMSE message (the C-ECHO-RSP) is complete."""

    def __init__(self) -> None:
        self._pdus: list[bytes] = []
        self._command = bytearray()
        self._size = 0
        self._reference: t.Any = None
        self._id = next(_ASSEMBLER_IDS)  # names this message's PDUs in a recording

    def feed(self, data: bytes) -> EchoResponse | None:
        _record("pdata", data, self._id)
        if self._reference is not None:
            return self._reference.feed(data)  # type: ignore[no-any-return]
        self._pdus.append(data)
        try:
            return self._fast_feed(data)
        except (_Declined, struct.error) as exc:
            # Replayed from the first PDU: pynetdicom sees the whole message, as it always did.
            self._reference = _fallback(lambda: _reference().PynetdicomAssembler(), "P-DATA-TF", exc)
            pdus, self._pdus = self._pdus, []
            response: EchoResponse | None = None
            for pdu in pdus:
                response = self._reference.feed(pdu)
            return response

    def _fast_feed(self, data: bytes) -> EchoResponse | None:
        pdvs = _pdvs(data)
        self._size += len(data)
        if self._size > MAX_RESPONSE_BYTES:
            raise BadPdu(
                f"the C-ECHO-RSP grew past {MAX_RESPONSE_BYTES} bytes without ending"
                " (a C-ECHO-RSP is a command set of about 100 bytes)"
            )
        for context_id, control, start, end in pdvs:
            if not control & _COMMAND:
                raise _Declined("a data set fragment")
            self._command += data[start:end]
            if control & _LAST_FRAGMENT:
                values = _fast_command_set(bytes(self._command))
                if values.get(COMMAND_FIELD) != C_ECHO_RSP_COMMAND:
                    raise _Declined(f"command field {values.get(COMMAND_FIELD)}")
                if values.get(COMMAND_DATA_SET_TYPE) != NO_DATA_SET:
                    raise _Declined("a data set announced")
                return EchoResponse(values.get(MESSAGE_ID_BEING_RESPONDED_TO), values.get(STATUS), context_id)
        return None


# -- the authority: pynetdicom, in _dul_reference, imported only when it is needed -------------

# What _dul_reference provides (pynetdicom's encoding and decoding of the same things).
REFERENCE_NAMES = frozenset((
    "encode_echo_rq", "pynetdicom_associate_rq", "pynetdicom_parse_ac", "pynetdicom_parse_rj",
    "pynetdicom_parse_abort", "PynetdicomAssembler", "pynetdicom_status_text", "describe_pdu",
))


def _reference() -> t.Any:
    from . import _dul_reference

    return _dul_reference


def _fallback(decode: t.Callable[[], t.Any], name: str, declined: Exception) -> t.Any:
    """pynetdicom's answer for what the fast path declined; our own words without it."""
    if PYNETDICOM_IMPORT_ERROR is not None:
        raise BadPdu(f"malformed {name} PDU ({declined})") from None
    return decode()


# -- recording, for the cross-check of the functional suites ----------------------------------


def _record(kind: str, data: bytes, extra: t.Any = None) -> None:
    if _RECORD_DIR is None:
        return
    import json

    line = json.dumps({"kind": kind, "hex": data.hex(), "extra": list(extra) if kind == "ac" else extra})
    try:
        with open(os.path.join(_RECORD_DIR, f"pdus-{os.getpid()}.jsonl"), "a", encoding="ascii") as fh:
            fh.write(line + "\n")
    except OSError:
        pass
