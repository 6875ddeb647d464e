# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's validation of what the user asks (echo_request), table-driven."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _record, echo_request
from ansible_collections.dicom.network.plugins.module_utils.echo_request import (
    DEFAULT_TRANSFER_SYNTAXES,
    EXPLICIT_VR_BE,
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    EchoRequest,
    RequestError,
    ae_title_problem,
    host_problem,
    resolve_transfer_syntax,
    transfer_syntaxes_for,
    validate,
)

GOOD = EchoRequest(host="127.0.0.1", port=11112)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("A" * 17, "must be at most 16 characters (got 17)"),
        ("A" * 64, "must be at most 16 characters (got 64)"),
        ("", "must not be empty or only spaces"),
        (" ", "must not be empty or only spaces"),
        (" " * 16, "must not be empty or only spaces"),
        ("PACSÉ", "must use only ASCII characters"),
        ("ÜBER", "must use only ASCII characters"),
        ("PACS\\1", "must not contain a backslash"),
        ("PACS\x01", "must not contain control characters"),
        ("PA\tCS", "must not contain control characters"),
        ("PACS\n", "must not contain control characters"),
        ("PACS\x7f", "must not contain control characters"),
        (None, "must be a string"),
        (104, "must be a string"),
    ],
)
def test_ae_title_problems(value, problem):
    assert ae_title_problem(value) == problem


@pytest.mark.parametrize("value", ["A", "ANY-SCP", "ECHOSCU", "A" * 16, "MY AE", " PACS", "pacs_1", "!#$%&'()*+,-./:"])
def test_ae_title_accepted(value):
    assert ae_title_problem(value) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("calling_aet", "ABCDEFGHIJKLMNOPQ", "calling_aet: must be at most 16 characters (got 17)"),
        ("called_aet", "ABCDEFGHIJKLMNOPQ", "called_aet: must be at most 16 characters (got 17)"),
        ("calling_aet", "", "calling_aet: must not be empty or only spaces"),
        ("called_aet", "   ", "called_aet: must not be empty or only spaces"),
        ("called_aet", "PAČS", "called_aet: must use only ASCII characters"),
        ("calling_aet", "A\\B", "calling_aet: must not contain a backslash"),
        ("called_aet", "A\x00B", "called_aet: must not contain control characters"),
        ("port", 0, "port: must be between 1 and 65535 (got 0)"),
        ("port", 70000, "port: must be between 1 and 65535 (got 70000)"),
        ("port", 65536, "port: must be between 1 and 65535 (got 65536)"),
        ("port", -1, "port: must be between 1 and 65535 (got -1)"),
        ("port", True, "port: must be an integer"),
        ("port", "104", "port: must be an integer"),
        ("max_pdu", 100, "max_pdu: must be 0 (unlimited) or between 4096 and 4294967295 (got 100)"),
        ("max_pdu", 4095, "max_pdu: must be 0 (unlimited) or between 4096 and 4294967295 (got 4095)"),
        ("max_pdu", 2**32, "max_pdu: must be 0 (unlimited) or between 4096 and 4294967295 (got 4294967296)"),
        ("max_pdu", -1, "max_pdu: must be 0 (unlimited) or between 4096 and 4294967295 (got -1)"),
        ("max_pdu", 1.5, "max_pdu: must be an integer"),
        ("connect_timeout", 0, "connect_timeout: must be greater than 0 seconds"),
        ("connect_timeout", -1.0, "connect_timeout: must be greater than 0 seconds"),
        ("acse_timeout", 0.0, "acse_timeout: must be greater than 0 seconds"),
        ("acse_timeout", float("nan"), "acse_timeout: must be greater than 0 seconds"),
        ("dimse_timeout", -0.5, "dimse_timeout: must be greater than 0 seconds"),
        ("dimse_timeout", float("inf"), "dimse_timeout: must be greater than 0 seconds"),
        ("deadline", 0, "deadline: must be greater than 0 seconds"),
        ("deadline", "10", "deadline: must be a number of seconds"),
        ("connect_timeout", True, "connect_timeout: must be a number of seconds"),
        ("repeat", 0, "repeat: must be between 1 and 100000 (got 0)"),
        ("repeat", -3, "repeat: must be between 1 and 100000 (got -3)"),
        ("repeat", 100_001, "repeat: must be between 1 and 100000 (got 100001)"),
        ("abort", "yes", "abort: must be true or false"),
        ("transfer_syntaxes", (), "transfer_syntaxes: must name at least one transfer syntax"),
        ("transfer_syntaxes", ("1.2.3.",), "transfer_syntaxes: '1.2.3.' is not a valid UID"),
        ("transfer_syntaxes", ("abc",), "transfer_syntaxes: 'abc' is not a valid UID"),
        ("transfer_syntaxes", ("1.02.3",), "transfer_syntaxes: '1.02.3' is not a valid UID"),
        ("transfer_syntaxes", ("1.2.840.10008.1.2\n",), "transfer_syntaxes: '1.2.840.10008.1.2\\n' is not a valid UID"),
        ("transfer_syntaxes", ("1." * 32 + "1",), f"transfer_syntaxes: {'1.' * 32 + '1'!r} is not a valid UID"),
        ("transfer_syntaxes", (IMPLICIT_VR_LE,) * 65, "transfer_syntaxes: must name at most 64 transfer syntaxes"),
        ("host", "", "host: must be a host name or an IP address"),
        ("host", "bad host", "host: 'bad host' is not a valid host name or IP address"),
        ("host", "-pacs", "host: '-pacs' is not a valid host name or IP address"),
        ("host", "a" * 64 + ".example", f"host: {'a' * 64 + '.example'!r} is not a valid host name or IP address"),
    ],
)
def test_validate_names_the_option(field, value, message):
    with pytest.raises(RequestError) as exc:
        validate(dataclasses.replace(GOOD, **{field: value}))
    assert str(exc.value) == message
    assert exc.value.option == field


