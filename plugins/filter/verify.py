# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the role dicom.network.verify: collect the nodes, judge them.

``verify_nodes`` turns the nodes' host variables into the dicom.network.echo batches
(one per probe host), checking what an inventory can get wrong with the engine's own
validation; ``verify_judge`` turns the module results into the report (JSON entries,
JUnit XML, the table). Both work on plain data, once, on the controller.
"""

from __future__ import annotations

import collections.abc
import datetime
import re

from ansible.plugins.filter.core import to_bool, to_json, to_nice_json
from markupsafe import escape

from ansible_collections.dicom.network.plugins.module_utils._options import (
    MAX_AE_LENGTH,
    ae_title_problem,
    host_problem,
    problem,
)

DEFAULT_PORT = 104
DEFAULT_CALLED_AET = "ANY-SCP"
# A port written as digits in an INI inventory comes as a string.
_PORT_TEXT_RE = re.compile(r"^[0-9]{1,5}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CHECK_LABELS = {
    "implementation_version_name": "implementation version name",
    "implementation_class_uid": "implementation class UID",
}
TABLE_HEADER = ["NODE", "ADDRESS", "AE TITLE", "VERDICT", "ECHO MS", "REASON"]
TABLE_MAX_WIDTH = 40


def _var(hv, key, default=None):
    """``hv[key]`` (templated) when the host sets it, else ``default``."""
    return hv[key] if key in hv else default


def _node_problem(port, called, calling, host, options):
    """The first thing wrong with a node's host variables, naming the variable, or None."""
    if problem("port", port):
        return f"dicom_port {port} is not a port number (1 to 65535)"
    for var, aet in (("dicom_called_aet", called), ("dicom_calling_aet", calling)):
        if ae_title_problem(aet):
            return (f'{var} "{aet}" is not an AE title'
                    f" (1 to {MAX_AE_LENGTH} ASCII characters, no backslash or control characters)")
    if host_problem(host):
        return f'dicom_host "{host}" is not a host name or IP address'
    if not isinstance(options, collections.abc.Mapping):
        return "dicom_echo_options must be a dict of dicom.network.echo options"
    return None


def verify_nodes(hosts, hostvars, calling_aet="ECHOSCU", probe_host="localhost", max_echo_ms=None):
    """``{nodes, probes, batches}`` of the role from the hosts' dicom_* variables.

    ``nodes``: one entry per host, in order, with a ``problem`` when its variables are
    unusable (such a node fails alone and is not sent); ``batches``: for each probe host
    in ``probes``, the dicom.network.echo targets it checks.
    """
    nodes, probes, batches = [], [], {}
    for name in hosts:
        hv = hostvars[name] if name in hostvars else {}
        host = str(_var(hv, "dicom_host") or _var(hv, "ansible_host") or name)
        port = _var(hv, "dicom_port", DEFAULT_PORT)
        if isinstance(port, str) and _PORT_TEXT_RE.match(port):
            port = int(port)
        # An AE title such as 1234 comes from an INI inventory as a number.
        called = str(_var(hv, "dicom_called_aet") or DEFAULT_CALLED_AET)
        calling = str(_var(hv, "dicom_calling_aet") or calling_aet)
        options = _var(hv, "dicom_echo_options") or {}
        problem = _node_problem(port, called, calling, host, options)
        required = to_bool(hv["dicom_required"]) if "dicom_required" in hv else True
        probe = str(_var(hv, "dicom_probe_host") or probe_host)
        if problem is None:
            # The role decides what fails the play and reports every failure itself: sent
            # as required, a failed target makes the module fail (ignored by the role)
            # instead of warning about optional ones.
            target = {"name": name, "host": host, "port": port, "called_aet": called, "calling_aet": calling,
                      "required": True}
            if probe not in batches:
                probes.append(probe)
                batches[probe] = []
            batches[probe].append({**options, **target} if options else target)
        nodes.append({
            "name": name, "host": host, "port": port, "called_aet": called, "calling_aet": calling,
            "required": required, "probe": probe,
            "expect_implementation_version_name": _var(hv, "dicom_expect_implementation_version_name"),
            "expect_implementation_class_uid": _var(hv, "dicom_expect_implementation_class_uid"),
            "max_echo_ms": _var(hv, "dicom_max_echo_ms", max_echo_ms),
            "problem": problem,
        })
    return {"nodes": nodes, "probes": probes, "batches": batches}


