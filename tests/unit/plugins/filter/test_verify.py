# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters of the role dicom.network.verify (plugins/filter/verify.py), table-driven."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.dicom.network.plugins.filter.verify import FilterModule, verify_judge, verify_nodes

NOT_INT = "dicom_port must be an integer"
DEFAULTS = {"calling_aet": "ME", "probe_host": "p1", "max_echo_ms": 50}
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def node_of(hostvars, name="n1", **kwargs):
    """The one node verify_nodes makes of ``{name: hostvars}``."""
    collected = verify_nodes([name], {name: hostvars}, **kwargs)
    return collected["nodes"][0], collected


@pytest.mark.parametrize(
    ("hostvars", "problem"),
    [
        ({}, None),
        ({"dicom_port": 11112}, None),
        ({"dicom_port": "11112"}, None),
        ({"dicom_port": 0}, "dicom_port must be between 1 and 65535 (got 0)"),
        ({"dicom_port": 65536}, "dicom_port must be between 1 and 65535 (got 65536)"),
        ({"dicom_port": "abc"}, NOT_INT),
        ({"dicom_port": "000104"}, NOT_INT),
        ({"dicom_port": True}, NOT_INT),
        ({"dicom_port": 104.0}, NOT_INT),
        ({"dicom_called_aet": 1234}, None),
        ({"dicom_called_aet": "A<B&'\"C"}, None),
        ({"dicom_called_aet": "X" * 17}, "dicom_called_aet must be at most 16 characters (got 17)"),
        ({"dicom_called_aet": "   "}, "dicom_called_aet must not be empty or only spaces"),
        ({"dicom_called_aet": "A\\B"}, "dicom_called_aet must not contain a backslash"),
        ({"dicom_called_aet": "A\tB"}, "dicom_called_aet must not contain control characters"),
        ({"dicom_called_aet": "ÄE"}, "dicom_called_aet must use only ASCII characters"),
        ({"dicom_calling_aet": "A\\B"}, "dicom_calling_aet must not contain a backslash"),
        ({"dicom_host": "::1"}, None),
        ({"dicom_host": "[fe80::1%eth0]"}, None),
        ({"dicom_host": "pacs.example.org."}, None),
        ({"dicom_host": "bad host"}, "dicom_host 'bad host' is not a valid host name or IP address"),
        ({"dicom_host": "-x.example"}, "dicom_host '-x.example' is not a valid host name or IP address"),
        ({"dicom_host": "1:2:3"}, "dicom_host '1:2:3' is not a valid host name or IP address"),
        ({"dicom_echo_options": {"repeat": 2}}, None),
        ({"dicom_echo_options": [1]}, "dicom_echo_options must be a dict of dicom.network.echo options"),
        # The first problem wins: port, called AE title, calling AE title, host, options.
        ({"dicom_port": 0, "dicom_called_aet": "A\\B"}, "dicom_port must be between 1 and 65535 (got 0)"),
        ({"dicom_calling_aet": "A\\B", "dicom_called_aet": "   "},
         "dicom_called_aet must not be empty or only spaces"),
        ({"dicom_host": "bad host", "dicom_echo_options": "x"},
         "dicom_host 'bad host' is not a valid host name or IP address"),
    ],
)
def test_node_problems(hostvars, problem):
    node, collected = node_of(hostvars)
    assert node["problem"] == problem
    if problem:
        assert not collected["probes"] and not collected["batches"]
    else:
        assert collected["probes"] == ["localhost"]
        assert len(collected["batches"]["localhost"]) == 1