@pytest.mark.parametrize(
    ("changes", "expected_host"),
    [
        ({}, "127.0.0.1"),
        ({"host": "[::1]"}, "::1"),
        ({"host": "::1"}, "::1"),
        ({"host": "pacs.example.org."}, "pacs.example.org."),
        ({"host": "localhost"}, "localhost"),
        ({"port": 1}, "127.0.0.1"),
        ({"port": 65535}, "127.0.0.1"),
        ({"max_pdu": 0}, "127.0.0.1"),
        ({"max_pdu": 4096}, "127.0.0.1"),
        ({"max_pdu": 2**32 - 1}, "127.0.0.1"),
        ({"connect_timeout": None, "acse_timeout": None, "dimse_timeout": None, "deadline": None}, "127.0.0.1"),
        ({"connect_timeout": 0.001, "deadline": 1e-3}, "127.0.0.1"),
        ({"repeat": 100_000}, "127.0.0.1"),
        ({"transfer_syntaxes": DEFAULT_TRANSFER_SYNTAXES}, "127.0.0.1"),
    ],
)
def test_validate_accepts(changes, expected_host):
    request = validate(dataclasses.replace(GOOD, **changes))
    assert request.host == expected_host
    for field, value in changes.items():
        if field != "host":
            assert getattr(request, field) == value


def test_validate_uses_the_face_spelling():
    with pytest.raises(RequestError) as exc:
        validate(dataclasses.replace(GOOD, calling_aet="X" * 20), {"calling_aet": "-aet"})
    assert str(exc.value) == "-aet: must be at most 16 characters (got 20)"
    assert exc.value.option == "-aet"
    assert exc.value.reason == "must be at most 16 characters (got 20)"


def test_validate_reports_the_first_problem_only():
    bad = dataclasses.replace(GOOD, port=0, calling_aet="")
    with pytest.raises(RequestError, match=r"^port: "):
        validate(bad)


@pytest.mark.parametrize(
    ("value", "uid"),
    [
        ("ImplicitVRLittleEndian", IMPLICIT_VR_LE),
        ("ExplicitVRLittleEndian", EXPLICIT_VR_LE),
        ("ExplicitVRBigEndian", EXPLICIT_VR_BE),
        ("DeflatedExplicitVRLittleEndian", "1.2.840.10008.1.2.1.99"),
        ("JPEGBaseline8Bit", "1.2.840.10008.1.2.4.50"),
        ("1.2.840.10008.1.2.1", EXPLICIT_VR_LE),
        ("  1.2.840.10008.1.2  ", IMPLICIT_VR_LE),
        (" ExplicitVRLittleEndian ", EXPLICIT_VR_LE),
        ("1.2.3.4.5.6.7", "1.2.3.4.5.6.7"),
    ],
)
def test_resolve_transfer_syntax(value, uid):
    assert resolve_transfer_syntax(value) == uid


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NoSuchSyntax", "'NoSuchSyntax' is neither a UID nor a transfer syntax keyword"),
        ("", "'' is neither a UID nor a transfer syntax keyword"),
        ("1.2.840.10008.1.2.", "'1.2.840.10008.1.2.' is neither a UID nor a transfer syntax keyword"),
        ("explicit vr", "'explicit vr' is neither a UID nor a transfer syntax keyword"),
        ("PYDICOM_ROOT_UID", "'PYDICOM_ROOT_UID' is neither a UID nor a transfer syntax keyword"),
        ("1." * 40 + "1", f"{'1.' * 40 + '1'!r} is longer than 64 characters"),
    ],
)
def test_resolve_transfer_syntax_rejects(value, message):
    with pytest.raises(ValueError) as exc:
        resolve_transfer_syntax(value)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, (IMPLICIT_VR_LE,)),
        (2, (IMPLICIT_VR_LE, EXPLICIT_VR_LE)),
        (3, (IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE)),
    ],
)
def test_transfer_syntaxes_for(count, expected):
    assert transfer_syntaxes_for(count) == expected


@pytest.mark.parametrize(
    ("request_", "label"),
    [
        (EchoRequest(host="pacs"), "pacs:104"),
        (EchoRequest(host="10.0.0.1", port=11112), "10.0.0.1:11112"),
        (EchoRequest(host="::1", port=11112), "[::1]:11112"),
        (EchoRequest(host="pacs", name="archive"), "archive"),
        (EchoRequest(host="pacs", name=""), "pacs:104"),
    ],
)
def test_label(request_, label):
    assert request_.label == label


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("fe80::1%eth0", True),
        ("pacs-1.example.org", True),
        ("under_score.local", True),
        ("", False),
        (None, False),
        ("pacs..example", False),
        ("pacs:104", False),
        ("pacs\n", False),
        ("pacs.example\n", False),
        ("x" * 254, False),
    ],
)
def test_host_problem(value, ok):
    assert (host_problem(value) is None) is ok


def test_a_checked_request_is_not_checked_again(monkeypatch):
    # The module checks every target before the first is sent; the engine must not check again.
    checked = validate(EchoRequest(host="[::1]", port=104))
    assert checked.host == "::1" and validate(checked) is checked
    assert checked == EchoRequest(host="::1", port=104) and "_checked" not in repr(checked)

    def refuse(*args, **kwargs):
        raise AssertionError("checked again")

    monkeypatch.setattr(echo_request, "check", refuse)
    assert validate(checked) is checked
    monkeypatch.undo()
    # A changed copy is a new request, checked as any other.
    with pytest.raises(RequestError, match="port"):
        validate(_record.replace(checked, port=0))
