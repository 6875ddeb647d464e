# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Classification of outcomes (echo_result), table-driven."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.dicom.network.plugins.module_utils.echo_result import (
    ACCEPTED,
    REFUSED,
    REJECTED,
    TIMEOUT,
    EchoResult,
    Failure,
)

# The keys the module documents in every result, and those as_dict adds.
INTERFACE_KEYS = {"status", "echoes", "association", "accepted_contexts", "rejected_contexts", "peer", "timing",
                  "tls", "user_identity"}
EXTRA_KEYS = {"name", "ok", "failure", "exit_code", "msg", "attempts", "hint", "warnings"}


@pytest.mark.parametrize(
    ("failure", "code", "value"),
    [
        (Failure.USAGE, 2, "usage"),
        (Failure.CONNECT, 3, "connect"),
        (Failure.REJECTED, 4, "rejected"),
        (Failure.NO_CONTEXT, 5, "no_context"),
        (Failure.ASSOCIATION, 6, "association"),
        (Failure.ECHO, 7, "echo"),
        (Failure.TLS, 8, "tls"),
    ],
)
def test_failure_exit_codes(failure, code, value):
    result = EchoResult(name="pacs:104", host="pacs", port=104)
    result.fail(failure, "why")
    assert failure.exit_code == code
    assert result.exit_code == code
    assert result.as_dict()["failure"] == value
    assert result.as_dict()["exit_code"] == code
    assert result.ok is False


def test_exit_codes_are_distinct():
    codes = [f.exit_code for f in Failure]
    assert len(set(codes)) == len(codes)
    assert 0 not in codes and 1 not in codes


@pytest.mark.parametrize(("ok", "failure", "code"), [(True, None, 0), (False, None, 1)])
def test_exit_code_without_failure(ok, failure, code):
    result = EchoResult(name="n", host="h", port=1, ok=ok, failure=failure)
    assert result.exit_code == code


def test_first_failure_wins():
    result = EchoResult(name="n", host="h", port=1)
    result.fail(Failure.REJECTED, "association rejected", REJECTED)
    result.fail(Failure.ASSOCIATION, "later trouble", TIMEOUT)
    assert result.failure is Failure.REJECTED
    assert result.msg == "association rejected"
    assert result.association["result"] == REJECTED


@pytest.mark.parametrize(
    ("before", "given", "after"),
    [
        (None, REFUSED, REFUSED),
        (ACCEPTED, TIMEOUT, TIMEOUT),
        (REJECTED, TIMEOUT, REJECTED),
        (ACCEPTED, None, ACCEPTED),
    ],
)
def test_association_result_is_not_overwritten(before, given, after):
    result = EchoResult(name="n", host="h", port=1)
    result.association["result"] = before
    result.fail(Failure.ECHO, "x", given)
    assert result.association["result"] == after


@pytest.mark.parametrize(
    ("echoes", "status", "echo_ms"),
    [
        ([], None, {"min": None, "mean": None, "max": None}),
        ([(1, 0, 2.0)], 0, {"min": 2.0, "mean": 2.0, "max": 2.0}),
        ([(1, 0, 1.0), (2, 0, 3.0), (3, 0x0122, 2.0)], 0x0122, {"min": 1.0, "mean": 2.0, "max": 3.0}),
        ([(1, 0, 1.0), (2, None, None)], None, {"min": 1.0, "mean": 1.0, "max": 1.0}),
    ],
)
def test_summarise_echoes(echoes, status, echo_ms):
    result = EchoResult(name="n", host="h", port=1)
    result.echoes = [{"message_id": m, "status": s, "rtt_ms": r} for m, s, r in echoes]
    result.summarise_echoes()
    assert result.status == status
    assert result.timing["echo_ms"] == echo_ms


def test_as_dict_has_every_key_even_when_nothing_happened():
    data = EchoResult(name="pacs:104", host="pacs", port=104).as_dict()
    assert set(data) == INTERFACE_KEYS | EXTRA_KEYS
    assert data["status"] is None and data["echoes"] == []
    assert data["tls"] is None and data["user_identity"] is None and data["warnings"] == []
    assert {"result", "reject_result", "reject_source", "reject_reason"} <= set(data["association"])
    assert set(data["peer"]) >= {"host", "port", "ae_title", "max_pdu", "implementation_class_uid",
                                 "implementation_version_name"}
    assert data["peer"]["host"] == "pacs" and data["peer"]["port"] == 104
    assert set(data["timing"]) == {"connect_ms", "tls_ms", "associate_ms", "echo_ms", "release_ms", "total_ms"}


def test_as_dict_is_a_copy():
    result = EchoResult(name="n", host="h", port=1)
    data = result.as_dict()
    data["association"]["result"] = "changed"
    data["timing"]["echo_ms"]["min"] = 99
    assert result.association["result"] is None
    assert result.timing["echo_ms"]["min"] is None


# -- echo_many: which failures are retried, and the order of results ---------------------


@pytest.mark.parametrize("failure", list(Failure))
def test_every_failed_result_has_a_hint_and_success_none(failure):
    result = EchoResult(name="pacs:104", host="pacs", port=104)
    assert result.as_dict()["hint"] is None  # not run yet: no verdict, nothing to hint
    result.fail(failure, "why")
    hint = result.as_dict()["hint"]
    assert isinstance(hint, str) and hint.endswith(".")
    result.hint = "Set by the engine."
    assert result.as_dict()["hint"] == "Set by the engine."
    ok = EchoResult(name="pacs:104", host="pacs", port=104)
    ok.ok = True
    assert ok.as_dict()["hint"] is None


def test_hints_are_imported_on_failure_only():
    # Every module run compiles what it imports from Ansible's zip: a run that succeeds has no
    # hint, so the engine must not load _hints until a run fails.
    package = "ansible_collections.dicom.network.plugins.module_utils"
    code = (
        "import sys\n"
        f"from {package} import echo_engine, echo_many\n"
        f"from {package}.echo_request import EchoRequest\n"
        f"before = '{package}._hints' in sys.modules\n"
        "result = echo_engine.run_echo(EchoRequest(host='127.0.0.1', port=0))\n"
        f"print(before, '{package}._hints' in sys.modules, result.failure.value, bool(result.hint))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.split()
    assert out == ["False", "True", "usage", "True"]
