# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoding of A-ASSOCIATE-RJ and A-ABORT, and the PDUs we send (dul_codec), table-driven."""

from __future__ import annotations

import struct

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
