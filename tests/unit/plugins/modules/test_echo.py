# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dicom.network.echo: how options become engine requests, and results become module results.

The engine is replaced by fakes here (no network); tests/integration/targets/echo runs the
module against real peers.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import json
import sys
import typing as t
import zipfile
import zipimport
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19: the module reads its arguments from basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args: dict[str, t.Any]) -> t.Iterator[None]:
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield

from ansible_collections.dicom.network.plugins.module_utils import _echo_module as backend
from ansible_collections.dicom.network.plugins.module_utils.echo_request import (
    EXPLICIT_VR_BE,
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
)
from ansible_collections.dicom.network.plugins.module_utils.echo_result import (
    ACCEPTED,
    REFUSED,
    REJECTED,
    EchoResult,
    Failure,
)
from ansible_collections.dicom.network.plugins.modules import echo

RESULT_KEYS = {
    "status", "echoes", "association", "accepted_contexts", "rejected_contexts", "peer", "timing",
    "name", "ok", "failure", "exit_code", "msg", "attempts",
}
TARGETS_KEYS = {"results", "failed_targets", "failed_required_targets", "summary", "msg"}


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def fake_result(request, failure=None, msg=None):
    """What the engine would return for ``request``: success, or ``failure`` with ``msg``."""
    result = EchoResult(name=request.label, host=request.host, port=request.port)
    if failure is None:
        result.ok = True
        result.msg = msg or f"1 C-ECHO to {request.called_aet} at {request.label} returned Success"
        result.association.update(result=ACCEPTED, phase="release", released=True)
        result.echoes = [{"message_id": i + 1, "status": 0, "rtt_ms": 1.0} for i in range(request.repeat)]
        result.peer.update(ae_title=request.called_aet, implementation_version_name="FAKE_1")
        result.summarise_echoes()
    elif failure is Failure.REJECTED:
        result.fail(failure, msg or "association rejected permanently [result 1, source 1, reason 7]", REJECTED)
        result.association.update(reject_result=1, reject_source=1, reject_reason=7)
    else:
        result.fail(failure, msg or "cannot connect: connection refused", REFUSED)
    return result


class FakeEngine:
    """Records what the module asks of the engine and answers from ``outcomes``.

    ``outcomes`` maps a target's label (name or host:port) to a Failure (or None for success).
    """

    def __init__(self, outcomes=None):
        self.outcomes = outcomes or {}
        self.single = []
        self.many = []

    def run_with_retries(self, request, retries=0, delay=0.0, names=None):
        self.single.append({"request": request, "retries": retries, "delay": delay})
        return fake_result(request, self.outcomes.get(request.label))

    def run_many(self, requests, concurrency=16, retries=0, delay=0.0, names=None):
        self.many.append({"requests": list(requests), "concurrency": concurrency, "retries": retries, "delay": delay})
        return [fake_result(r, self.outcomes.get(r.label)) for r in requests]

    @property
    def request(self):
        (call,) = self.single
        return call["request"]

    @property
    def called(self):
        return bool(self.single or self.many)


@pytest.fixture
def engine(monkeypatch):
    fake = FakeEngine()
    monkeypatch.setattr(backend, "run_with_retries", fake.run_with_retries)
    monkeypatch.setattr(backend, "run_many", fake.run_many)
    return fake


@pytest.fixture(autouse=True)
def _unfrozen() -> t.Iterator[None]:
    """echo.main() freezes what the process has loaded (its own process ends right after): the
    test process gets its collector back after each test."""
    yield
    gc.unfreeze()


@pytest.fixture
def run(monkeypatch):
    """Run the module with ``args``; return (failed, result)."""
    warnings = []

    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs.pop("exception", None)
        raise FailJson(dict(kwargs, msg=msg, failed=True))

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warnings.append(text))

    def run_module(args):
        with patch_module_args(args), pytest.raises((ExitJson, FailJson)) as exc:
            echo.main()
        result = exc.value.args[0]
        result["_warnings"] = list(warnings)
        return isinstance(exc.value, FailJson), result

    return run_module


# -- one host ----------------------------------------------------------------------------


