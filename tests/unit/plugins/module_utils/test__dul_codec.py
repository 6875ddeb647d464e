# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The codec (_dul_codec): PS3.8 codes and texts, the PDUs we send, and equality on every byte with
pynetdicom (_dul_reference)."""

from __future__ import annotations

import struct
import typing as t

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _dul_codec as dul_codec
from ansible_collections.dicom.network.plugins.module_utils.echo_request import (
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    VERIFICATION_SOP_CLASS,
    EchoRequest,
)

pytestmark = pytest.mark.skipif(dul_codec.PYNETDICOM_IMPORT_ERROR is not None, reason="needs pynetdicom")

PERMANENT = "Rejected (Permanent)"
TRANSIENT = "Rejected (Transient)"
USER = "DUL service-user"
ACSE = "DUL service-provider (ACSE related)"
PRESENTATION = "DUL service-provider (presentation related)"


def rj(result: int, source: int, reason: int) -> bytes:
    return bytes((0x03, 0, 0, 0, 0, 4, 0, result, source, reason))


def abort(source: int, reason: int) -> bytes:
    return bytes((0x07, 0, 0, 0, 0, 4, 0, 0, source, reason))


# Every code PS3.8 table 9-21 defines.
@pytest.mark.parametrize(
    ("result", "source", "reason", "texts"),
    [
        (1, 1, 1, (PERMANENT, USER, "No reason given")),
        (1, 1, 2, (PERMANENT, USER, "Application context name not supported")),
        (1, 1, 3, (PERMANENT, USER, "Calling AE title not recognised")),
        (1, 1, 7, (PERMANENT, USER, "Called AE title not recognised")),
        (2, 1, 7, (TRANSIENT, USER, "Called AE title not recognised")),
        (1, 2, 1, (PERMANENT, ACSE, "No reason given")),
        (1, 2, 2, (PERMANENT, ACSE, "Protocol version not supported")),
        (2, 3, 1, (TRANSIENT, PRESENTATION, "Temporary congestion")),
        (2, 3, 2, (TRANSIENT, PRESENTATION, "Local limit exceeded")),
    ],
)
def test_parse_rj_defined_codes(result, source, reason, texts):
    rejection = dul_codec.parse_rj(rj(result, source, reason))
    assert (rejection.result, rejection.source, rejection.reason) == (result, source, reason)
    assert (rejection.result_text, rejection.source_text, rejection.reason_text) == texts


# Reserved codes are still a rejection: decoded with their numbers, never an error.
@pytest.mark.parametrize(
    ("result", "source", "reason", "reserved"),
    [
        (1, 1, 0, "reason"),
        (1, 1, 4, "reason"),
        (1, 1, 8, "reason"),
        (1, 1, 255, "reason"),
        (1, 2, 3, "reason"),
        (2, 2, 0, "reason"),
        (1, 3, 0, "reason"),
        (2, 3, 3, "reason"),
        (2, 3, 7, "reason"),
        (3, 1, 7, "result"),
        (0, 1, 1, "result"),
    ],
)
def test_parse_rj_reserved_codes(result, source, reason, reserved):
    rejection = dul_codec.parse_rj(rj(result, source, reason))
    assert (rejection.result, rejection.source, rejection.reason) == (result, source, reason)
    text = rejection.reason_text if reserved == "reason" else rejection.result_text
    assert text.lower().startswith("reserved"), text


@pytest.mark.parametrize("source", [0, 4, 255])
def test_parse_rj_reserved_source(source):
    rejection = dul_codec.parse_rj(rj(1, source, 1))
    assert rejection.source == source
    assert rejection.source_text.lower().startswith("reserved")


# PS3.8 table 9-26: source 0 service user, 2 service provider; reasons only from the provider.
@pytest.mark.parametrize(
    ("source", "reason", "source_text", "reason_text"),
    [
        (0, 0, USER, "not specified"),
        (0, 5, USER, "not specified"),
        (2, 0, "DUL service-provider", "No reason given"),
        (2, 1, "DUL service-provider", "Unrecognised PDU"),
        (2, 2, "DUL service-provider", "Unexpected PDU"),
        (2, 4, "DUL service-provider", "Unrecognised PDU parameter"),
        (2, 5, "DUL service-provider", "Unexpected PDU parameter"),
        (2, 6, "DUL service-provider", "Invalid PDU parameter value"),
    ],
)
def test_parse_abort_defined_codes(source, reason, source_text, reason_text):
    parsed = dul_codec.parse_abort(abort(source, reason))
    assert (parsed.source, parsed.reason) == (source, reason)
    assert (parsed.source_text, parsed.reason_text) == (source_text, reason_text)


@pytest.mark.parametrize(
    ("source", "reason", "reserved"),
    [
        (2, 3, "reason"),
        (2, 7, "reason"),
        (2, 200, "reason"),
        (1, 0, "source"),
        (3, 0, "source"),
        (255, 2, "source"),
    ],
)
def test_parse_abort_reserved_codes(source, reason, reserved):
    parsed = dul_codec.parse_abort(abort(source, reason))
    assert (parsed.source, parsed.reason) == (source, reason)
    text = parsed.reason_text if reserved == "reason" else parsed.source_text
    assert text.lower().startswith("reserved"), text


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (dul_codec.parse_rj, b"\x03\x00\x00\x00\x00\x04\x00"),
        (dul_codec.parse_rj, b""),
        (dul_codec.parse_abort, b"\x07\x00\x00\x00"),
    ],
)
def test_malformed_pdus_raise_badpdu(parse, data):
    with pytest.raises(dul_codec.BadPdu, match="^malformed "):
        parse(data)


@pytest.mark.parametrize(
    ("source", "reason", "expected"),
    [
        (0, 0, b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"),
        (2, 1, b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x01"),
        (2, 2, b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x02"),
    ],
)
def test_abort_pdu(source, reason, expected):
    assert dul_codec.abort_pdu(source, reason) == expected
    assert (dul_codec.parse_abort(expected).source, dul_codec.parse_abort(expected).reason) == (source, reason)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0x0000, "Success"),
        (0x0122, "Failure: Refused: SOP Class Not Supported"),
        (0x0210, "Failure: Duplicate Invocation"),
        (0x0211, "Failure: Unrecognised Operation"),
        (0x0212, "Failure: Mistyped Argument"),
    ],
)
def test_status_text(code, text):
    assert dul_codec.status_text(code) == text


@pytest.mark.parametrize(
    ("calling", "called", "syntaxes", "max_pdu"),
    [
        ("ECHOSCU", "ANY-SCP", (IMPLICIT_VR_LE,), 16384),
        ("A", "B" * 16, (IMPLICIT_VR_LE, EXPLICIT_VR_LE), 0),
    ],
)
def test_associate_rq_carries_the_request(calling, called, syntaxes, max_pdu):
    from pynetdicom.pdu import A_ASSOCIATE_RQ

    data = dul_codec.associate_rq(
        EchoRequest(host="127.0.0.1", calling_aet=calling, called_aet=called, transfer_syntaxes=syntaxes,
                    max_pdu=max_pdu)
    )
    assert data[0] == 0x01
    assert struct.unpack(">L", data[2:6])[0] == len(data) - 6
    pdu = A_ASSOCIATE_RQ()
    pdu.decode(data)
    primitive = pdu.to_primitive()
    assert primitive.calling_ae_title.strip() == calling
    assert primitive.called_ae_title.strip() == called
    (context,) = primitive.presentation_context_definition_list
    assert context.abstract_syntax == VERIFICATION_SOP_CLASS
    assert [str(ts) for ts in context.transfer_syntax] == list(syntaxes)
    assert primitive.maximum_length_received == max_pdu


@pytest.mark.parametrize("message_id", [1, 2, 65535])
def test_echo_rq_pdus(message_id):
    pdus = dul_codec.echo_rq_pdus(message_id, 16384)
    assert pdus and all(p[0] == 0x04 for p in pdus)


@pytest.mark.parametrize("peer_max_pdu", [None, 0, 20, 100, 4096, 16384])
@pytest.mark.parametrize("message_id", [1, 2, 255, 256, 0x5A5A, 65535])
def test_patched_echo_rq_is_what_pynetdicom_encodes(message_id, peer_max_pdu):
    # The fast path patches the Message ID into a cached encoding: it must be byte-identical.
    assert dul_codec.echo_rq_pdus(message_id, peer_max_pdu) == dul_codec.encode_echo_rq(message_id, peer_max_pdu)


# -- pynetdicom is the authority: the same bytes, the same facts --------------------------------
# The codec encodes and decodes with struct; pynetdicom's classes (the pynetdicom_* functions)
# are the reference. Encoding must give identical bytes; decoding must give equal results,
# or the same BadPdu message, for valid, mutated and random input alike.

import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

AE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "\\")
KNOWN_SYNTAXES = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.50"]


def random_uid(rng: random.Random, longest: int = 64) -> str:
    while True:
        parts = [str(rng.choice([0, rng.randrange(1, 10), rng.randrange(1, 10**rng.randint(1, 12))]))
                 for _part in range(rng.randint(1, 12))]
        uid = ".".join(parts)
        if len(uid) <= longest:
            return uid


def random_ae(rng: random.Random) -> str:
    while True:
        ae = "".join(rng.choice(AE_CHARS) for _char in range(rng.randint(1, 16)))
        if ae.strip():
            return ae


def random_request(rng: random.Random) -> EchoRequest:
    pool = KNOWN_SYNTAXES + [random_uid(rng) for _uid in range(3)]
    syntaxes = tuple(rng.choice(pool) for _syntax in range(rng.randint(1, 5)))  # duplicates on purpose
    max_pdu = rng.choice([0, 4096, 16384, 65536, 2**32 - 1, rng.randrange(4096, 2**32)])
    return EchoRequest(host="127.0.0.1", calling_aet=random_ae(rng), called_aet=random_ae(rng),
                       transfer_syntaxes=syntaxes, max_pdu=max_pdu)


def identity_primitive(rng: random.Random) -> t.Any:
    from pynetdicom.pdu_primitives import UserIdentityNegotiation

    primitive = UserIdentityNegotiation()
    primitive.user_identity_type = rng.choice([1, 2, 3, 4, 5])
    primitive.primary_field = bytes(rng.randrange(256) for _byte in range(rng.randint(1, 300)))
    if primitive.user_identity_type == 2:
        primitive.secondary_field = bytes(rng.randrange(256) for _byte in range(rng.randint(1, 40)))
    primitive.positive_response_requested = rng.random() < 0.5
    return primitive


@pytest.mark.parametrize("seed", range(40))
def test_associate_rq_bytes_equal_pynetdicom(seed: int) -> None:
    rng = random.Random(seed)
    for _case in range(10):
        request = random_request(rng)
        identity = [identity_primitive(rng)] if rng.random() < 0.5 else []
        extra = [bytes(p.from_primitive().encode()) for p in identity]  # what _user_identity.encode_rq_item gives
        assert dul_codec.associate_rq(request, extra) == dul_codec.pynetdicom_associate_rq(request, identity), request


@pytest.mark.parametrize("peer_max_pdu", [None, 0, 7, 8, 20, 45, 80, 81, 82, 83, 4096, 2**32 - 1])
def test_echo_rq_bytes_equal_pynetdicom(peer_max_pdu: int | None) -> None:
    rng = random.Random(peer_max_pdu)
    for message_id in [1, 2, 255, 256, 65535] + [rng.randrange(1, 65536) for _id in range(20)]:
        assert dul_codec.echo_rq_pdus(message_id, peer_max_pdu) == dul_codec.encode_echo_rq(message_id, peer_max_pdu)


@pytest.mark.parametrize("peer_max_pdu", [1, 6])
def test_a_max_pdu_with_no_room_for_a_fragment_is_a_protocol_fault(peer_max_pdu: int) -> None:
    with pytest.raises((ValueError, ZeroDivisionError)):
        dul_codec.encode_echo_rq(1, peer_max_pdu)  # pynetdicom cannot encode it either
    with pytest.raises(dul_codec.BadPdu, match="no room for a C-ECHO-RQ"):
        dul_codec.echo_rq_pdus(1, peer_max_pdu)


def test_status_texts_equal_pynetdicom_for_every_code() -> None:
    for code in range(0x10000):
        assert dul_codec.status_text(code) == dul_codec.pynetdicom_status_text(code), hex(code)


def outcome(decode: t.Callable[[], t.Any]) -> t.Any:
    """A decoder's result, or its BadPdu message: what the engine would act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return decode()
        except dul_codec.BadPdu as exc:
            return ("BadPdu", str(exc))