@pytest.mark.parametrize(
    ("hostvars", "kwargs", "expected"),
    [
        ({}, {}, {"host": "n1", "port": 104, "called_aet": "ANY-SCP", "calling_aet": "ECHOSCU", "required": True,
                  "probe": "localhost", "max_echo_ms": None}),
        ({"ansible_host": "10.0.0.1", "dicom_port": "4242"}, {}, {"host": "10.0.0.1", "port": 4242}),
        ({"ansible_host": "10.0.0.1", "dicom_host": "pacs"}, {}, {"host": "pacs"}),
        ({"dicom_called_aet": 1234}, {}, {"called_aet": "1234"}),
        ({}, DEFAULTS, {"calling_aet": "ME", "probe": "p1", "max_echo_ms": 50}),
        ({"dicom_calling_aet": "NODE", "dicom_probe_host": "p2", "dicom_max_echo_ms": 9}, DEFAULTS,
         {"calling_aet": "NODE", "probe": "p2", "max_echo_ms": 9}),
        ({"dicom_required": "no"}, {}, {"required": False}),
        ({"dicom_required": "yes"}, {}, {"required": True}),
        ({"dicom_required": False}, {}, {"required": False}),
        ({"dicom_expect_implementation_version_name": "V1", "dicom_expect_implementation_class_uid": "1.2"}, {},
         {"expect_implementation_version_name": "V1", "expect_implementation_class_uid": "1.2"}),
    ],
)
def test_node_fields(hostvars, kwargs, expected):
    node, dummy = node_of(hostvars, **kwargs)
    assert {key: node[key] for key in expected} == expected


def test_batches_per_probe_in_order():
    hostvars = {
        "a": {"dicom_probe_host": "p2", "dicom_echo_options": {"repeat": 3, "port": 1}},
        "b": {},
        "c": {"dicom_probe_host": "p2", "dicom_port": 0},
        "d": {"dicom_probe_host": "p2"},
    }
    collected = verify_nodes(["a", "b", "c", "d", "unknown"], hostvars)
    assert [n["name"] for n in collected["nodes"]] == ["a", "b", "c", "d", "unknown"]
    assert collected["probes"] == ["p2", "localhost"]
    assert [t["name"] for t in collected["batches"]["p2"]] == ["a", "d"]
    assert [t["name"] for t in collected["batches"]["localhost"]] == ["b", "unknown"]
    # The node's own settings win over dicom_echo_options; every target is sent as required.
    assert collected["batches"]["p2"][0] == {
        "repeat": 3, "name": "a", "host": "a", "port": 104,
        "called_aet": "ANY-SCP", "calling_aet": "ECHOSCU", "required": True,
    }


def echo_result(name, ok=True, failure=None, msg="C-ECHO succeeded", echo_ms=2.5, peer=None):
    return {
        "name": name, "ok": ok, "failure": failure, "msg": msg, "status": 0 if ok else None,
        "association": {"result": "accepted" if ok else "refused"},
        "timing": {"total_ms": 12.0, "echo_ms": {"max": echo_ms if ok else None}},
        "attempts": 1,
        "peer": peer or {"implementation_version_name": "V1", "implementation_class_uid": "1.2"},
    }


def judge_one(hostvars, result, **kwargs):
    """verify_judge for one node n1 checked from localhost with ``result``."""
    verify = verify_nodes(["n1"], {"n1": hostvars})
    runs = [{"item": probe, "results": [result], "msg": "done", "summary": {"elapsed_ms": 1500.0}}
            for probe in verify["probes"]]
    return verify_judge(verify, {"results": runs}, now=NOW, **kwargs)