def test_defaults(run, engine):
    failed, result = run({"host": "127.0.0.1"})
    assert not failed
    request = engine.request
    assert request.host == "127.0.0.1"
    assert request.port == 104
    assert request.calling_aet == "ECHOSCU"
    assert request.called_aet == "ANY-SCP"
    assert request.transfer_syntaxes == (IMPLICIT_VR_LE,)
    assert (request.connect_timeout, request.acse_timeout, request.dimse_timeout) == (10.0, 30.0, 30.0)
    assert request.max_pdu == 16384
    assert request.repeat == 1
    assert request.abort is False
    assert request.deadline == 120.0
    assert request.name is None
    assert engine.single[0]["retries"] == 0
    assert engine.single[0]["delay"] == 1.0


def test_main_freezes_what_is_loaded_before_it_runs(run, engine, monkeypatch):
    frozen_at_run = []
    checked_run = backend.run_module

    def run_module(module, **kwargs):
        frozen_at_run.append(gc.get_freeze_count())
        return checked_run(module, **kwargs)

    monkeypatch.setattr(echo, "run_module", run_module)
    gc.unfreeze()
    failed, _result = run({"host": "127.0.0.1"})
    assert not failed and engine.called
    # Everything loaded before the run (this test process's modules included) is out of the collector's reach.
    assert frozen_at_run[0] > 1000


def test_every_option_reaches_the_engine(run, engine):
    failed = run({
        "host": "127.0.0.1", "port": 11112, "calling_aet": "ANSIBLE", "called_aet": "PACS", "propose_ts": 3,
        "connect_timeout": 2.5, "acse_timeout": 3, "dimse_timeout": 4, "max_pdu": 0, "repeat": 3,
        "abort": True, "deadline": 9.5, "retries": 4, "retry_delay": 0.25,
    })[0]
    assert not failed
    request = engine.request
    assert (request.port, request.calling_aet, request.called_aet) == (11112, "ANSIBLE", "PACS")
    assert request.transfer_syntaxes == (IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE)
    assert (request.connect_timeout, request.acse_timeout, request.dimse_timeout) == (2.5, 3.0, 4.0)
    assert (request.max_pdu, request.repeat, request.abort, request.deadline) == (0, 3, True, 9.5)
    assert (engine.single[0]["retries"], engine.single[0]["delay"]) == (4, 0.25)


@pytest.mark.parametrize("alias", ["host", "peer", "addr"])
def test_host_aliases(run, engine, alias):
    failed = run({alias: "127.0.0.1", "port": 11112})[0]
    assert not failed
    assert engine.request.host == "127.0.0.1"


@pytest.mark.parametrize(("host", "expected"), [("[::1]", "::1"), ("::1", "::1"), ("localhost", "localhost")])
def test_host_forms(run, engine, host, expected):
    run({"host": host})
    assert engine.request.host == expected


@pytest.mark.parametrize(
    ("args", "syntaxes"),
    [
        ({"propose_ts": 1}, (IMPLICIT_VR_LE,)),
        ({"propose_ts": 2}, (IMPLICIT_VR_LE, EXPLICIT_VR_LE)),
        ({"propose_ts": 3}, (IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE)),
        ({"propose_ts": "2"}, (IMPLICIT_VR_LE, EXPLICIT_VR_LE)),
        ({"transfer_syntaxes": ["ExplicitVRBigEndian"]}, (EXPLICIT_VR_BE,)),
        ({"transfer_syntaxes": [EXPLICIT_VR_LE, "ImplicitVRLittleEndian"]}, (EXPLICIT_VR_LE, IMPLICIT_VR_LE)),
        ({"transfer_syntaxes": "1.2.840.10008.1.2.1, 1.2.840.10008.1.2"}, (EXPLICIT_VR_LE, IMPLICIT_VR_LE)),
    ],
)
def test_transfer_syntaxes(run, engine, args, syntaxes):
    failed = run({"host": "127.0.0.1", **args})[0]
    assert not failed
    assert engine.request.transfer_syntaxes == syntaxes


