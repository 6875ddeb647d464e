# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hint for every failure class and cause (_hints), table-driven over engine-shaped results."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.dicom.network.plugins.module_utils._hints import (
    TLS_KINDS,
    hint_for,
    no_context_cause,
    tls_kind,
)
from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult, Failure


def result(failure: Failure | None, msg: str = "why", assoc: dict[str, t.Any] | None = None,
           **fields: t.Any) -> dict[str, t.Any]:
    """A result dict as the engine returns it, with the failure and facts given."""
    r = EchoResult(name="pacs:11112", host="pacs", port=11112)
    if failure is None:
        r.ok = True
    else:
        r.fail(failure, msg, (assoc or {}).get("result"))
    r.association.update(assoc or {})
    d = r.as_dict()
    d.update(fields)
    return d


def rejected(kind: int, source: int, reason: int, **fields: t.Any) -> dict[str, t.Any]:
    return result(Failure.REJECTED, "association rejected", {
        "result": "rejected", "phase": "associate",
        "reject_result": kind, "reject_source": source, "reject_reason": reason,
    }, **fields)


def no_context(code: int | None) -> dict[str, t.Any]:
    return result(Failure.NO_CONTEXT, "no acceptable presentation context", {"result": "accepted", "phase": "release"},
                  rejected_contexts=[{"context_id": 1, "abstract_syntax": "1.2.840.10008.1.1",
                                      "transfer_syntax": None, "result": "x", "result_code": code}])


def echo_status(status: int) -> dict[str, t.Any]:
    return result(Failure.ECHO, f"C-ECHO 1 failed with status 0x{status:04X}",
                  {"result": "accepted", "phase": "release", "released": True},
                  status=status, echoes=[{"message_id": 1, "status": status, "rtt_ms": 1.0}])


OK_ECHO = [{"message_id": 1, "status": 0, "rtt_ms": 1.0}]