@pytest.mark.parametrize(
    ("hostvars", "result", "verdict", "failure", "msg"),
    [
        ({}, echo_result("n1"), "passed", None, "C-ECHO succeeded"),
        ({}, echo_result("n1", ok=False, failure="connect", msg="refused"), "failed", "connect", "refused"),
        ({"dicom_required": False}, echo_result("n1", ok=False, failure="connect", msg="x"),
         "failed-optional", "connect", "x"),
        ({"dicom_expect_implementation_version_name": "V1"}, echo_result("n1"), "passed", None, "C-ECHO succeeded"),
        ({"dicom_expect_implementation_version_name": "V2"}, echo_result("n1"), "failed", "expectation",
         'implementation version name is "V1", expected "V2"'),
        ({"dicom_max_echo_ms": 1, "dicom_expect_implementation_class_uid": "9"}, echo_result("n1"),
         "failed", "expectation",
         'implementation class UID is "1.2", expected "9"; C-ECHO took 2.5 ms, more than the 1.0 ms allowed'),
        ({"dicom_port": 0}, echo_result("n1"), "failed", "usage", "dicom_port must be between 1 and 65535 (got 0)"),
    ],
)
def test_judge_verdicts(hostvars, result, verdict, failure, msg):
    report = judge_one(hostvars, result)
    entry = report["nodes"][0]
    assert (entry["verdict"], entry["failure"], entry["msg"]) == (verdict, failure, msg)
    assert entry["ok"] == (verdict == "passed")
    assert report["passed"] == (1 if verdict == "passed" else 0)
    assert report["failed"] == (["n1"] if verdict == "failed" else [])
    assert report["failed_optional"] == (["n1"] if verdict == "failed-optional" else [])
    assert json.loads(report["json"]) == report["nodes"]


def test_judge_checks_when_the_echo_failed():
    report = judge_one({"dicom_max_echo_ms": 10}, echo_result("n1", ok=False, failure="connect", msg="no"))
    assert report["nodes"][0]["checks"] == [{"check": "max_echo_ms", "expected": 10.0, "actual": None, "ok": None,
                                             "msg": "C-ECHO took None ms, more than the 10.0 ms allowed"}]
    assert report["nodes"][0]["failure"] == "connect"


@pytest.mark.parametrize(
    ("run", "msg"),
    [
        ({"item": "localhost", "unreachable": True, "msg": "ssh: no route"},
         "probe localhost could not check the node: unreachable: ssh: no route"),
        ({"item": "localhost", "failed": True, "msg": "pynetdicom is missing"},
         "probe localhost could not check the node: pynetdicom is missing"),
        ({"item": "localhost"}, "probe localhost could not check the node: no result from dicom.network.echo"),
        ({"item": "localhost", "ansible_job_id": "j1"},
         "probe localhost could not check the node: no result from dicom.network.echo"),
    ],
)
def test_judge_probe_errors(run, msg):
    verify = verify_nodes(["n1"], {"n1": {}})
    report = verify_judge(verify, {"results": [run]}, now=NOW)
    assert (report["nodes"][0]["failure"], report["nodes"][0]["msg"]) == ("probe", msg)
    assert report["probes"] == [{"probe": "localhost", "nodes": 0, "msg": msg.split(": ", 1)[1], "elapsed_ms": None}]


def test_judge_async_results_come_from_the_polled_jobs():
    verify = verify_nodes(["n1", "n2"], {"n1": {}, "n2": {"dicom_probe_host": "p2"}})
    echo = {"results": [{"item": "localhost", "ansible_job_id": "j1"}, {"item": "p2", "ansible_job_id": "j2"}]}
    polled = {"results": [
        {"item": {"ansible_job_id": "j2"}, "results": [echo_result("n2")], "summary": {"elapsed_ms": 20.0}},
        {"item": {"ansible_job_id": "j1"}, "results": [echo_result("n1")], "summary": {"elapsed_ms": 10.0}},
    ]}
    report = verify_judge(verify, echo, polled, now=NOW)
    assert [e["verdict"] for e in report["nodes"]] == ["passed", "passed"]
    assert report["summary"] == ("DICOM verify: 2 node(s), 2 passed, 0 failed, 0 optional failed;"
                                 " checked from localhost (1) in 0.01 s, p2 (1) in 0.02 s")