# Ansible's own argument checks: types, choices, exclusions, what is required.
@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({}, "one of the following is required: host, targets"),
        ({"host": "127.0.0.1", "propose_ts": 4}, "propose_ts"),
        ({"host": "127.0.0.1", "propose_ts": 0}, "propose_ts"),
        ({"host": "127.0.0.1", "propose_ts": 2, "transfer_syntaxes": [EXPLICIT_VR_LE]},
         "mutually exclusive: propose_ts|transfer_syntaxes"),
        ({"host": "127.0.0.1", "targets": [{"host": "127.0.0.1"}]}, "mutually exclusive: host|targets"),
        ({"host": "127.0.0.1", "port": "abc"}, "port"),
        ({"host": "127.0.0.1", "deadline": "soon"}, "deadline"),
        ({"host": "127.0.0.1", "abort": "maybe"}, "abort"),
        ({"host": "127.0.0.1", "colour": "red"}, "Unsupported parameters"),
        ({"targets": [{"port": 104}]}, "missing required arguments: host"),
        ({"targets": [{"host": "127.0.0.1", "propose_ts": 2, "transfer_syntaxes": ["1.2.840.10008.1.2"]}]},
         "mutually exclusive: propose_ts|transfer_syntaxes"),
        ({"targets": [{"host": "127.0.0.1", "colour": "red"}]}, "colour"),
        # Ansible's own words; it does not name the option here.
        ({"targets": "127.0.0.1"}, "dictionary requested"),
    ],
)
def test_argument_spec_errors(run, engine, args, words):
    failed, result = run(args)
    assert failed
    assert words in result["msg"]
    assert not engine.called


# The engine's checks, made before anything goes on the wire; one line naming the option.
@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"calling_aet": "ABCDEFGHIJKLMNOPQ"}, "calling_aet: must be at most 16 characters (got 17)"),
        ({"called_aet": ""}, "called_aet: must not be empty or only spaces"),
        ({"called_aet": "    "}, "called_aet: must not be empty or only spaces"),
        ({"calling_aet": "ÆSCU"}, "calling_aet: must use only ASCII characters"),
        ({"called_aet": "PA\\CS"}, "called_aet: must not contain a backslash"),
        ({"called_aet": "PA\x1bCS"}, "called_aet: must not contain control characters"),
        ({"port": 0}, "port: must be between 1 and 65535 (got 0)"),
        ({"port": 70000}, "port: must be between 1 and 65535 (got 70000)"),
        ({"max_pdu": 1024}, "max_pdu: must be 0 (unlimited) or between 4096 and 4294967295 (got 1024)"),
        ({"max_pdu": -1}, "max_pdu: must be 0 (unlimited) or between 4096 and 4294967295 (got -1)"),
        ({"connect_timeout": 0}, "connect_timeout: must be greater than 0 seconds"),
        ({"acse_timeout": -1}, "acse_timeout: must be greater than 0 seconds"),
        ({"dimse_timeout": 0}, "dimse_timeout: must be greater than 0 seconds"),
        ({"deadline": 0}, "deadline: must be greater than 0 seconds"),
        ({"deadline": "inf"}, "deadline: must be greater than 0 seconds"),
        ({"repeat": 0}, "repeat: must be between 1 and 100000 (got 0)"),
        ({"transfer_syntaxes": ["Nope"]}, "transfer_syntaxes: 'Nope' is neither a UID nor a transfer syntax keyword"),
        ({"transfer_syntaxes": []}, "transfer_syntaxes: must name at least one transfer syntax"),
        ({"host": "not a host"}, "host: 'not a host' is not a valid host name or IP address"),
        ({"concurrency": 0}, "concurrency: must be between 1 and 256 (got 0)"),
        ({"concurrency": 257}, "concurrency: must be between 1 and 256 (got 257)"),
        ({"retries": -1}, "retries: must be 0 or more (got -1)"),
        ({"retry_delay": -0.5}, "retry_delay: must be 0 or more (got -0.5)"),
        ({"retry_delay": "nan"}, "retry_delay: must be 0 or more (got nan)"),
    ],
)
def test_bad_values_fail_before_any_traffic(run, engine, args, msg):
    failed, result = run({"host": "127.0.0.1", **args})
    assert failed
    assert result["msg"] == msg
    assert "\n" not in result["msg"]
    assert not engine.called
    # The result keys are there on failure too, empty as the run never started.
    assert RESULT_KEYS <= set(result)
    assert result["changed"] is False
    assert result["failure"] == "usage"
    assert result["exit_code"] == 2
    assert result["status"] is None and result["echoes"] == []


def test_success_result(run, engine):
    failed, result = run({"host": "127.0.0.1", "port": 11112, "called_aet": "PACS", "repeat": 3})
    assert not failed
    assert "failed" not in result
    assert result["changed"] is False
    assert RESULT_KEYS <= set(result)
    assert result["ok"] is True
    assert result["status"] == 0
    assert result["msg"] == "1 C-ECHO to PACS at 127.0.0.1:11112 returned Success"
    assert [e["message_id"] for e in result["echoes"]] == [1, 2, 3]
    assert result["association"]["result"] == "accepted"
    assert result["peer"]["implementation_version_name"] == "FAKE_1"
    assert result["name"] == "127.0.0.1:11112"
    assert "results" not in result