def test_rj_and_abort_equal_pynetdicom_for_every_code() -> None:
    for result in range(6):
        for source in range(6):
            for reason in range(256):
                data = rj(result, source, reason)
                assert dul_codec.parse_rj(data) == outcome(lambda d=data: dul_codec.pynetdicom_parse_rj(d)), data
    for source in range(256):
        for reason in range(256):
            data = abort(source, reason)
            assert dul_codec.parse_abort(data) == outcome(lambda d=data: dul_codec.pynetdicom_parse_abort(d)), data
    for data in (b"", b"\x03\x00\x00\x00\x00\x04\x00", b"\x07\x00\x00\x00"):
        assert outcome(lambda d=data: dul_codec.parse_rj(d)) == outcome(lambda d=data: dul_codec.pynetdicom_parse_rj(d))
        assert outcome(lambda d=data: dul_codec.parse_abort(d)) == outcome(
            lambda d=data: dul_codec.pynetdicom_parse_abort(d))


# -- A-ASSOCIATE-AC ----------------------------------------------------------------------------


def item(item_type: int, value: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(value)) + value


def ac_bytes(rng: random.Random, request: EchoRequest) -> bytes:
    """A random A-ASSOCIATE-AC for ``request``, shaped as real peers shape them."""
    def uid(value: str) -> bytes:
        raw = value.encode()
        return raw + b"\x00" if rng.random() < 0.2 and len(raw) % 2 else raw

    contexts = []
    for context_id in rng.sample([1, 1, 3, 5, 255], rng.randint(0, 3)):
        code = rng.choice([0, 0, 0, 1, 2, 3, 4, 5, 200])
        choice = rng.random()
        if choice < 0.6:
            syntax = uid(rng.choice(request.transfer_syntaxes))
        elif choice < 0.8:
            syntax = uid(rng.choice(KNOWN_SYNTAXES))
        elif choice < 0.9:
            syntax = b""
        else:
            syntax = None
        sub = item(0x40, syntax) if syntax is not None else b""
        contexts.append(item(0x21, bytes((context_id, 0, code, 0)) + sub))
    user = []
    if rng.random() < 0.95:
        user.append(item(0x51, struct.pack(">L", rng.choice([0, 16384, 2**32 - 1, rng.randrange(2**32)]))))
    if rng.random() < 0.95:
        user.append(item(0x52, uid(random_uid(rng))))
    if rng.random() < 0.8:
        user.append(item(0x55, random_ae(rng).encode()))
    if rng.random() < 0.2:
        response = bytes(rng.randrange(256) for _byte in range(rng.randint(0, 40)))
        user.append(item(0x59, struct.pack(">H", len(response)) + response))
    if rng.random() < 0.05:
        user.append(item(0x53, struct.pack(">HH", 1, 1)))
    rng.shuffle(user)
    items = [item(0x10, uid(rng.choice([APPLICATION_CONTEXT, random_uid(rng)]))), *contexts, item(0x50, b"".join(user))]
    if rng.random() < 0.3:
        rng.shuffle(items)
    called = (rng.choice([request.called_aet, random_ae(rng), ""]).ljust(16)).encode()
    calling = request.calling_aet.ljust(16).encode()
    body = struct.pack(">HH", 1, 0) + called + calling + b"\x00" * 32 + b"".join(items)
    return struct.pack(">BBL", 0x02, 0, len(body)) + body


APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"


def mutate(rng: random.Random, data: bytes) -> bytes:
    """A few random byte changes, cuts and insertions past the header (as tests/functional/hostile_peers.py)."""
    out = bytearray(data)
    for _edit in range(rng.randint(1, 4)):
        at = rng.randrange(6, len(out)) if len(out) > 6 else 0
        roll = rng.random()
        if roll < 0.6:
            out[at] = rng.randrange(256)
        elif roll < 0.8:
            del out[at:at + rng.randint(1, 8)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _byte in range(rng.randint(1, 8)))
    if len(out) >= 6 and rng.random() < 0.8:
        out[2:6] = struct.pack(">L", len(out) - 6)
    return bytes(out)


def check_ac(data: bytes, request: EchoRequest) -> bool:
    """parse_ac agrees with pynetdicom; True when the fast path answered alone."""
    expected = outcome(lambda: dul_codec.pynetdicom_parse_ac(data, request))
    assert outcome(lambda: dul_codec.parse_ac(data, request)) == expected, data.hex()
    try:
        dul_codec._fast_parse_ac(data, request)
    except (dul_codec._Declined, struct.error):
        return False
    return True


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", range(20))
def test_ac_facts_equal_pynetdicom(seed: int) -> None:
    rng = random.Random(seed)
    fast = 0
    for _case in range(100):
        request = random_request(rng)
        data = ac_bytes(rng, request)
        fast += check_ac(data, request)
        for _mutation in range(3):
            check_ac(mutate(rng, data), request)
    assert fast >= 50, "the fast path declined most well-formed A-ASSOCIATE-ACs"


