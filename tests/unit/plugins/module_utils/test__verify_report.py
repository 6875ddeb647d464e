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


# -- secured associations: node variables, role defaults, certificate expiry ------------------------

SECRET = "pw-never-in-the-report"


def test_secured_variables_go_to_the_targets_only():
    hostvars = {
        "tls": {"dicom_tls": "yes", "dicom_tls_server_name": "pacs.example.org", "dicom_password": SECRET},
        "plain": {},
    }
    secured = {"verify_tls": False, "verify_tls_ca_file": "/ca.pem", "verify_tls_verify": True,
               "verify_username": "monitor", "verify_identity_positive_response": False}
    collected = report.collect_nodes(["tls", "plain"], hostvars, secured=secured, cert_min_days=30)
    tls_target, plain_target = collected["batches"]["localhost"]
    assert tls_target["tls"] is True and tls_target["tls_ca_file"] == "/ca.pem"
    assert tls_target["tls_server_name"] == "pacs.example.org" and tls_target["tls_verify"] is True
    assert tls_target["username"] == "monitor" and "password" not in tls_target
    assert collected["secret_nodes"] == ["tls"]
    # The role's TLS defaults mean nothing for a node not checked over TLS; its identity does.
    assert not any(key.startswith("tls") for key in plain_target) and plain_target["username"] == "monitor"
    nodes = collected["nodes"]
    assert [n["tls"] for n in nodes] == [True, False] and nodes[0]["cert_min_days"] == 30
    assert SECRET not in json.dumps(nodes)


@pytest.mark.parametrize(("hostvars", "problem"), [
    ({"dicom_tls": "maybe"}, "dicom_tls must be true or false"),
    ({"dicom_password": "x"}, "dicom_password only with a user name (dicom_username)"),
    ({"dicom_tls_ca_file": "/ca.pem"}, "dicom_tls_ca_file only with TLS (dicom_tls)"),
    ({"dicom_tls": True, "dicom_tls_cert_file": "/c.pem"}, "dicom_tls_key_file a client certificate needs both"),
    ({"dicom_tls": True, "dicom_tls_min_version": "1.1"}, "dicom_tls_min_version must be one of 1.2, 1.3"),
])
def test_secured_problems_name_the_variable(hostvars, problem):
    node = report.collect_nodes(["n"], {"n": hostvars})["nodes"][0]
    assert node["problem"].startswith(problem), node["problem"]
    assert "x" not in node["problem"].split()[-1]


def _tls_result(name, days_left, ok=True):
    result = _result(name, ok=ok)
    result["tls"] = {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "verified": True, "error": None,
                     "peer_certificate": {"subject": "CN=pacs", "not_after": "2026-02-01T00:00:00+00:00",
                                          "days_left": days_left}}
    return result


def test_certificate_expiry_is_an_expectation():
    hostvars = {"soon": {"dicom_tls": True}, "later": {"dicom_tls": True, "dicom_cert_min_days": 5}}
    collected = report.collect_nodes(["soon", "later"], hostvars, cert_min_days=30)
    run = {"item": "localhost", "results": [_tls_result("soon", 10), _tls_result("later", 10)], "msg": "m",
           "summary": {"elapsed_ms": 4.0}}
    made = report.judge(collected, {"results": [run]}, now=NOW)
    soon, later = made["nodes"]
    assert soon["verdict"] == "failed" and soon["failure"] == "expectation"
    assert soon["msg"] == ("peer certificate expires on 2026-02-01T00:00:00+00:00 (10 days left), fewer than the"
                           " 30 required")
    assert later["ok"] and later["tls"] == {"version": "TLSv1.3", "verified": True, "error": None,
                                            "not_after": "2026-02-01T00:00:00+00:00", "days_left": 10,
                                            "subject": "CN=pacs"}
    header = made["table"][1].split()
    assert header == ["NODE", "ADDRESS", "AE", "TITLE", "VERDICT", "ECHO", "MS", "TLS", "REASON"]
    assert "TLSv1.3 2026-02-01 (10 d)" in made["table"][2]
    junit = ET.fromstring(made["junit"].split("\n", 1)[1])
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["tls_version"] == "TLSv1.3" and props["cert_days_left"] == "10"
    assert props["cert_not_after"] == "2026-02-01T00:00:00+00:00"


def test_secrets_are_put_back_in_the_batch_only():
    hostvars = {"a": {"dicom_username": "u", "dicom_password": SECRET}, "b": {"dicom_username": "v"},
                "c": {"dicom_tls": True, "dicom_tls_cert_file": "/c", "dicom_tls_key_file": "/k"}, "d": {}}
    collected = report.collect_nodes(list(hostvars), hostvars)
    assert SECRET not in json.dumps(collected) and collected["secret_nodes"] == ["a"]
    batch = report.with_secrets(collected["batches"]["localhost"], hostvars, collected["secret_nodes"],
                                {"verify_password": "role-pw", "verify_tls_key_password": "role-kp"})
    a, b, c, d = batch
    assert (a["password"], b["password"]) == (SECRET, "role-pw")
    assert c["tls_key_password"] == "role-kp" and "password" not in c
    assert "password" not in d and "tls_key_password" not in d
    assert "password" not in collected["batches"]["localhost"][0]  # the role's fact is untouched