@pytest.mark.parametrize(
    ("show", "rows"),
    [("all", ["n1", "n2", "n3"]), ("problems", ["n2", "n3"]), ("none", [])],
)
def test_table(show, rows):
    hostvars = {"n1": {}, "n2": {"dicom_port": 0}, "n3": {"dicom_host": "::1", "dicom_required": False}}
    verify = verify_nodes(["n1", "n2", "n3"], hostvars)
    results = [echo_result("n1"), echo_result("n3", ok=False, failure="connect", msg="refused")]
    run = {"item": "localhost", "results": results, "msg": "", "summary": {"elapsed_ms": 1234.0}}
    report = verify_judge(verify, {"results": [run]}, show=show, report_dir="/r", check_mode=True, now=NOW)
    summary = "DICOM verify: 3 node(s), 1 passed, 1 failed, 1 optional failed; checked from localhost (2) in 1.23 s"
    lines = {
        "n1": "n1    n1:104     ANY-SCP   passed               2.5  ",
        "n2": "n2    n2:0       ANY-SCP   failed                 -  dicom_port must be between 1 and 65535 (got 0)",
        "n3": "n3    [::1]:104  ANY-SCP   failed-optional        -  refused",
    }
    header = "NODE  ADDRESS    AE TITLE  VERDICT          ECHO MS  REASON"
    expected = [summary] + ([header] + [lines[r] for r in rows] if rows else [])
    expected.append("report: /r/dicom-verify.json, /r/dicom-verify.xml, /r/dicom-verify.prom"
                    " (not written in check mode)")
    assert report["table"] == expected
    assert report["files"] == ["/r/dicom-verify.json", "/r/dicom-verify.xml", "/r/dicom-verify.prom"]
    assert report["fail_msg"] == ("DICOM verification failed for 1 required node(s):"
                                  " n2 (n2:0, ANY-SCP): dicom_port must be between 1 and 65535 (got 0)")


@pytest.mark.parametrize(
    ("optional_failures", "state"),
    [("skipped", "skipped"), ("failure", "failure")],
)
def test_junit(optional_failures, state):
    verify = verify_nodes(["ok", "bad&", "opt"], {"ok": {"dicom_called_aet": "A<B"}, "bad&": {"dicom_port": "x"},
                                                  "opt": {"dicom_required": False, "dicom_probe_host": "p2"}})
    runs = [{"item": "localhost", "results": [echo_result("ok")], "msg": ""},
            {"item": "p2", "results": [echo_result("opt", ok=False, failure="echo", msg='bad "\x01" reply')]}]
    junit = verify_judge(verify, {"results": runs}, junit_optional_failures=optional_failures, now=NOW)["junit"]
    root = ET.fromstring(junit)
    assert root.attrib == {"name": "dicom.network.verify", "tests": "3", "failures": "2" if state == "failure" else "1",
                           "errors": "0", "skipped": "1" if state == "skipped" else "0"}
    suites = root.findall("testsuite")
    assert [s.attrib["hostname"] for s in suites] == ["localhost", "p2"]
    assert suites[0].attrib["timestamp"] == "2026-01-02T03:04:05"
    cases = {c.attrib["name"]: c for c in root.iter("testcase")}
    assert cases["ok"].attrib["time"] == "0.012"
    assert {p.attrib["name"]: p.attrib["value"] for p in cases["ok"].iter("property")} == {
        "address": "ok:104", "called_aet": "A<B", "calling_aet": "ECHOSCU", "required": "true",
        "association": "accepted", "echo_ms": "2.5"}
    assert cases["bad&"].find("failure").attrib == {
        "type": "usage", "message": NOT_INT}
    opt = cases["opt"]
    if state == "skipped":
        assert opt.find("skipped").attrib["message"] == 'optional node failed: bad "?" reply'
    else:
        assert opt.find("failure").text.endswith('bad "?" reply [optional node]')
    assert opt.find("system-out").text == 'bad "?" reply'


def test_filter_names():
    assert sorted(FilterModule().filters()) == ["verify_judge", "verify_nodes", "verify_with_secrets"]


def test_role_variables_out_of_bounds_fail_the_filter():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match=r"^dicom.network.verify: verify_concurrency must be between 1 and"):
        verify_nodes(["n1"], {}, settings={"verify_concurrency": 0})
    assert verify_nodes(["n1"], {}, settings={"verify_concurrency": 1})["probes"] == ["localhost"]