def test_failure_result_keeps_every_key(run, engine):
    engine.outcomes["127.0.0.1:11112"] = Failure.REJECTED
    failed, result = run({"host": "127.0.0.1", "port": 11112, "called_aet": "WRONG"})
    assert failed
    assert result["changed"] is False
    assert RESULT_KEYS <= set(result)
    assert result["msg"] == "association rejected permanently [result 1, source 1, reason 7]"
    assert result["association"]["result"] == "rejected"
    assert result["association"]["reject_reason"] == 7
    assert result["failure"] == "rejected"
    assert result["exit_code"] == 4


@pytest.mark.parametrize("check_mode", [True, False])
def test_check_mode_runs_the_check(run, engine, check_mode):
    failed, result = run({"host": "127.0.0.1", "_ansible_check_mode": check_mode})
    assert not failed
    assert engine.called
    assert result["changed"] is False


def test_missing_pynetdicom(run, engine, monkeypatch):
    monkeypatch.setattr(backend, "PYNETDICOM_IMPORT_ERROR", ImportError("No module named 'pynetdicom'"))
    monkeypatch.setattr(backend, "PYNETDICOM_TRACEBACK", "Traceback ...")
    failed, result = run({"host": "127.0.0.1"})
    assert failed
    assert "Failed to import the required Python library (pynetdicom)" in result["msg"]
    assert not engine.called
    assert RESULT_KEYS <= set(result)


def test_missing_pynetdicom_with_targets(run, engine, monkeypatch):
    monkeypatch.setattr(backend, "PYNETDICOM_IMPORT_ERROR", ImportError("No module named 'pynetdicom'"))
    failed, result = run({"targets": [{"host": "127.0.0.1"}]})
    assert failed
    assert "pynetdicom" in result["msg"]
    assert TARGETS_KEYS <= set(result)
    assert not engine.called


# -- many targets ------------------------------------------------------------------------


def test_targets_inherit_and_override(run, engine):
    failed, result = run({
        "calling_aet": "ANSIBLE", "called_aet": "PACS", "port": 11112, "propose_ts": 2, "repeat": 2,
        "concurrency": 4, "retries": 2, "retry_delay": 0.5,
        "targets": [
            {"host": "127.0.0.1"},
            {"host": "127.0.0.2", "name": "qr", "port": 4242, "called_aet": "QR", "propose_ts": 1},
            {"peer": "127.0.0.3", "transfer_syntaxes": ["ExplicitVRBigEndian"], "abort": True, "deadline": 5},
            {"addr": "127.0.0.4", "calling_aet": "OTHER", "connect_timeout": 1, "acse_timeout": 2,
             "dimse_timeout": 3, "max_pdu": 0, "repeat": 1},
        ],
    })
    assert not failed
    (call,) = engine.many
    assert (call["concurrency"], call["retries"], call["delay"]) == (4, 2, 0.5)
    first, second, third, fourth = call["requests"]
    assert (first.host, first.port, first.calling_aet, first.called_aet) == ("127.0.0.1", 11112, "ANSIBLE", "PACS")
    assert first.transfer_syntaxes == (IMPLICIT_VR_LE, EXPLICIT_VR_LE)
    assert (first.repeat, first.abort, first.deadline, first.max_pdu) == (2, False, 120.0, 16384)
    assert (second.name, second.port, second.called_aet, second.calling_aet) == ("qr", 4242, "QR", "ANSIBLE")
    assert second.transfer_syntaxes == (IMPLICIT_VR_LE,)
    assert (third.host, third.transfer_syntaxes, third.abort, third.deadline) == ("127.0.0.3", (EXPLICIT_VR_BE,),
                                                                                  True, 5.0)
    assert (fourth.host, fourth.calling_aet, fourth.max_pdu, fourth.repeat) == ("127.0.0.4", "OTHER", 0, 1)
    assert (fourth.connect_timeout, fourth.acse_timeout, fourth.dimse_timeout) == (1.0, 2.0, 3.0)
    assert [r["name"] for r in result["results"]] == ["127.0.0.1:11112", "qr", "127.0.0.3:11112", "127.0.0.4:11112"]


def test_target_propose_ts_overrides_top_level_transfer_syntaxes(run, engine):
    targets = [{"host": "127.0.0.1", "propose_ts": 3}, {"host": "127.0.0.2"}]
    run({"transfer_syntaxes": ["ExplicitVRBigEndian"], "targets": targets})
    first, second = engine.many[0]["requests"]
    assert first.transfer_syntaxes == (IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE)
    assert second.transfer_syntaxes == (EXPLICIT_VR_BE,)