# (case id, result, words the hint must contain (case-insensitive), words it must not contain)
CASES: list[tuple[str, dict[str, t.Any], tuple[str, ...], tuple[str, ...]]] = [
    ("usage", result(Failure.USAGE, "port: must be between 1 and 65535"), ("option",), ()),
    ("usage-pynetdicom", result(Failure.USAGE, "pynetdicom is not installed: No module"), ("pip install",), ()),
    ("refused", result(Failure.CONNECT, "cannot connect: connection refused by ::1 port 11112",
                       {"result": "refused", "phase": "connect"}), ("listens", "pacs port 11112", "firewall"), ()),
    ("unresolvable", result(Failure.CONNECT, "cannot connect: cannot resolve host name 'pacs': Name or service not"
                            " known", {"result": "unreachable", "phase": "connect"}), ("dns", "pacs"), ()),
    ("bad-address", result(Failure.CONNECT, "cannot connect: cannot use address fe80::1: bad",
                           {"result": "unreachable", "phase": "connect"}), ("address",), ()),
    ("unreachable", result(Failure.CONNECT, "cannot connect: 10.0.0.1 port 104 is unreachable: No route to host",
                           {"result": "unreachable", "phase": "connect"}), ("routes",), ()),
    ("connect-timeout", result(Failure.CONNECT, "no TCP connection to pacs:11112 within 3 s (connect timeout)",
                               {"result": "timeout", "phase": "connect"}), ("firewall", "drops"), ()),
    ("connect-deadline", result(Failure.CONNECT, "no TCP connection to pacs:11112: the overall deadline of 1 s ran"
                                " out", {"result": "timeout", "phase": "connect"}), ("deadline",), ()),
    # PS3.8 table 9-21, every defined (source, reason), permanent and transient.
    ("rj-1-1", rejected(1, 1, 1), ("log", "calling ae title", "called ae title"), ("later",)),
    ("rj-1-2", rejected(1, 1, 2), ("application context",), ("later",)),
    ("rj-1-3", rejected(1, 1, 3), ("calling ae title", "register"), ("later",)),
    ("rj-1-7", rejected(1, 1, 7), ("called ae title", "calling ae title", "may also"), ("later",)),
    ("rj-2-1", rejected(1, 2, 1), ("log",), ("later",)),
    ("rj-2-2", rejected(1, 2, 2), ("protocol version",), ("later",)),
    ("rj-3-1-permanent", rejected(1, 3, 1), ("congestion",), ("later", "again")),
    ("rj-3-1-transient", rejected(2, 3, 1), ("congestion", "later"), ()),
    ("rj-3-2-transient", rejected(2, 3, 2), ("simultaneous associations", "later"), ()),
    ("rj-reserved", rejected(1, 1, 9), ("reserves", "reason 9"), ("later",)),
    ("rj-reserved-source", rejected(1, 5, 1), ("reserves", "source 5"), ("later",)),
    ("rj-identity", rejected(1, 1, 1, user_identity={"type": "username_password", "positive_response_requested":
                                                     False, "positive_response": None}),
     ("user identity", "username_password", "password"), ("later",)),
    # pynetdicom refuses an identity its handler rejects with a transient ACSE rejection (2, 2, 1).
    ("rj-identity-acse", rejected(2, 2, 1, user_identity={"type": "username", "positive_response_requested":
                                                          False, "positive_response": None}),
     ("user identity", "username", "later"), ()),
    # PS3.8 table 9-18, every result code of the one context.
    ("cx-user", no_context(1), ("verification",), ()),
    ("cx-no-reason", no_context(2), ("log",), ()),
    ("cx-abstract", no_context(3), ("does not offer verification",), ()),
    ("cx-transfer", no_context(4), ("transfer syntaxes", "implicit vr little endian"), ()),
    ("cx-unproposed", no_context(0), ("did not propose",), ()),
    ("cx-unanswered", no_context(None), ("does not answer",), ()),
    ("cx-reserved", no_context(7), ("reserved result code (7)",), ()),
    # Aborts by the peer, in each phase.
    ("abort-user-echo", result(Failure.ECHO, "the peer aborted", {
        "result": "aborted", "phase": "echo", "aborted_by": "peer", "abort_source": 0, "abort_reason": 0}),
     ("calling ae title", "orthanc", "during the c-echo"), ()),
    ("abort-provider", result(Failure.ASSOCIATION, "the peer aborted", {
        "result": "aborted", "phase": "associate", "aborted_by": "peer", "abort_source": 2, "abort_reason": 2,
        "abort_reason_text": "unexpected PDU"}), ("unexpected pdu", "debug trace"), ()),
    ("abort-reserved-source", result(Failure.ASSOCIATION, "the peer aborted", {
        "result": "aborted", "phase": "associate", "aborted_by": "peer", "abort_source": 1, "abort_reason": 0}),
     ("log",), ()),
    ("closed-associate", result(Failure.ASSOCIATION, "the peer closed the connection while waiting for"
                                " A-ASSOCIATE-AC", {"result": "aborted", "phase": "associate"}),
     ("address", "tls"), ()),
    ("closed-echo", result(Failure.ECHO, "the peer reset the connection during the C-ECHO",
                           {"result": "aborted", "phase": "echo"}), ("during the c-echo", "log"), ()),
    # Timeouts, the msg says which.
    ("acse-timeout", result(Failure.ASSOCIATION, "no answer while waiting for A-ASSOCIATE-AC within 30 s (ACSE"
                            " timeout)", {"result": "timeout", "phase": "associate"}), ("tls", "overloaded"), ()),
    ("dimse-timeout", result(Failure.ECHO, "no answer while waiting for the C-ECHO-RSP to message 1 within 30 s"
                             " (DIMSE timeout)", {"result": "timeout", "phase": "echo"}), ("dimse timeout",), ()),
    ("deadline", result(Failure.ECHO, "no answer while waiting for the C-ECHO-RSP to message 1: the overall"
                        " deadline of 2 s ran out", {"result": "timeout", "phase": "echo"}),
     ("deadline", "during the c-echo"), ()),
    # Release without A-RELEASE-RP, after successful echoes.
    ("release-closed", result(Failure.ASSOCIATION, "the peer closed the connection while waiting for A-RELEASE-RP",
                              {"result": "aborted", "phase": "release"}, echoes=OK_ECHO, status=0),
     ("c-echo succeeded", "release"), ()),
    ("release-timeout", result(Failure.ASSOCIATION, "no answer while waiting for A-RELEASE-RP within 1 s (ACSE"
                               " timeout)", {"result": "timeout", "phase": "release"}, echoes=OK_ECHO, status=0),
     ("c-echo succeeded", "in time"), ()),
    ("release-protocol", result(Failure.ASSOCIATION, "protocol error during release: the peer sent a P-DATA-TF",
                                {"result": "protocol_error", "phase": "release"}, echoes=OK_ECHO, status=0),
     ("c-echo succeeded", "wrong pdu"), ()),
    # Protocol errors.
    ("not-dicom", result(Failure.ASSOCIATION, "protocol error during association negotiation: the peer answered"
                         " with bytes that are not DICOM: 'HTTP/1.1'",
                         {"result": "protocol_error", "phase": "associate"}),
     ("not dicom", "port 11112"), ()),
    ("bad-pdu", result(Failure.ASSOCIATION, "protocol error during association negotiation: malformed"
                       " A-ASSOCIATE-AC PDU", {"result": "protocol_error", "phase": "associate"}),
     ("ps3.8", "vendor"), ()),
    ("message-id", result(Failure.ECHO, "protocol error during the C-ECHO: the C-ECHO-RSP answers message ID 7,"
                          " not 1", {"result": "protocol_error", "phase": "echo"}), ("another message",), ()),
    # C-ECHO statuses (PS3.7 9.1.5.1.4, C.4).
    ("status-0122", echo_status(0x0122), ("0x0122", "enabled"), ()),
    ("status-0210", echo_status(0x0210), ("0x0210", "duplicate"), ()),
    ("status-0211", echo_status(0x0211), ("0x0211",), ()),
    ("status-0212", echo_status(0x0212), ("0x0212",), ()),
    ("status-a700", echo_status(0xA700), ("out of resources", "0xA700"), ()),
    ("status-b000", echo_status(0xB000), ("warning", "0xB000"), ()),
    ("status-ff00", echo_status(0xFF00), ("pending", "0xFF00"), ()),
    ("status-c001", echo_status(0xC001), ("0xC001", "log"), ()),
    # User identity: positive response asked for and missing (an association failure, exit 6).
    ("no-positive-response", result(Failure.ASSOCIATION, "the peer accepted the association without the user"
                                    " identity positive response that was asked for",
                                    {"result": "accepted", "phase": "associate"},
                                    user_identity={"type": "username", "positive_response_requested": True,
                                                   "positive_response": False}),
     ("positive response",), ()),
    ("internal", result(Failure.ASSOCIATION, "internal error during the C-ECHO: ValueError: x",
                        {"result": "accepted", "phase": "echo"}), ("bug",), ()),
    ("no-verdict-class", result(None) | {"ok": False}, ("bug",), ()),
]
# TLS: every kind, from the key the engine sets and from the msg alone.
CASES += [
    (f"tls-{kind}", result(Failure.ASSOCIATION, "TLS handshake failed",
                           {"result": "tls_error", "phase": "connect", "tls_error": kind}) | {"failure": "tls"},
     (), ())
    for kind in TLS_KINDS
]
# The one-line messages of _tls (the TLS work), each read back to its kind.
TLS_MESSAGES = [
    ("unknown_ca", "TLS: the peer's certificate (CN=pacs) is self-signed: trust its CA (+cf / tls_ca_file), or"
                   " skip verification (-ic / tls_verify: false)"),
    ("unknown_ca", "TLS: the peer's certificate (CN=pacs, issued by CN=Other CA) is not signed by a CA we trust:"
                   " trust its CA (+cf / tls_ca_file)"),
    ("hostname_mismatch", "TLS: the peer's certificate does not match the name 'pacs': it is for DNS:other;"
                          " connect by a name it carries or set the expected name"),
    ("expired", "TLS: the peer's certificate (CN=pacs) expired on 2026-01-01T00:00:00Z: the PACS needs a renewed"
                " certificate"),
    ("not_yet_valid", "TLS: the peer's certificate (CN=pacs) is not valid before 2027-01-01T00:00:00Z: check the"
                      " clocks of this machine and of the PACS"),
    ("bad_certificate", "TLS: the peer's certificate was not accepted: unsuitable certificate purpose"),
    ("client_cert_refused", "TLS: the peer refused our client certificate client.pem (certificate expired): the"
                            " PACS must trust the CA that issued it"),
    ("client_cert_refused", "TLS: the peer asked for our client certificate (client.pem), then closed without a"
                            " word: it probably does not trust it"),
    ("client_cert_required", "TLS: the peer requires a client certificate: give one with its key"),
    ("protocol_version", "TLS: the peer accepts no TLS version we offer (TLS 1.3 or later)"),
    ("not_tls", "TLS: the peer does not speak TLS on this port (it answered the TLS handshake with bytes that are"
                " not TLS): use its TLS port"),
    ("not_tls", "TLS: the peer reset the connection at our TLS handshake without a TLS answer: it does not speak"
                " TLS on this port"),
    ("peer_speaks_tls", "TLS: the peer speaks TLS on this port and we spoke plain DICOM: use TLS"),
    ("handshake_failed", "TLS: the peer ended the handshake (handshake failure): it may require a client"
                         " certificate, or share no cipher suite with us"),
    ("handshake_failed", "TLS: the handshake failed: decryption failed or bad record mac"),
]