def pynetdicom_ac(request: EchoRequest, version_name: str = "PYNETDICOM_304") -> bytes:
    """The A-ASSOCIATE-AC a pynetdicom SCP builds for ``request`` (its first syntax accepted)."""
    from pynetdicom.pdu import A_ASSOCIATE_AC
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
    )
    from pynetdicom.presentation import PresentationContext

    ac = A_ASSOCIATE()
    ac.application_context_name = APPLICATION_CONTEXT
    ac.calling_ae_title = request.calling_aet
    ac.called_ae_title = request.called_aet
    ac.result = 0
    ac.result_source = 1
    context = PresentationContext()
    context.context_id = 1
    context.abstract_syntax = VERIFICATION_SOP_CLASS
    context.transfer_syntax = [request.transfer_syntaxes[0]]
    context.result = 0
    ac.presentation_context_definition_results_list = [context]
    length = MaximumLengthNotification()
    length.maximum_length_received = 16382
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = "1.2.826.0.1.3680043.9.3811.3.0.4"
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = version_name
    ac.user_information = [length, class_uid, version]
    return bytes(A_ASSOCIATE_AC(ac).encode())


@pytest.mark.filterwarnings("ignore")
def test_ac_from_pynetdicom_is_decoded_by_the_fast_path() -> None:
    """What a pynetdicom SCP sends (built by its own classes) never needs pynetdicom to read."""
    for syntaxes in [(IMPLICIT_VR_LE,), (EXPLICIT_VR_LE, IMPLICIT_VR_LE)]:
        request = EchoRequest(host="127.0.0.1", transfer_syntaxes=syntaxes)
        assert check_ac(pynetdicom_ac(request), request)