def test_targets_all_ok(run, engine):
    failed, result = run({"targets": [{"host": "127.0.0.1"}, {"host": "127.0.0.2", "name": "b"}]})
    assert not failed
    assert result["changed"] is False
    assert TARGETS_KEYS <= set(result)
    assert result["msg"] == "2 of 2 targets answered C-ECHO with Success"
    assert result["failed_targets"] == [] and result["failed_required_targets"] == []
    assert {k: v for k, v in result["summary"].items() if k != "elapsed_ms"} == {
        "total": 2, "ok": 2, "failed": 0, "failed_required": 0, "failed_optional": 0}
    for item in result["results"]:
        assert RESULT_KEYS <= set(item)
        assert item["required"] is True
        assert item["ok"] is True
    assert "status" not in result
    assert result["_warnings"] == []


def test_brief_results_hold_the_verdict_alone(run, engine):
    full = run({"targets": [{"host": "127.0.0.1"}, {"host": "127.0.0.2", "name": "b", "required": False}]})[1]
    failed, result = run({"targets": [{"host": "127.0.0.1"}, {"host": "127.0.0.2", "name": "b", "required": False}],
                          "result_detail": "brief"})
    assert not failed
    keys = {"name", "required", "ok", "failure", "exit_code", "msg", "status", "attempts", "total_ms"}
    for brief, item in zip(result["results"], full["results"], strict=True):
        assert set(brief) == keys
        assert {k: brief[k] for k in keys - {"total_ms"}} == {k: item[k] for k in keys - {"total_ms"}}
    for key in ("msg", "failed_targets", "failed_required_targets"):
        assert result[key] == full[key]


def _module_output(args, capsys):
    """What Ansible's own exit_json prints (it scrubs secrets from the whole result, invocation included)."""
    with patch_module_args(args), pytest.raises(SystemExit):
        echo.main()
    out = capsys.readouterr().out
    data = json.loads(out)
    if "invocation" not in data:
        pytest.skip("this ansible-core's exit_json leaves the invocation to the controller")
    return out, data


def test_invocation_lists_what_each_target_sets(engine, capsys):
    targets = [{"host": "127.0.0.1"}, {"host": "127.0.0.2", "name": "b", "username": "u", "password": "s3cret-pw"}]
    out, data = _module_output({"targets": targets}, capsys)
    assert "s3cret-pw" not in out
    args = data["invocation"]["module_args"]
    assert args["targets"] == [
        {"host": "127.0.0.1", "required": True},
        {"host": "127.0.0.2", "name": "b", "username": "u", "password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
         "required": True},
    ]
    assert args["result_detail"] == "full" and args["port"] == 104


@pytest.mark.parametrize("detail", ["brief", "failed"])
def test_a_slim_invocation_does_not_repeat_the_targets(engine, capsys, detail):
    targets = [{"host": "127.0.0.1"}, {"host": "127.0.0.2", "name": "b", "username": "u", "password": "s3cret-pw"}]
    out, data = _module_output({"targets": targets, "result_detail": detail, "calling_aet": "ME"}, capsys)
    assert "s3cret-pw" not in out
    args = data["invocation"]["module_args"]
    assert "targets" not in args
    assert args["result_detail"] == detail and args["calling_aet"] == "ME" and args["port"] == 104


def test_failed_results_hold_only_the_failed_targets_in_full(run, engine):
    engine.outcomes.update({"b": Failure.CONNECT, "d": Failure.REJECTED})
    targets = [{"host": "127.0.0.1", "name": name, "required": name != "d"} for name in "abcd"]
    full = run({"targets": targets})[1]
    failed, result = run({"targets": targets, "result_detail": "failed"})
    assert failed
    assert [item["name"] for item in result["results"]] == ["b", "d"]
    assert result["results"] == [item for item in full["results"] if item["name"] in ("b", "d")]
    assert [item["required"] for item in result["results"]] == [True, False]
    for key in ("msg", "failed_targets", "failed_required_targets"):
        assert result[key] == full[key]
    assert {k: v for k, v in result["summary"].items() if k != "elapsed_ms"} == {
        "total": 4, "ok": 2, "failed": 2, "failed_required": 1, "failed_optional": 1}