def _as_float(value):
    """Jinja's ``float`` filter: 0.0 when the value is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _job_id(item):
    return item.get("ansible_job_id") if isinstance(item, collections.abc.Mapping) else None


def _probe_results(verify, echo, polled):
    """Each probe host's run: ``(by_name, probe_error, probes)``."""
    polled_results = polled.get("results", []) if isinstance(polled, collections.abc.Mapping) else []
    by_name, probe_error, probes = {}, {}, []
    for run in echo.get("results", []) if isinstance(echo, collections.abc.Mapping) else []:
        probe = run["item"]
        if "ansible_job_id" in run:
            job = run["ansible_job_id"]
            run = next((p for p in polled_results if _job_id(p.get("item")) == job), {})
        results = run.get("results")
        if results is not None and len(results) == len(verify["batches"][probe]):
            by_name.update((r["name"], r) for r in results)
            summary = run.get("summary")
            probes.append({"probe": probe, "nodes": len(results), "msg": run.get("msg"),
                           "elapsed_ms": summary.get("elapsed_ms") if summary is not None else None})
        else:
            probe_error[probe] = ("unreachable: " if run.get("unreachable", False) else "") + str(
                run.get("msg", "no result from dicom.network.echo"))
            probes.append({"probe": probe, "nodes": 0, "msg": probe_error[probe], "elapsed_ms": None})
    return by_name, probe_error, probes


def _checks(node, echo_ok, peer, echo_max):
    """The node's expectations: ``(checks, unmet messages)``."""
    checks, unmet = [], []
    for key, label in _CHECK_LABELS.items():
        expected = node["expect_" + key]
        if expected is not None:
            actual = peer.get(key)
            good = (actual == expected) if echo_ok else None
            msg = f"{label} is {to_json(actual)}" + (", as expected" if good else f", expected {to_json(expected)}")
            checks.append({"check": key, "expected": expected, "actual": actual, "ok": good, "msg": msg})
            if good is False:
                unmet.append(msg)
    if node["max_echo_ms"] is not None:
        limit = _as_float(node["max_echo_ms"])
        good = (echo_max is not None and echo_max <= limit) if echo_ok else None
        msg = f"C-ECHO took {echo_max} ms, {'within' if good else 'more than'} the {limit} ms allowed"
        checks.append({"check": "max_echo_ms", "expected": limit, "actual": echo_max, "ok": good, "msg": msg})
        if good is False:
            unmet.append(msg)
    return checks, unmet


def _junit_case(node, entry, state, failure, reason):
    """One ``<testcase>`` element, as text."""
    name, address, called, calling, probe = (
        str(escape(entry[key])) for key in ("name", "address", "called_aet", "calling_aet", "probe"))
    xmsg = str(escape(_CONTROL_RE.sub("?", str(reason))))
    seconds = (entry["timing"].get("total_ms") or 0) / 1000.0
    echo_ms = "" if entry["echo_ms"] is None else entry["echo_ms"]
    required = "true" if node["required"] else "false"
    association = entry["association"].get("result") or ""
    text = (
        f'    <testcase classname="dicom.network.verify.{probe}" name="{name}" time="{seconds:.3f}">\n'
        "      <properties>\n"
        f'        <property name="address" value="{address}"/>\n'
        f'        <property name="called_aet" value="{called}"/>\n'
        f'        <property name="calling_aet" value="{calling}"/>\n'
        f'        <property name="required" value="{required}"/>\n'
        f'        <property name="association" value="{association}"/>\n'
        f'        <property name="echo_ms" value="{echo_ms}"/>\n'
        "      </properties>\n"
    )
    if state == "failure":
        optional = "" if node["required"] else " [optional node]"
        text += (f'      <failure type="{failure}" message="{xmsg}">{name} at {address}'
                 f" (called AE title {called}, from {probe}): {xmsg}{optional}</failure>\n")
    if state == "skipped":
        text += f'      <skipped message="optional node failed: {xmsg}"/>\n'
    return text + f"      <system-out>{xmsg}</system-out>\n    </testcase>\n"


def _junit(verify, cases, stamp):
    """The JUnit document: one test suite per probe host."""
    order = list(verify["probes"])
    for case in cases:
        if case[0] not in order:
            order.append(case[0])
    suites, total = [], {"tests": 0, "failure": 0, "skipped": 0}
    for probe in order:
        body, count = [], {"tests": 0, "failure": 0, "skipped": 0}
        for case_probe, state, case in cases:
            if case_probe == probe:
                body.append(case)
                count["tests"] += 1
                if state in count:
                    count[state] += 1
        for key, value in count.items():
            total[key] += value
        xprobe = str(escape(probe))
        tests, failures, skipped = count["tests"], count["failure"], count["skipped"]
        suites.append(
            f'  <testsuite name="dicom.network.verify.{xprobe}" hostname="{xprobe}" tests="{tests}"'
            f' failures="{failures}" errors="0" skipped="{skipped}" timestamp="{stamp}">\n'
            + "".join(body) + "  </testsuite>\n")
    tests, failures, skipped = total["tests"], total["failure"], total["skipped"]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites name="dicom.network.verify" tests="{tests}" failures="{failures}"'
            f' errors="0" skipped="{skipped}">\n'
            + "".join(suites) + "</testsuites>\n")


