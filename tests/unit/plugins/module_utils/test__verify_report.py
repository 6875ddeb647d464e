# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of the role dicom.network.verify (module_utils/_verify_report.py), table-driven.

The filters' behaviour (nodes, verdicts, table, JUnit structure) is tested through the
filters in tests/unit/plugins/filter/test_verify.py; this file tests what only the
module util has: the role-variable bounds, dicom_required, exact report texts.
"""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _verify_report as report
from ansible_collections.dicom.network.plugins.module_utils._options import MAX_CONCURRENCY, MAX_REPEAT

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
GOOD_SETTINGS = {
    "verify_calling_aet": "ECHOSCU", "verify_connect_timeout": 5.0, "verify_acse_timeout": 10.0,
    "verify_dimse_timeout": 10.0, "verify_deadline": 20.0, "verify_repeat": 1, "verify_concurrency": 16,
    "verify_retries": 0, "verify_delay": 2.0,
}


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        ({}, None),
        ({"verify_concurrency": MAX_CONCURRENCY}, None),
        ({"verify_concurrency": 0}, f"verify_concurrency must be between 1 and {MAX_CONCURRENCY} (got 0)"),
        ({"verify_concurrency": MAX_CONCURRENCY + 1},
         f"verify_concurrency must be between 1 and {MAX_CONCURRENCY} (got {MAX_CONCURRENCY + 1})"),
        ({"verify_repeat": MAX_REPEAT}, None),
        ({"verify_repeat": MAX_REPEAT + 1}, f"verify_repeat must be between 1 and {MAX_REPEAT} (got {MAX_REPEAT + 1})"),
        ({"verify_repeat": 0}, f"verify_repeat must be between 1 and {MAX_REPEAT} (got 0)"),
        ({"verify_connect_timeout": 0.0}, "verify_connect_timeout must be greater than 0 seconds"),
        ({"verify_acse_timeout": -1.0}, "verify_acse_timeout must be greater than 0 seconds"),
        ({"verify_dimse_timeout": float("inf")}, "verify_dimse_timeout must be greater than 0 seconds"),
        ({"verify_deadline": 0.0}, "verify_deadline must be greater than 0 seconds"),
        ({"verify_calling_aet": "X" * 17}, "verify_calling_aet must be at most 16 characters (got 17)"),
        ({"verify_retries": -1}, "verify_retries must be 0 or more (got -1)"),
        ({"verify_delay": -0.5}, "verify_delay must be 0 or more (got -0.5)"),
        ({"verify_delay": float("nan")}, "verify_delay must be 0 or more (got nan)"),
        ({"verify_delay": 0}, None),
    ],
)
def test_settings_problem(changed, problem):
    assert report.settings_problem({**GOOD_SETTINGS, **changed}) == problem


@pytest.mark.parametrize(
    ("value", "required", "problem"),
    [
        (True, True, None),
        (False, False, None),
        ("yes", True, None),
        ("No", False, None),
        ("off", False, None),
        (1, True, None),
        (0, False, None),
        ("maybe", True, "dicom_required must be true or false"),
        ([], True, "dicom_required must be true or false"),
    ],
)
def test_dicom_required(value, required, problem):
    node = report.collect_nodes(["n1"], {"n1": {"dicom_required": value}})["nodes"][0]
    assert (node["required"], node["problem"]) == (required, problem)


def test_the_engine_defaults_fill_unset_variables():
    node = report.collect_nodes(["n1"], {})["nodes"][0]
    assert (node["port"], node["called_aet"]) == (report.DEFAULT_PORT, report.DEFAULT_CALLED_AET) == (104, "ANY-SCP")


def test_targets_carry_the_nodes_required():
    collected = report.collect_nodes(["a", "b"], {"a": {}, "b": {"dicom_required": False}})
    assert [t["required"] for t in collected["batches"]["localhost"]] == [True, False]


def _result(name, ok=True, msg="C-ECHO succeeded"):
    return {"name": name, "ok": ok, "failure": None if ok else "echo", "msg": msg, "status": 0 if ok else 0x0122,
            "association": {"result": "accepted"}, "timing": {"total_ms": 3.25, "echo_ms": {"max": 1.5}},
            "attempts": 1, "peer": {}}


def test_report_texts_exactly():
    collected = report.collect_nodes(["ok", "bad"], {"bad": {"dicom_host": "::1", "dicom_required": False}})
    run = {"item": "localhost", "results": [_result("ok"), _result("bad", ok=False, msg="status 0x0122 <x> &")],
           "msg": "m", "summary": {"elapsed_ms": 4.0}}
    made = report.judge(collected, {"results": [run]}, junit_optional_failures="failure", now=NOW)
    assert made["json"] == json.dumps(made["nodes"], indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    assert made["reasons"] == {"bad": "bad ([::1]:104, ANY-SCP): status 0x0122 <x> &"}
    assert made["failed"] == [] and made["failed_optional"] == ["bad"]
    assert made["junit"] == """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="dicom.network.verify" tests="2" failures="1" errors="0" skipped="0">
  <testsuite name="dicom.network.verify.localhost" hostname="localhost" tests="2" failures="1" errors="0" \