def test_failed_results_of_a_healthy_fleet_are_empty(run, engine):
    failed, result = run({"targets": [{"host": "127.0.0.1"}, {"host": "127.0.0.2"}], "result_detail": "failed"})
    assert not failed
    assert result["results"] == []
    assert result["summary"]["total"] == 2 and result["summary"]["ok"] == 2
    assert result["msg"] == "2 of 2 targets answered C-ECHO with Success"


def test_optional_failures_warn_but_do_not_fail(run, engine):
    engine.outcomes.update({"b": Failure.CONNECT, "c": Failure.REJECTED})
    failed, result = run({"targets": [
        {"host": "127.0.0.1", "name": "a"},
        {"host": "127.0.0.1", "name": "b", "required": False},
        {"host": "127.0.0.1", "name": "c", "required": False},
    ]})
    assert not failed
    assert result["failed_targets"] == ["b", "c"]
    assert result["failed_required_targets"] == []
    assert result["summary"]["failed_optional"] == 2
    assert result["msg"].startswith("1 of 3 targets answered C-ECHO with Success; 2 optional targets failed: "
                                    "b (cannot connect: connection refused), c (association rejected")
    assert len(result["_warnings"]) == 1 and "b (cannot connect" in result["_warnings"][0]
    assert [i["required"] for i in result["results"]] == [True, False, False]
    # Ansible ORs `failed`/`changed`/`skipped` of items under `results` into the task: never set them.
    for item in result["results"]:
        assert not {"failed", "changed", "skipped", "unreachable"} & set(item)


def test_required_failure_fails_the_task(run, engine):
    engine.outcomes.update({"pacs1": Failure.REJECTED, "opt": Failure.CONNECT, "127.0.0.3:104": Failure.CONNECT})
    failed, result = run({"targets": [
        {"host": "127.0.0.1", "name": "pacs1"},
        {"host": "127.0.0.2", "name": "pacs2"},
        {"host": "127.0.0.1", "name": "opt", "required": False},
        {"host": "127.0.0.3"},
    ]})
    assert failed
    assert result["changed"] is False
    assert result["msg"] == (
        "2 of 3 required targets failed: pacs1 (association rejected permanently [result 1, source 1, reason 7]), "
        "127.0.0.3:104 (cannot connect: connection refused); 1 optional target failed too"
    )
    assert result["failed_required_targets"] == ["pacs1", "127.0.0.3:104"]
    assert result["failed_targets"] == ["pacs1", "opt", "127.0.0.3:104"]
    assert len(result["results"]) == 4
    assert [i["ok"] for i in result["results"]] == [False, True, False, False]


def test_many_failures_are_summarised_in_one_line(run, engine):
    targets = [{"host": "127.0.0.1", "name": f"n{i}"} for i in range(12)]
    engine.outcomes.update({t["name"]: Failure.CONNECT for t in targets})
    failed, result = run({"targets": targets})
    assert failed
    assert result["msg"].startswith("12 of 12 required targets failed: n0 (")
    assert result["msg"].endswith(", and 7 more")
    assert "\n" not in result["msg"]
    assert len(result["failed_targets"]) == 12


def test_no_targets(run, engine):
    failed, result = run({"targets": []})
    assert not failed
    assert result["results"] == []
    assert result["msg"] == "no targets given: nothing to check"
    assert result["summary"]["total"] == 0


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"targets": [{"host": "127.0.0.1"}, {"host": "127.0.0.1", "calling_aet": "X" * 17}]},
         "targets[1].calling_aet: must be at most 16 characters (got 17)"),
        ({"calling_aet": "X" * 17, "targets": [{"host": "127.0.0.1"}]},
         "calling_aet: must be at most 16 characters (got 17)"),
        ({"targets": [{"host": "127.0.0.1", "port": 0}]}, "targets[0].port: must be between 1 and 65535 (got 0)"),
        ({"targets": [{"host": "bad host"}]}, "targets[0].host: 'bad host' is not a valid host name or IP address"),
        ({"targets": [{"host": "127.0.0.1", "transfer_syntaxes": ["Nope"]}]},
         "targets[0].transfer_syntaxes: 'Nope' is neither a UID nor a transfer syntax keyword"),
        ({"transfer_syntaxes": ["Nope"], "targets": [{"host": "127.0.0.1"}]},
         "transfer_syntaxes: 'Nope' is neither a UID nor a transfer syntax keyword"),
        ({"targets": [{"host": "127.0.0.1", "repeat": 0}]}, "targets[0].repeat: must be between 1 and 100000 (got 0)"),
        ({"targets": [{"host": "127.0.0.1", "deadline": -1}]}, "targets[0].deadline: must be greater than 0 seconds"),
        ({"concurrency": 300, "targets": [{"host": "127.0.0.1"}]}, "concurrency: must be between 1 and 256 (got 300)"),
    ],
)
def test_target_errors_name_the_entry(run, engine, args, msg):
    failed, result = run(args)
    assert failed
    assert result["msg"] == msg
    assert not engine.called
    assert TARGETS_KEYS <= set(result)
    assert result["results"] == []