@pytest.mark.parametrize(("kind", "msg"), TLS_MESSAGES)
def test_tls_kind_read_from_the_message(kind, msg):
    res = result(Failure.ASSOCIATION, msg, {"result": "tls_error", "phase": "connect"}) | {"failure": "tls"}
    assert tls_kind(res) == kind
    hint = hint_for(res)
    assert hint.endswith(".") and "\n" not in hint


CASES += [
    ("tls-other", result(Failure.ASSOCIATION, "TLS: something new",
                         {"result": "tls_error", "phase": "connect"}) | {"failure": "tls"}, ("tls",), ()),
    ("tls-msg-expired", result(Failure.ASSOCIATION, "TLS: the peer's certificate has expired (2026-01-01)",
                               {"result": "tls_error", "phase": "connect"}) | {"failure": "tls"}, ("renew",), ()),
    ("tls-msg-hostname", result(Failure.ASSOCIATION, "TLS: host name mismatch: the certificate is for other.example",
                                {"result": "tls_error", "phase": "connect"}) | {"failure": "tls"},
     ("pacs", "server name"), ()),
]


@pytest.mark.parametrize(("case", "res", "words", "banned"), CASES, ids=[c[0] for c in CASES])
def test_every_failure_has_a_hint(case, res, words, banned):
    hint = hint_for(res, calling_aet="ECHOSCU", called_aet="PACS")
    assert hint, case
    # One sentence on one line, ending as a sentence does.
    assert "\n" not in hint and hint.endswith(".") and hint[0].isupper()
    assert len(hint) < 400
    low = hint.lower()
    for word in words:
        assert word.lower() in low, (case, word, hint)
    for word in banned:
        assert word.lower() not in low, (case, word, hint)