def _table_lines(rows):
    """The rows (header first) as aligned lines; none when there is no node row."""
    if len(rows) < 2:
        return []
    w0, w1, w2, w3, w4 = (min(max(len(row[col]) for row in rows), TABLE_MAX_WIDTH) for col in range(5))
    return [f"{row[0]:<{w0}}  {row[1]:<{w1}}  {row[2]:<{w2}}  {row[3]:<{w3}}  {row[4]:>{w4}}  {row[5]}" for row in rows]


def verify_judge(verify, echo=None, polled=None, show="all", junit_optional_failures="skipped", report_dir="",
                 check_mode=False, now=None):
    """The role's ``verify_report`` from ``__verify`` and the registered module results.

    ``echo`` is the registered dicom.network.echo loop, ``polled`` the async_status loop
    (for asynchronous runs); ``now`` (a UTC datetime) stamps the JUnit suites.
    """
    by_name, probe_error, probes = _probe_results(verify, echo or {}, polled or {})
    out, failed, optional, fail_lines, cases = [], [], [], [], []
    rows = [TABLE_HEADER]
    passed = 0
    for node in verify["nodes"]:
        has_r = not node["problem"] and node["name"] in by_name
        result = by_name[node["name"]] if has_r else {}
        if node["problem"]:
            echo_ok, failure, reason = False, "usage", node["problem"]
        elif not has_r:
            echo_ok, failure = False, "probe"
            reason = f"probe {node['probe']} could not check the node: {probe_error.get(node['probe'], 'no result')}"
        else:
            echo_ok, failure, reason = result.get("ok"), result.get("failure"), result.get("msg")
        peer = result.get("peer", {}) if has_r else {}
        timing = result.get("timing", {}) if has_r else {}
        echo_max = (timing.get("echo_ms") or {}).get("max") if has_r else None
        checks, unmet = _checks(node, echo_ok, peer, echo_max)
        ok = echo_ok and not unmet
        if echo_ok and unmet:
            failure, reason = "expectation", "; ".join(unmet)
        host = node["host"]
        address = f"{'[' + host + ']' if ':' in host else host}:{node['port']}"
        verdict = "passed" if ok else ("failed" if node["required"] else "failed-optional")
        entry = {
            "name": node["name"], "host": host, "port": node["port"], "address": address,
            "called_aet": node["called_aet"], "calling_aet": node["calling_aet"],
            "probe": node["probe"], "required": node["required"],
            "ok": ok, "verdict": verdict, "msg": reason, "failure": None if ok else failure,
            "status": result.get("status") if has_r else None,
            "association": result.get("association") if has_r else {"result": None},
            "timing": timing, "echo_ms": echo_max,
            "attempts": result.get("attempts") if has_r else 0,
            "peer": peer, "checks": checks,
        }
        out.append(entry)
        if ok:
            passed += 1
        elif node["required"]:
            failed.append(node["name"])
            fail_lines.append(f"{node['name']} ({address}, {node['called_aet']}): {reason}")
        else:
            optional.append(node["name"])
        if show == "all" or (show == "problems" and not ok):
            rows.append([node["name"], address, node["called_aet"], verdict,
                         f"{echo_max:.1f}" if echo_max is not None else "-", "" if ok else reason])
        # JUnit: a required node that failed is a failure; an optional one is skipped (or a
        # failure with verify_junit_optional_failures: failure), so that by default the
        # JUnit verdict is the play's verdict.
        if ok:
            state = "passed"
        else:
            state = "failure" if node["required"] or junit_optional_failures == "failure" else "skipped"
        cases.append((node["probe"], state, _junit_case(node, entry, state, failure, reason)))

    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    files = [report_dir + "/dicom-verify.json", report_dir + "/dicom-verify.xml"] if report_dir else []
    runs = [f"{p['probe']} ({p['nodes']}) in {p['elapsed_ms'] / 1000.0:.2f} s"
            for p in probes if p["elapsed_ms"] is not None]
    summary = (f"DICOM verify: {len(out)} node(s), {passed} passed, {len(failed)} failed,"
               f" {len(optional)} optional failed" + ("; checked from " + ", ".join(runs) if runs else ""))
    report_line = []
    if files:
        report_line.append("report: " + ", ".join(files) + (" (not written in check mode)" if check_mode else ""))
    return {
        "nodes": out,
        "probes": probes,
        "passed": passed,
        "failed": failed,
        "failed_optional": optional,
        "summary": summary,
        "files": files,
        "table": [summary] + _table_lines(rows) + report_line,
        "fail_msg": f"DICOM verification failed for {len(failed)} required node(s): " + "; ".join(fail_lines),
        "json": to_nice_json(out, indent=2) + "\n",
        "junit": _junit(verify, cases, stamp),
    }


class FilterModule:
    """Filters of the role dicom.network.verify."""

    def filters(self):
        return {
            "verify_nodes": verify_nodes,
            "verify_judge": verify_judge,
        }