# -- P-DATA-TF: the C-ECHO-RSP ------------------------------------------------------------------


def element(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHL", 0, tag, len(value)) + value


def rsp_command(rng: random.Random) -> bytes:
    uid = b"1.2.840.10008.1.1\x00"
    elements = {
        0x0002: uid,
        0x0100: struct.pack("<H", rng.choice([0x8030] * 8 + [0x8001, 0x0030, 0x1234])),
        0x0120: struct.pack("<H", rng.randrange(65536)),
        0x0800: struct.pack("<H", rng.choice([0x0101] * 8 + [0x0000, 0x0102])),
        0x0900: struct.pack("<H", rng.choice([0, 0, 0x0122, 0xC000, 0xFE00, rng.randrange(65536)])),
    }
    if rng.random() < 0.2:
        elements[0x0902] = b"an error comment"  # (0000,0902) Error Comment, LO
    for tag in list(elements):
        if tag != 0x0100 and rng.random() < 0.05:
            del elements[tag]
    body = b"".join(element(tag, elements[tag]) for tag in sorted(elements))
    return element(0x0000, struct.pack("<L", len(body))) + body


def pdata(fragments: list[tuple[int, int, bytes]]) -> bytes:
    pdvs = b"".join(struct.pack(">LBB", len(f) + 2, cx, control) + f for cx, control, f in fragments)
    return struct.pack(">BBL", 0x04, 0, len(pdvs)) + pdvs


def rsp_pdus(rng: random.Random) -> list[bytes]:
    command = rsp_command(rng)
    context_id = rng.choice([1, 1, 1, 3])
    size = rng.choice([len(command), len(command), 1, 7, 16, 50])
    chunks = [command[at:at + size] for at in range(0, len(command), size)]
    fragments = [(context_id, 0x01 | (0x02 if i == len(chunks) - 1 else 0), c) for i, c in enumerate(chunks)]
    if rng.random() < 0.3:  # several PDVs in one PDU
        return [pdata(fragments)]
    return [pdata([f]) for f in fragments]


def assemble(assembler: t.Any, pdus: list[bytes]) -> t.Any:
    def run() -> t.Any:
        for index, pdu in enumerate(pdus):
            response = assembler.feed(pdu)
            if response is not None:
                return index, response
        return None

    return outcome(run)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", range(20))
def test_echo_rsp_facts_equal_pynetdicom(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _case in range(60):
        pdus = rsp_pdus(rng)
        expected = assemble(dul_codec.PynetdicomAssembler(), pdus)
        assert assemble(dul_codec.ResponseAssembler(), pdus) == expected, [p.hex() for p in pdus]
        for _mutation in range(3):
            damaged = list(pdus)
            at = rng.randrange(len(damaged))
            damaged[at] = mutate(rng, damaged[at])
            expected = assemble(dul_codec.PynetdicomAssembler(), damaged)
            assert assemble(dul_codec.ResponseAssembler(), damaged) == expected, [p.hex() for p in damaged]


def test_echo_rsp_from_pynetdicom_is_decoded_by_the_fast_path() -> None:
    from pynetdicom.dimse_messages import C_ECHO_RSP
    from pynetdicom.dimse_primitives import C_ECHO
    from pynetdicom.pdu import P_DATA_TF

    for status in (0x0000, 0x0122, 0xC000):
        primitive = C_ECHO()
        primitive.MessageIDBeingRespondedTo = 7
        primitive.AffectedSOPClassUID = VERIFICATION_SOP_CLASS
        primitive.Status = status
        message = C_ECHO_RSP()
        message.primitive_to_message(primitive)
        for max_pdu in (0, 16384, 40):
            pdus = [bytes(P_DATA_TF(p).encode()) for p in message.encode_msg(1, max_pdu)]
            assembler = dul_codec.ResponseAssembler()
            responses = [assembler.feed(p) for p in pdus]
            assert responses[-1] == dul_codec.EchoResponse(7, status, 1)
            assert assembler._reference is None  # pynetdicom was not needed


def test_the_hot_path_imports_neither_pynetdicom_nor_pydicom() -> None:
    """Encode a request, decode an AC and a C-ECHO-RSP: not one pynetdicom or pydicom module loaded."""
    code = f"""
import random, struct, sys
sys.path[:0] = {sys.path!r}
from ansible_collections.dicom.network.plugins.module_utils import _dul_codec as dul_codec
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest
from ansible_collections.dicom.network.tests.unit.plugins.module_utils import test__dul_codec as tests
assert "pynetdicom" not in sys.modules and "pydicom" not in sys.modules, "imported by the test module"
request = EchoRequest(host="127.0.0.1")
dul_codec.associate_rq(request)
dul_codec.echo_rq_pdus(1, 16384)
ac = tests.ac_bytes(random.Random(3), request)
dul_codec.parse_ac(ac, request)
rsp = tests.pdata([(1, 3, tests.element(0x0100, struct.pack("<H", 0x8030)) + tests.element(0x0800, b"\\x01\\x01"))])
print(dul_codec.ResponseAssembler().feed(rsp))
dul_codec.parse_rj(tests.rj(1, 1, 7)); dul_codec.parse_abort(tests.abort(2, 2)); dul_codec.status_text(0x0122)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pynetdicom", "pydicom"))
assert not loaded, loaded
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def structural_rsp(rng: random.Random) -> list[bytes]:
    """PDUs whose lengths, flags, groups and tags sit on the edges the decoders must agree on."""
    elements = []
    for tag in sorted(rng.sample([0x0000, 0x0002, 0x0100, 0x0110, 0x0120, 0x0800, 0x0900, 0x0902], rng.randint(1, 8))):
        value = {0x0100: struct.pack("<H", 0x8030), 0x0800: b"\x01\x01"}.get(tag, struct.pack("<H", rng.randrange(9)))
        value = rng.choice([value] * 6 + [b"", b"\x01", value + b"\x00", value * 2])
        group = rng.choice([0] * 12 + [2, 8])
        length = rng.choice([len(value)] * 12 + [0xFFFFFFFF, len(value) + 1])
        elements.append(struct.pack("<HHL", group, tag, length) + value)
    if rng.random() < 0.1:
        rng.shuffle(elements)
    if rng.random() < 0.1:
        elements.append(elements[-1])
    command = b"".join(elements) + rng.choice([b""] * 10 + [b"\x00", b"\x00" * 7])
    pdvs = []
    for index in range(rng.randint(1, 3)):
        fragment = command if index == 0 else rng.choice([b"", b"\x00", command[:5]])
        control = rng.choice([3, 3, 3, 1, 2, 0, 7, 0xFF])
        length = rng.choice([len(fragment) + 2] * 8 + [0, 1, 2, len(fragment) + 3])
        pdvs.append(struct.pack(">LBB", length, rng.choice([1, 1, 3]), control) + fragment)
    body = b"".join(pdvs)[: rng.choice([None] * 9 + [rng.randrange(1, 12)])]
    pdu = struct.pack(">BBL", 0x04, 0, len(body)) + body
    return rng.choice([[pdu], [pdu, pdu], [pdata([]), pdu]])


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", range(10))
def test_echo_rsp_edges_equal_pynetdicom(seed: int) -> None:
    rng = random.Random(2000 + seed)
    for _case in range(300):
        pdus = structural_rsp(rng)
        expected = assemble(dul_codec.PynetdicomAssembler(), pdus)
        assert assemble(dul_codec.ResponseAssembler(), pdus) == expected, [p.hex() for p in pdus]


def structural_ac(rng: random.Random, request: EchoRequest) -> bytes:
    """An A-ASSOCIATE-AC taken apart and put together with edge-case lengths and values."""
    data = bytearray(ac_bytes(rng, request))
    items = []
    at = 74
    while at + 4 <= len(data):
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        items.append(bytes(data[at:at + 4 + length]))
        at += 4 + length
    edits = rng.randint(1, 3)
    for _edit in range(edits):
        if not items:
            break
        index = rng.randrange(len(items))
        chosen = bytearray(items[index])
        roll = rng.random()
        if roll < 0.1:
            items.insert(index, bytes(chosen))  # an item twice
        elif roll < 0.18:
            items.insert(index, item(0x50, item(0x51, struct.pack(">L", rng.randrange(2**32)))))  # a second, different
        elif roll < 0.25 and chosen[0] == 0x21:
            items[index] = item(0x21, bytes(chosen[4:8]) + item(0x40, rng.choice(KNOWN_SYNTAXES).encode())
                                + bytes(chosen[8:]))  # two transfer syntaxes
        elif roll < 0.5:
            struct.pack_into(">H", chosen, 2, max(0, len(chosen) - 4 + rng.choice([-1, 1, 4])))
            items[index] = bytes(chosen)
        elif roll < 0.65:
            del items[index]
        elif roll < 0.8 and len(chosen) > 8:
            chosen[4] = rng.choice([0, 2, 4, 254, 255])  # context ID, or the first byte of a value
            items[index] = bytes(chosen)
        else:
            value = rng.choice([b"", b" ", b"1.2.3 ", b"01.2", b"1..2", b"1.2\x00\x00", b"A" * 17, b"\xff\xfe",
                                b"ab\\c", b"1." * 40 + b"1", b"1." * 32 + b"1", b"\t"])
            sub = bytes((rng.choice([0x10, 0x40, 0x40, 0x52, 0x55, 0x51, 0x59, 0x30, 0x20, 0x99]), 0)) + struct.pack(
                ">H", len(value)) + value
            items.insert(index, sub if rng.random() < 0.5 else item(0x50, sub))
    body = bytes(data[6:74]) + b"".join(items)
    if rng.random() < 0.2:
        body = body[:10] + rng.choice([b"\xff" * 16, b"\x00" * 16, b"  PACS\t        "]) + body[26:]
    return struct.pack(">BBL", 0x02, 0, len(body)) + body


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", range(10))
def test_ac_edges_equal_pynetdicom(seed: int) -> None:
    rng = random.Random(3000 + seed)
    for _case in range(150):
        request = random_request(rng)
        check_ac(structural_ac(rng, request), request)


def build_ac(app: bytes = APPLICATION_CONTEXT.encode(), contexts: t.Sequence[tuple[int, int, list[bytes]]] = (),
             user: t.Sequence[tuple[int, bytes]] = ()) -> bytes:
    items = [item(0x10, app)]
    items += [item(0x21, bytes((cx, 0, code, 0)) + b"".join(item(0x40, ts) for ts in syntaxes))
              for cx, code, syntaxes in contexts]
    items.append(item(0x50, b"".join(item(sub, value) for sub, value in user)))
    body = struct.pack(">HH", 1, 0) + b"ANY-SCP".ljust(16) + b"ECHOSCU".ljust(16) + b"\x00" * 32 + b"".join(items)
    return struct.pack(">BBL", 0x02, 0, len(body)) + body


EDGE_VALUES = [b"", b" ", b"1.2.3 ", b" 1.2.3", b"01.2", b"1..2", b"1.2.", b"1.2\x00", b"1.2\x00\x00", b"1.2.3\x00",
               b"1." * 32 + b"1", b"1." * 31 + b"12", b"1." * 31 + b"1\x00", b"A" * 16, b"A" * 17, b"\xff\xfe",
               b"ab\\c", b"ab\tc", b" PACS ", b"        ", b"\x7f", b"~"]
GOOD_USER = [(0x51, struct.pack(">L", 16384)), (0x52, b"1.2.3.4"), (0x55, b"PEER_1")]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("value", EDGE_VALUES, ids=repr)
def test_ac_edge_values_equal_pynetdicom(value: bytes) -> None:
    request = EchoRequest(host="127.0.0.1", transfer_syntaxes=(IMPLICIT_VR_LE, "1.2"))
    cases = [build_ac(app=value, contexts=[(1, 0, [IMPLICIT_VR_LE.encode()])], user=GOOD_USER)]
    for code in (0, 1, 3, 4, 9):
        cases.append(build_ac(contexts=[(1, code, [value])], user=GOOD_USER))
        cases.append(build_ac(contexts=[(3, code, [value]), (1, 0, [b"1.2"])], user=GOOD_USER))
        cases.append(build_ac(contexts=[(1, code, [b"1.2", value])], user=GOOD_USER))
    for sub in (0x52, 0x55):
        cases.append(build_ac(contexts=[(1, 0, [b"1.2"])], user=[(s, value if s == sub else v) for s, v in GOOD_USER]))
    for data in cases:
        check_ac(data, request)


@pytest.mark.filterwarnings("ignore")
def test_context_result_texts_equal_pynetdicom_for_every_code() -> None:
    """PS3.8 table 9-18: the result/reason of our context, every byte value, as pynetdicom words it."""
    request = EchoRequest(host="127.0.0.1")
    for code in range(256):
        data = build_ac(contexts=[(1, code, [IMPLICIT_VR_LE.encode()])], user=GOOD_USER)
        assert check_ac(data, request), code  # the fast path answers for every code
        (entry,) = [*dul_codec.parse_ac(data, request).accepted, *dul_codec.parse_ac(data, request).rejected]
        assert entry["result_code"] == code