@pytest.mark.parametrize("kind", sorted(TLS_KINDS))
def test_each_tls_kind_has_its_own_hint(kind):
    hints = {
        k: hint_for(result(Failure.ASSOCIATION, "TLS", {"result": "tls_error", "tls_error": k})) for k in TLS_KINDS
    }
    assert len(set(hints.values())) == len(TLS_KINDS)
    assert tls_kind({"association": {"tls_error": kind}}) == kind


def test_success_has_no_hint():
    assert hint_for(result(None, "1 C-ECHO returned Success")) is None


def test_reason_7_claims_no_more_than_the_answer_proves():
    hint = hint_for(rejected(1, 1, 7), calling_aet="MONITOR", called_aet="PACS")
    assert "'PACS'" in hint and "'MONITOR'" in hint
    assert "may also" in hint


@pytest.mark.parametrize("source_reason", [(1, 1), (1, 2), (1, 3), (1, 7), (2, 1), (2, 2), (3, 1), (3, 2), (1, 4)])
def test_permanent_rejection_never_says_try_again(source_reason):
    hint = hint_for(rejected(1, *source_reason)).lower()
    assert "later" not in hint and "again" not in hint and "retry" not in hint
    assert "later" in hint_for(rejected(2, *source_reason)).lower()


def test_hint_names_the_titles_only_when_known():
    assert "''" not in hint_for(rejected(1, 1, 7))
    assert "called AE title is exactly" in hint_for(rejected(1, 1, 7))


@pytest.mark.parametrize(("code", "words"), [
    (3, "abstract syntax not supported"), (4, "transfer syntaxes not supported"), (0, "did not propose"),
    (1, "user rejection"), (2, "no reason"), (None, "did not answer"), (9, "reserved result 9"),
])
def test_no_context_cause(code, words):
    assert words in no_context_cause(no_context(code))


def test_no_context_cause_without_contexts():
    assert no_context_cause(result(None)) is None


def test_hint_survives_odd_results():
    # Missing or mistyped keys must not raise: hints are computed for every result.
    for odd in ({}, {"ok": False}, {"failure": "rejected"}, {"failure": "no_context", "rejected_contexts": ["x"]},
                {"failure": "echo", "association": None, "echoes": [None]}, {"failure": "connect", "peer": "x"}):
        assert hint_for(odd)