@pytest.mark.parametrize(
    ("total", "required_total", "failed_required", "failed_optional", "msg"),
    [
        (0, 0, 0, 0, "no targets given: nothing to check"),
        (1, 1, 0, 0, "1 of 1 target answered C-ECHO with Success"),
        (3, 1, 0, 1, "2 of 3 targets answered C-ECHO with Success; 1 optional target failed: x0 (boom)"),
        (3, 3, 1, 0, "1 of 3 required targets failed: x0 (boom)"),
        (3, 1, 1, 0, "1 of 1 required target failed: x0 (boom)"),
        (4, 2, 2, 2, "2 of 2 required targets failed: x0 (boom), x1 (boom); 2 optional targets failed too"),
    ],
)
def test_targets_msg(total, required_total, failed_required, failed_optional, msg):
    def results(count):
        out = []
        for i in range(count):
            result = EchoResult(name=f"x{i}", host="h", port=1)
            result.fail(Failure.CONNECT, "boom")
            out.append(result)
        return out

    assert backend.targets_msg(total, required_total, results(failed_required), results(failed_optional)) == msg


def test_documentation_matches_the_argument_spec():
    """Every option, suboption, type and default in DOCUMENTATION (the sidecar echo.yml) is in the spec, and back."""
    import yaml

    doc = yaml.safe_load(Path(echo.__file__).with_suffix(".yml").read_text())["DOCUMENTATION"]["options"]
    spec = backend.argument_spec()

    def compare(doc_options, spec_options, where):
        assert set(doc_options) == set(spec_options), where
        for name, spec_entry in spec_options.items():
            doc_entry = doc_options[name]
            assert doc_entry.get("type") == spec_entry.get("type"), f"{where}{name}"
            assert doc_entry.get("default") == spec_entry.get("default"), f"{where}{name}"
            assert doc_entry.get("choices") == spec_entry.get("choices"), f"{where}{name}"
            assert doc_entry.get("aliases") == spec_entry.get("aliases"), f"{where}{name}"
            assert bool(doc_entry.get("required")) == bool(spec_entry.get("required")), f"{where}{name}"
            assert doc_entry.get("elements") == spec_entry.get("elements"), f"{where}{name}"
            # ansible-doc has no no_log field: secrets say so in their description instead.
            if spec_entry.get("no_log") and not where:
                assert "Never logged" in " ".join(doc_entry["description"]), name
            if "options" in spec_entry:
                compare(doc_entry["suboptions"], spec_entry["options"], f"{where}{name}.")

    compare(doc, spec, "")


# -- secured associations -------------------------------------------------------------------------


def test_tls_and_identity_options_reach_the_engine(run, engine):
    failed = run({
        "host": "pacs", "tls": True, "tls_ca_file": "/ca.pem", "tls_ca_path": "/ca.d", "tls_cert_file": "/me.pem",
        "tls_key_file": "/me.key", "tls_key_password": "kp", "tls_verify": False, "tls_server_name": "pacs.example.org",
        "tls_min_version": "1.3", "username": "alice", "password": "pw", "identity_positive_response": True,
    })[0]
    assert not failed
    r = engine.request
    assert (r.tls, r.tls_ca_file, r.tls_ca_path, r.tls_cert_file, r.tls_key_file) == (
        True, "/ca.pem", "/ca.d", "/me.pem", "/me.key")
    assert (r.tls_key_password, r.tls_verify, r.tls_server_name, r.tls_min_version) == (
        "kp", False, "pacs.example.org", "1.3")
    assert (r.username, r.password, r.identity_positive_response) == ("alice", "pw", True)


def test_secrets_are_no_log():
    spec = backend.argument_spec()
    for name in ("tls_key_password", "password", "identity_token"):
        assert spec[name]["no_log"] is True and spec["targets"]["options"][name]["no_log"] is True