skipped="0" timestamp="2026-01-02T03:04:05">
    <testcase classname="dicom.network.verify.localhost" name="ok" time="0.003">
      <properties>
        <property name="address" value="ok:104" />
        <property name="called_aet" value="ANY-SCP" />
        <property name="calling_aet" value="ECHOSCU" />
        <property name="required" value="true" />
        <property name="association" value="accepted" />
        <property name="echo_ms" value="1.5" />
      </properties>
      <system-out>C-ECHO succeeded</system-out>
    </testcase>
    <testcase classname="dicom.network.verify.localhost" name="bad" time="0.003">
      <properties>
        <property name="address" value="[::1]:104" />
        <property name="called_aet" value="ANY-SCP" />
        <property name="calling_aet" value="ECHOSCU" />
        <property name="required" value="false" />
        <property name="association" value="accepted" />
        <property name="echo_ms" value="1.5" />
      </properties>
      <failure type="echo" message="status 0x0122 &lt;x&gt; &amp;">bad at [::1]:104 (called AE title ANY-SCP, \
from localhost): status 0x0122 &lt;x&gt; &amp; [optional node]</failure>
      <system-out>status 0x0122 &lt;x&gt; &amp;</system-out>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_junit_never_carries_characters_xml_cannot():
    name = "n\x01\ud800"
    collected = report.collect_nodes([name], {name: {"dicom_host": "127.0.0.1"}})
    run = {"item": "localhost", "results": [_result(name, ok=False, msg="x\x00y\x1b\ufffe")]}
    junit = report.judge(collected, {"results": [run]}, now=NOW)["junit"]
    case = ET.fromstring(junit.encode("utf-8", "surrogatepass")).find("testsuite/testcase")
    assert case.get("name") == "n??"
    assert case.find("failure").get("message") == "x?y??"


def test_no_nodes_is_an_empty_report():
    made = report.judge(report.collect_nodes([], {}), {"results": []}, now=NOW)
    assert made["json"] == "[]\n"
    assert ET.fromstring(made["junit"]).attrib == {"name": "dicom.network.verify", "tests": "0", "failures": "0",
                                                   "errors": "0", "skipped": "0"}
    assert made["table"] == ["DICOM verify: 0 node(s), 0 passed, 0 failed, 0 optional failed"]
    assert made["fail_msg"] == "DICOM verification failed for 0 required node(s): "


def test_every_failed_node_has_a_hint_and_the_prometheus_text_parses():
    parser = pytest.importorskip("prometheus_client.parser")
    hostvars = {
        "ok": {}, "bad": {"dicom_called_aet": "PACS"}, "slow": {"dicom_max_echo_ms": 0.1},
        "typo": {"dicom_port": 0}, "far": {"dicom_probe_host": "p2"},
    }
    collected = report.collect_nodes(list(hostvars), hostvars)
    bad = _result("bad", ok=False, msg="association rejected [result 1, source 1, reason 7]")
    bad.update(failure="rejected", status=None, hint=None, timing={"total_ms": 2.0, "connect_ms": 0.5},
               association={"result": "rejected", "reject_result": 1, "reject_source": 1, "reject_reason": 7})
    run = {"item": "localhost", "results": [_result("ok"), bad, _result("slow")]}
    failed_probe = {"item": "p2", "failed": True, "msg": "unreachable"}
    made = report.judge(collected, {"results": [run, failed_probe]}, now=NOW)
    hints = {entry["name"]: entry["hint"] for entry in made["nodes"]}
    assert hints["ok"] is None
    assert "called AE title 'PACS'" in hints["bad"] and "may also" in hints["bad"]  # the engine's, with its titles
    assert "dicom_max_echo_ms" in hints["slow"]
    assert "inventory" in hints["typo"]
    assert "probe host p2" in hints["far"]

    families = {f.name: f for f in parser.text_string_to_metric_families(made["prometheus"])}
    up = {s.labels["node"]: s.value for s in families["dicom_echo_up"].samples}
    # The C-ECHO's own verdict: "slow" answered (its expectation is the report's business).
    assert up == {"ok": 1, "bad": 0, "slow": 1, "typo": 0, "far": 0}
    [sample] = [s for s in families["dicom_echo_up"].samples if s.labels["node"] == "bad"]
    assert sample.labels == {"peer": "bad", "port": "104", "called_aet": "PACS", "node": "bad"}
    totals = {s.labels["node"]: s.value for s in families["dicom_echo_duration_seconds"].samples
              if s.labels["phase"] == "total"}
    assert totals == {"ok": 0.00325, "bad": 0.002, "slow": 0.00325}
    assert {s.labels["node"] for s in families["dicom_echo_status"].samples} == {"ok", "slow"}