def test_secrets_from_the_environment_only_where_they_belong(run, engine, monkeypatch):
    monkeypatch.setenv("DICOM_PASSWORD", "env-pw")
    monkeypatch.setenv("DICOM_TLS_KEY_PASSWORD", "env-kp")
    run({"host": "pacs"})
    run({"host": "pacs", "username": "alice", "tls": True, "tls_cert_file": "/c", "tls_key_file": "/k"})
    run({"host": "pacs", "username": "alice", "password": ""})
    first, second, third = (call["request"] for call in engine.single)
    assert first.password is None and first.tls_key_password is None
    assert second.password == "env-pw" and second.tls_key_password == "env-kp"
    assert third.password == ""


@pytest.mark.parametrize(("args", "words"), [
    ({"tls_ca_file": "/ca.pem"}, "tls_ca_file: only with TLS (tls)"),
    ({"tls": True, "tls_cert_file": "/c"}, "tls_key_file: a client certificate needs both"),
    ({"password": "pw"}, "password: only with a user name (username)"),
    ({"identity_type": "jwt"}, "identity_token: a jwt identity needs exactly one of"),
    ({"identity_positive_response": True}, "identity_positive_response: only with a user identity"),
    ({"tls": True, "tls_server_name": "bad name!"}, "tls_server_name:"),
])
def test_secured_usage_errors(run, engine, args, words):
    failed, result = run({"host": "pacs", **args})
    assert failed and result["msg"].startswith(words), result["msg"]
    assert not engine.called


def test_unverified_peer_warns(run, monkeypatch):
    def unverified(request, retries=0, delay=0.0, names=None):
        result = fake_result(request)
        result.warnings.append("TLS: the peer's certificate was not verified")
        return result

    monkeypatch.setattr(backend, "run_with_retries", unverified)
    failed, result = run({"host": "pacs", "tls": True, "tls_verify": False})
    assert not failed and result["_warnings"] == ["TLS: the peer's certificate was not verified"]
    assert "warnings" not in result or result["warnings"] == []


# -- imports from the AnsiballZ zip ---------------------------------------------------------------


@pytest.fixture
def zipped(tmp_path):
    """A zip on sys.path holding the package ``zpkg``, as AnsiballZ holds the collection; undone after."""
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zpkg/__init__.py", "")
        zf.writestr("zpkg/mod.py", "VALUE = 1\n")
        zf.writestr("zpkg/sub/__init__.py", "")
        # zipimporter tries compiled code first; a stale .pyc (bad magic) falls back to the source.
        zf.writestr("zpkg/stale.pyc", b"\0\0\0\0" + b"\0" * 12)
        zf.writestr("zpkg/stale.py", "VALUE = 2\n")
    before = dict(sys.modules)
    sys.path.insert(0, str(archive))
    try:
        yield archive
    finally:
        sys.path.remove(str(archive))
        for name in set(sys.modules) - set(before):
            del sys.modules[name]
        for key in [key for key in sys.path_importer_cache if key.startswith(str(archive))]:
            del sys.path_importer_cache[key]


def test_compile_once_importer_names_modules_as_zipimporter_does(zipped):
    path = str(zipped / "zpkg")
    plain, ours = zipimport.zipimporter(path), echo.CompileOnceImporter(path)
    for name in ("zpkg.mod", "zpkg.sub", "zpkg.stale"):
        assert ours.get_filename(name) == plain.get_filename(name), name
    with pytest.raises(zipimport.ZipImportError):
        ours.get_filename("zpkg.missing")


def test_compile_once_importer_compiles_a_module_once(zipped, monkeypatch):
    compiled = []
    real_compile = builtins.compile

    def counting(source, filename, *args, **kwargs):
        compiled.append(str(filename))
        return real_compile(source, filename, *args, **kwargs)

    import zpkg  # from the zip

    path = zpkg.__path__[0]
    expected = zipimport.zipimporter(path).get_filename("zpkg.mod")
    sys.path_importer_cache[path] = echo.CompileOnceImporter(path)
    monkeypatch.setattr(builtins, "compile", counting)
    import zpkg.mod

    monkeypatch.undo()
    assert zpkg.mod.VALUE == 1 and zpkg.mod.__file__ == expected
    assert compiled == [expected]


def test_compile_engine_once_leaves_an_engine_on_disk_alone():
    before = dict(sys.path_importer_cache)
    echo.compile_engine_once()
    assert not any(isinstance(importer, echo.CompileOnceImporter) for importer in sys.path_importer_cache.values()
                   if importer not in before.values())
