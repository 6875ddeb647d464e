# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The role dicom.network.verify in plain Python: its nodes, their verdicts, its report.

The filters ``dicom.network.verify_nodes`` and ``dicom.network.verify_judge``
(plugins/filter/verify.py) are thin wrappers around :func:`collect_nodes` and
:func:`judge`. Plain data in, plain data out, no ``ansible`` import: the report is
made once, on the controller, by the code the unit tests call.

Required versus optional is decided here and nowhere else: :func:`collect_nodes`
reads ``dicom_required`` once, every batch target carries that value to
dicom.network.echo (so the module's own message and warnings say the same), and
:func:`judge` turns it into each node's verdict and the list of nodes that fail.
"""

from __future__ import annotations

import collections.abc
import datetime
import json
import re
import typing as t
import xml.etree.ElementTree as ET

from ._hints import hint_for
from ._monitoring import prometheus_labels, prometheus_text
from ._options import BY_NAME, RequestError, check, problem
from .echo_request import EchoRequest, address_label, validate

# The engine's defaults, for the node variables left unset (one declaration: the option table).
DEFAULT_PORT: int = BY_NAME["port"].default
DEFAULT_CALLED_AET: str = BY_NAME["called_aet"].default

# A port written as digits in an INI inventory comes as a string.
_PORT_TEXT_RE = re.compile(r"^[0-9]{1,5}$")
# Characters XML 1.0 cannot carry (PS3.19 is silent; JUnit consumers parse XML 1.0):
# C0 controls but tab/newline/return, DEL as the old report did, lone surrogates, U+FFFE/U+FFFF.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# Values accepted for dicom_required, as Ansible's `bool` filter reads them.
_TRUE = frozenset(("y", "yes", "on", "1", "true", "t"))
_FALSE = frozenset(("n", "no", "off", "0", "false", "f"))

_CHECK_LABELS = {
    "implementation_version_name": "implementation version name",
    "implementation_class_uid": "implementation class UID",
}
# Hints (one sentence: what to check, and where) for the failures the role itself finds; the
# C-ECHO's own failures carry the engine's hint (_hints).
_HINT_NODE_PROBLEM = "Correct the host variable the message names in this node's inventory entry."
_HINT_PROBE = ("The probe host {probe} could not run the check: check that Ansible reaches it and that its Python"
               " has pynetdicom.")
_HINT_EXPECTATION = ("The node answers C-ECHO but not as the inventory expects (see checks): find out what changed"
                     " on the node, or update the expectation (dicom_expect_*, dicom_max_echo_ms).")
TABLE_HEADER = ["NODE", "ADDRESS", "AE TITLE", "VERDICT", "ECHO MS", "REASON"]
TABLE_MAX_WIDTH = 40
# What the role writes to verify_report_dir: the report, JUnit, and the Prometheus text for
# node_exporter's textfile collector.
REPORT_FILES = ("dicom-verify.json", "dicom-verify.xml", "dicom-verify.prom")

# The role variables that are dicom.network.echo options, by the option table's name.
ROLE_OPTIONS = {
    "calling_aet": "verify_calling_aet",
    "connect_timeout": "verify_connect_timeout",
    "acse_timeout": "verify_acse_timeout",
    "dimse_timeout": "verify_dimse_timeout",
    "deadline": "verify_deadline",
    "repeat": "verify_repeat",
    "concurrency": "verify_concurrency",
    "retries": "verify_retries",
    "retry_delay": "verify_delay",
}
# The host variables of a node that are options of its C-ECHO run.
NODE_OPTIONS = {
    "port": "dicom_port",
    "called_aet": "dicom_called_aet",
    "calling_aet": "dicom_calling_aet",
    "host": "dicom_host",
}


# Secured associations (DICOM TLS, user identity): option -> (host variable, role variable
# that is every node's default, or None where only a node can say: a server name is one
# node's). Secrets (password, key password) go to the module's targets and nowhere else:
# not into the nodes, the report or the table.
SECURED_OPTIONS = {
    "tls": ("dicom_tls", "verify_tls"),
    "tls_ca_file": ("dicom_tls_ca_file", "verify_tls_ca_file"),
    "tls_ca_path": ("dicom_tls_ca_path", "verify_tls_ca_path"),
    "tls_server_name": ("dicom_tls_server_name", None),
    "tls_verify": ("dicom_tls_verify", "verify_tls_verify"),
    "tls_min_version": ("dicom_tls_min_version", "verify_tls_min_version"),
    "tls_cert_file": ("dicom_tls_cert_file", "verify_tls_cert_file"),
    "tls_key_file": ("dicom_tls_key_file", "verify_tls_key_file"),
    "tls_key_password": ("dicom_tls_key_password", "verify_tls_key_password"),
    "username": ("dicom_username", "verify_username"),
    "password": ("dicom_password", "verify_password"),
    "identity_type": ("dicom_identity_type", "verify_identity_type"),
    "identity_token_file": ("dicom_identity_token_file", "verify_identity_token_file"),
    "identity_positive_response": ("dicom_identity_positive_response", "verify_identity_positive_response"),
}
_BOOL_OPTIONS = ("tls", "tls_verify", "identity_positive_response")
# The secrets, and the option a target must have for each to mean something.
_SECRET_NEEDS = {"password": "username", "tls_key_password": "tls_key_file"}


def with_secrets(
    batch: t.Sequence[t.Mapping[str, t.Any]],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    secret_nodes: t.Iterable[str] = (),
    defaults: t.Mapping[str, t.Any] | None = None,
) -> list[dict[str, t.Any]]:
    """A probe host's batch with the passwords put back, for dicom.network.echo only.

    :func:`collect_nodes` keeps secrets out of its result (a fact Ansible may print); the
    role calls this in the module's own arguments, which the module masks (no_log). Only
    the nodes in ``secret_nodes`` (those that set a secret themselves) are looked up in
    ``hostvars``; the role's ``verify_password`` / ``verify_tls_key_password`` go to every
    target that has a user name / a key file.
    """
    defaults = defaults or {}
    mine = set(secret_nodes)
    out = []
    for target in batch:
        target = dict(target)
        name = target.get("name")
        hv = hostvars[name] if name in mine and name in hostvars else {}
        for option, needs in _SECRET_NEEDS.items():
            node_var, role_var = SECURED_OPTIONS[option]
            value = hv[node_var] if node_var in hv else defaults.get(t.cast(str, role_var))
            if value is not None and target.get(needs) is not None:
                target[option] = value
        out.append(target)
    return out


def problem_text(variable: str, reason: str) -> str:
    """How the role words a usage error: the variable as the user wrote it, then the engine's reason."""
    return f"{variable} {reason}"


# -- the role's own variables ---------------------------------------------------------


def settings_problem(settings: t.Mapping[str, t.Any]) -> str | None:
    """The first verify_* variable the option table refuses, worded by :func:`problem_text`, or None.

    ``settings`` maps role variable names to their values (converted to numbers by the
    role); the bounds are the option table's, the same the module and the script apply.
    """
    values = {name: settings[var] for name, var in ROLE_OPTIONS.items() if var in settings}
    try:
        check(values, names=ROLE_OPTIONS)
    except RequestError as exc:
        return problem_text(exc.option, exc.reason)
    return None


# -- the nodes, from their host variables ---------------------------------------------


def _var(hv: t.Mapping[str, t.Any], key: str, default: t.Any = None) -> t.Any:
    """``hv[key]`` (templated by Ansible on access) when the host sets it, else ``default``."""
    return hv[key] if key in hv else default


def _required(hv: t.Mapping[str, t.Any]) -> tuple[bool, str | None]:
    """``dicom_required`` as a bool (true when unset), and a problem when it is neither true nor false."""
    if "dicom_required" not in hv:
        return True, None
    value = hv["dicom_required"]
    if isinstance(value, bool):
        return value, None
    text = str(value).lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    # Unreadable: the node counts as required, so the problem fails the play.
    return True, problem_text("dicom_required", "must be true or false")


def node_problem(port: t.Any, called: str, calling: str, host: str, options: t.Any) -> str | None:
    """The first thing the option table refuses in a node's host variables, naming the variable, or None.

    The reasons are the engine's own (:func:`_options.problem`); the order is the old
    role's: port, called AE title, calling AE title, host, then ``dicom_echo_options``.
    """
    for name, value in (("port", port), ("called_aet", called), ("calling_aet", calling), ("host", host)):
        reason = problem(name, value)
        if reason:
            return problem_text(NODE_OPTIONS[name], reason)
    if not isinstance(options, collections.abc.Mapping):
        return problem_text("dicom_echo_options", "must be a dict of dicom.network.echo options")
    return None


def _flag(value: t.Any) -> bool | None:
    """A bool variable as Ansible's ``bool`` filter reads it (INI inventories give strings), or None."""
    if isinstance(value, bool):
        return value
    text = str(value).lower() if isinstance(value, (str, int)) else None
    return True if text in _TRUE else False if text in _FALSE else None


def secured_options(
    hv: t.Mapping[str, t.Any], defaults: t.Mapping[str, t.Any], host: str, port: t.Any
) -> tuple[dict[str, t.Any], str | None]:
    """A node's TLS and user identity options (only those set), and the first problem.

    The node's ``dicom_*`` variable wins over the role's ``verify_*`` default. Checked by
    the engine's own rules, combinations included (a password needs a user name...).
    """
    options: dict[str, t.Any] = {}
    names: dict[str, str] = {}
    for option, (node_var, role_var) in SECURED_OPTIONS.items():
        # A message names the variable the value came from; an unset one, by the node's name.
        names[option] = node_var
        value = hv[node_var] if node_var in hv else (defaults.get(role_var) if role_var else None)
        if value is None:
            continue
        if node_var not in hv:
            names[option] = t.cast(str, role_var)
        if option in _BOOL_OPTIONS:
            flag = _flag(value)
            if flag is None:
                return {}, problem_text(names[option], "must be true or false")
            value = flag
        options[option] = value
    if not options.get("tls"):
        # Role-wide TLS settings mean nothing for a node that is not checked over TLS.
        options = {k: v for k, v in options.items() if not k.startswith("tls") or names[k].startswith("dicom_")}
    try:
        validate(EchoRequest(host=host, port=port if isinstance(port, int) else DEFAULT_PORT, **options), names)
    except RequestError as exc:
        return {}, problem_text(exc.option, exc.reason)
    return options, None


def collect_nodes(
    hosts: t.Iterable[str],
    hostvars: t.Mapping[str, t.Mapping[str, t.Any]],
    calling_aet: str = "ECHOSCU",
    probe_host: str = "localhost",
    max_echo_ms: t.Any = None,
    secured: t.Mapping[str, t.Any] | None = None,
    cert_min_days: t.Any = 0,
) -> dict[str, t.Any]:
    """``{nodes, probes, batches, secret_nodes}`` of the role from the hosts' dicom_* variables.

    ``nodes``: one entry per host, in order, with a ``problem`` when its variables are
    unusable (such a node fails alone and is not sent); ``batches``: for each probe host
    in ``probes``, the dicom.network.echo targets it checks.
    """
    nodes: list[dict[str, t.Any]] = []
    probes: list[str] = []
    batches: dict[str, list[dict[str, t.Any]]] = {}
    secret_nodes: list[str] = []
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
        required, problem = _required(hv)
        problem = node_problem(port, called, calling, host, options) or problem
        tls_options, tls_problem = secured_options(hv, secured or {}, host, port)
        problem = problem or tls_problem
        # Secrets stay out of this result (a fact Ansible may print): with_secrets() puts
        # them back in the module's arguments.
        for option in _SECRET_NEEDS:
            tls_options.pop(option, None)
            if problem is None and SECURED_OPTIONS[option][0] in hv and name not in secret_nodes:
                secret_nodes.append(name)
        probe = str(_var(hv, "dicom_probe_host") or probe_host)
        if problem is None:
            target = {"name": name, "host": host, "port": port, "called_aet": called, "calling_aet": calling,
                      "required": required, **tls_options}
            if probe not in batches:
                probes.append(probe)
                batches[probe] = []
            # The node's own settings win over dicom_echo_options.
            batches[probe].append({**options, **target} if options else target)
        nodes.append({
            "name": name, "host": host, "port": port, "called_aet": called, "calling_aet": calling,
            "required": required, "probe": probe,
            "expect_implementation_version_name": _var(hv, "dicom_expect_implementation_version_name"),
            "expect_implementation_class_uid": _var(hv, "dicom_expect_implementation_class_uid"),
            "max_echo_ms": _var(hv, "dicom_max_echo_ms", max_echo_ms),
            "tls": bool(tls_options.get("tls")),
            "cert_min_days": _var(hv, "dicom_cert_min_days", cert_min_days),
            "problem": problem,
        })
    return {"nodes": nodes, "probes": probes, "batches": batches, "secret_nodes": secret_nodes}


# -- the module runs, one per probe host ----------------------------------------------


def _mapping(value: t.Any) -> t.Mapping[str, t.Any]:
    return value if isinstance(value, collections.abc.Mapping) else {}


def _job_id(item: t.Any) -> t.Any:
    return _mapping(item).get("ansible_job_id")


def probe_results(
    collected: t.Mapping[str, t.Any], echo: t.Any, polled: t.Any
) -> tuple[dict[str, t.Mapping[str, t.Any]], dict[str, str], list[dict[str, t.Any]]]:
    """Each probe host's run: ``(result by node name, error by probe, probes)``.

    ``echo`` is the registered dicom.network.echo loop (one item per probe host),
    ``polled`` the registered async_status loop when the runs were asynchronous.
    """
    polled_results = _mapping(polled).get("results", [])
    by_name: dict[str, t.Mapping[str, t.Any]] = {}
    probe_error: dict[str, str] = {}
    probes: list[dict[str, t.Any]] = []
    for run in _mapping(echo).get("results", []):
        probe = run["item"]
        if "ansible_job_id" in run:
            job = run["ansible_job_id"]
            run = next((p for p in polled_results if _job_id(p.get("item")) == job), {})
        results = run.get("results")
        if results is not None and len(results) == len(collected["batches"].get(probe, ())):
            by_name.update((r["name"], r) for r in results)
            summary = run.get("summary")
            probes.append({"probe": probe, "nodes": len(results), "msg": run.get("msg"),
                           "elapsed_ms": summary.get("elapsed_ms") if summary is not None else None})
        else:
            probe_error[probe] = ("unreachable: " if run.get("unreachable", False) else "") + str(
                run.get("msg", "no result from dicom.network.echo"))
            probes.append({"probe": probe, "nodes": 0, "msg": probe_error[probe], "elapsed_ms": None})
    return by_name, probe_error, probes


# -- one node's verdict ---------------------------------------------------------------


def _as_float(value: t.Any) -> float:
    """As Jinja's ``float`` filter: 0.0 when the value is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _shown(value: t.Any) -> str:
    """A value inside a check's message, as JSON (strings quoted, None as null)."""
    return json.dumps(value)


def _cert_check(node: t.Mapping[str, t.Any], echo_ok: bool, tls: t.Mapping[str, t.Any] | None
                ) -> dict[str, t.Any] | None:
    """``dicom_cert_min_days``: the peer certificate must have at least that many days left."""
    minimum = _as_float(node.get("cert_min_days"))
    if minimum <= 0 or not node.get("tls"):
        return None
    cert = (tls or {}).get("peer_certificate") or {}
    days, until = cert.get("days_left"), cert.get("not_after")
    if days is None:
        # No certificate was seen (the run failed before the handshake ended): nothing measured.
        return {"check": "cert_min_days", "expected": minimum, "actual": None, "ok": None,
                "msg": "no peer certificate was seen"}
    good = days >= minimum
    msg = (f"peer certificate expires on {until} ({days} days left), "
           + (f"at least the {minimum:g} required" if good else f"fewer than the {minimum:g} required"))
    # The certificate speaks for itself, even when the C-ECHO failed (an expired one, say).
    return {"check": "cert_min_days", "expected": minimum, "actual": days, "ok": good, "msg": msg}


def expectation_checks(
    node: t.Mapping[str, t.Any], echo_ok: bool, peer: t.Mapping[str, t.Any], echo_max: t.Any,
    tls: t.Mapping[str, t.Any] | None = None,
) -> tuple[list[dict[str, t.Any]], list[str]]:
    """The node's expectations: ``(checks, messages of the unmet ones)``.

    A check whose C-ECHO failed has ``ok: None``: nothing was measured.
    """
    checks: list[dict[str, t.Any]] = []
    unmet: list[str] = []
    for key, label in _CHECK_LABELS.items():
        expected = node["expect_" + key]
        if expected is not None:
            actual = peer.get(key)
            good = (actual == expected) if echo_ok else None
            msg = f"{label} is {_shown(actual)}" + (", as expected" if good else f", expected {_shown(expected)}")
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
    cert = _cert_check(node, echo_ok, tls)
    if cert is not None:
        checks.append(cert)
        if cert["ok"] is False:
            unmet.append(cert["msg"])
    return checks, unmet


def tls_summary(tls: t.Any) -> dict[str, t.Any] | None:
    """What the report shows of a node's TLS: version, verified, certificate expiry (never a secret)."""
    if not isinstance(tls, collections.abc.Mapping):
        return None
    cert = tls.get("peer_certificate") or {}
    return {"version": tls.get("version"), "verified": tls.get("verified"), "error": tls.get("error"),
            "not_after": cert.get("not_after"), "days_left": cert.get("days_left"), "subject": cert.get("subject")}


def _outcome(
    node: t.Mapping[str, t.Any], result: t.Mapping[str, t.Any] | None, probe_error: t.Mapping[str, str]
) -> tuple[bool, t.Any, t.Any]:
    """What the check itself said: ``(echo ok, failure class, reason)``."""
    if node["problem"]:
        return False, "usage", node["problem"]
    if result is None:
        reason = f"probe {node['probe']} could not check the node: {probe_error.get(node['probe'], 'no result')}"
        return False, "probe", reason
    return result.get("ok"), result.get("failure"), result.get("msg")


def verdict_of(ok: bool, required: bool) -> str:
    return "passed" if ok else ("failed" if required else "failed-optional")


def node_entry(
    node: t.Mapping[str, t.Any], result: t.Mapping[str, t.Any] | None, probe_error: t.Mapping[str, str]
) -> dict[str, t.Any]:
    """The node's entry of dicom-verify.json: the check's outcome, then the expectations."""
    echo_ok, failure, reason = _outcome(node, result, probe_error)
    has_result = result is not None
    found = result if result is not None else {}
    peer = found.get("peer", {}) if has_result else {}
    timing = found.get("timing", {}) if has_result else {}
    echo_max = (timing.get("echo_ms") or {}).get("max") if has_result else None
    tls = found.get("tls") if has_result else None
    checks, unmet = expectation_checks(node, echo_ok, peer, echo_max, tls)
    ok = bool(echo_ok) and not unmet
    if echo_ok and unmet:
        failure, reason = "expectation", "; ".join(unmet)
    hint = None
    if ok:
        pass
    elif node["problem"]:
        hint = _HINT_NODE_PROBLEM
    elif result is None:
        hint = _HINT_PROBE.format(probe=node["probe"])
    elif not echo_ok:
        hint = found.get("hint") or hint_for(found, calling_aet=node["calling_aet"], called_aet=node["called_aet"])
    else:
        hint = _HINT_EXPECTATION
    return {
        "name": node["name"], "host": node["host"], "port": node["port"],
        # As the engine labels a target without a name: host:port, [v6]:port.
        "address": address_label(node["host"], node["port"]),
        "called_aet": node["called_aet"], "calling_aet": node["calling_aet"],
        "probe": node["probe"], "required": node["required"],
        "ok": ok, "verdict": verdict_of(ok, node["required"]), "msg": reason, "failure": None if ok else failure,
        "hint": hint,
        "status": found.get("status") if has_result else None,
        "association": found.get("association") if has_result else {"result": None},
        "timing": timing, "echo_ms": echo_max,
        "attempts": found.get("attempts") if has_result else 0,
        "peer": peer, "checks": checks, "tls": tls_summary(tls),
    }


def fail_line(entry: t.Mapping[str, t.Any]) -> str:
    """One failed node in one line: ``name (address, called AE title): reason``."""
    return f"{entry['name']} ({entry['address']}, {entry['called_aet']}): {entry['msg']}"


# -- JUnit ----------------------------------------------------------------------------


def _xml(value: t.Any) -> str:
    """``value`` as text XML 1.0 can carry (ElementTree escapes, but writes any character)."""
    return _NOT_XML_RE.sub("?", str(value))


def metric_run(
    node: t.Mapping[str, t.Any], result: t.Mapping[str, t.Any] | None, probe_error: t.Mapping[str, str],
    entry: t.Mapping[str, t.Any],
) -> tuple[dict[str, t.Any], dict[str, str]]:
    """A node's run for dicom-verify.prom, and its labels: ``dicom_echo_up`` is the C-ECHO's own
    verdict (the expectations are the report's business), ``node`` the inventory host."""
    echo_ok, _failure, _reason = _outcome(node, result, probe_error)
    run = {
        "ok": bool(echo_ok), "host": node["host"], "port": node["port"], "status": entry["status"],
        "timing": entry["timing"], "tls": (result or {}).get("tls"),
    }
    return run, prometheus_labels(run, node["called_aet"], {"node": node["name"]})


def junit_state(entry: t.Mapping[str, t.Any], junit_optional_failures: str) -> str:
    """``passed``, ``failure`` or ``skipped``.

    A failed required node is a failure; a failed optional one is skipped (or a failure
    with ``junit_optional_failures: failure``), so that by default the JUnit verdict is
    the play's verdict.
    """
    if entry["ok"]:
        return "passed"
    return "failure" if entry["required"] or junit_optional_failures == "failure" else "skipped"


def junit_case(entry: t.Mapping[str, t.Any], state: str) -> ET.Element:
    """One ``<testcase>``: the node, its address and AE titles as properties, and why it failed."""
    name, address, called, probe = (_xml(entry[key]) for key in ("name", "address", "called_aet", "probe"))
    reason = _xml(entry["msg"])
    seconds = (entry["timing"].get("total_ms") or 0) / 1000.0
    case = ET.Element("testcase", {"classname": f"dicom.network.verify.{probe}", "name": name,
                                   "time": f"{seconds:.3f}"})
    properties = ET.SubElement(case, "properties")
    for key, value in (
        ("address", address),
        ("called_aet", called),
        ("calling_aet", _xml(entry["calling_aet"])),
        ("required", "true" if entry["required"] else "false"),
        ("association", _xml(entry["association"].get("result") or "")),
        ("echo_ms", "" if entry["echo_ms"] is None else _xml(entry["echo_ms"])),
        *_tls_properties(entry.get("tls")),
    ):
        ET.SubElement(properties, "property", {"name": key, "value": value})
    if state == "failure":
        optional = "" if entry["required"] else " [optional node]"
        failure = ET.SubElement(case, "failure", {"type": _xml(entry["failure"]), "message": reason})
        failure.text = f"{name} at {address} (called AE title {called}, from {probe}): {reason}{optional}"
    elif state == "skipped":
        ET.SubElement(case, "skipped", {"message": f"optional node failed: {reason}"})
    ET.SubElement(case, "system-out").text = reason
    return case


def _tls_properties(tls: t.Mapping[str, t.Any] | None) -> list[tuple[str, str]]:
    if not tls:
        return []
    return [(key, "" if tls.get(field) is None else _xml(tls[field]))
            for key, field in (("tls_version", "version"), ("tls_verified", "verified"),
                               ("cert_not_after", "not_after"), ("cert_days_left", "days_left"))]


def junit_document(probes: t.Sequence[str], cases: t.Sequence[tuple[str, str, ET.Element]], stamp: str) -> str:
    """The JUnit XML text: one test suite per probe host, in ``probes`` order, then any other probe."""
    order = list(probes)
    order += [probe for probe in dict.fromkeys(case[0] for case in cases) if probe not in order]
    root = ET.Element("testsuites", {"name": "dicom.network.verify"})
    total = {"tests": 0, "failure": 0, "skipped": 0}
    for probe in order:
        mine = [(state, case) for case_probe, state, case in cases if case_probe == probe]
        count = {"tests": len(mine), "failure": 0, "skipped": 0}
        for state, _case in mine:
            if state in count:
                count[state] += 1
        for key, value in count.items():
            total[key] += value
        xprobe = _xml(probe)
        suite = ET.SubElement(root, "testsuite", {
            "name": f"dicom.network.verify.{xprobe}", "hostname": xprobe, "tests": str(count["tests"]),
            "failures": str(count["failure"]), "errors": "0", "skipped": str(count["skipped"]), "timestamp": stamp})
        suite.extend(case for _state, case in mine)
    root.attrib.update({"tests": str(total["tests"]), "failures": str(total["failure"]), "errors": "0",
                        "skipped": str(total["skipped"])})
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- the table and the whole report ---------------------------------------------------


def table_lines(rows: t.Sequence[t.Sequence[str]]) -> list[str]:
    """The rows (header first) as aligned lines; none when there is no node row.

    Every column but the last (the reason) is padded; ECHO MS is right-aligned.
    """
    if len(rows) < 2:
        return []
    count = len(rows[0])
    widths = [min(max(len(row[col]) for row in rows), TABLE_MAX_WIDTH) for col in range(count - 1)]
    right = rows[0].index("ECHO MS")
    return ["  ".join([*(f"{row[col]:>{w}}" if col == right else f"{row[col]:<{w}}" for col, w in enumerate(widths)),
                       row[-1]]) for row in rows]


def _tls_cell(tls: t.Mapping[str, t.Any] | None) -> str:
    """The TLS column: version and certificate expiry (``TLSv1.3 2027-01-01 (31 d)``), or ``-``."""
    if not tls or not (tls.get("version") or tls.get("not_after")):
        return "-"
    expiry = f"{str(tls['not_after'])[:10]} ({tls['days_left']} d)" if tls.get("not_after") else ""
    return " ".join(filter(None, [tls.get("version") or "", expiry]))


def table_row(entry: t.Mapping[str, t.Any], with_tls: bool = False) -> list[str]:
    echo_ms = entry["echo_ms"]
    row = [entry["name"], entry["address"], entry["called_aet"], entry["verdict"],
           f"{echo_ms:.1f}" if echo_ms is not None else "-", "" if entry["ok"] else entry["msg"]]
    if with_tls:
        row.insert(5, _tls_cell(entry.get("tls")))
    return row


def summary_line(entries: t.Sequence[t.Mapping[str, t.Any]], probes: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    verdicts = collections.Counter(entry["verdict"] for entry in entries)
    runs = [f"{p['probe']} ({p['nodes']}) in {p['elapsed_ms'] / 1000.0:.2f} s"
            for p in probes if p["elapsed_ms"] is not None]
    return (f"DICOM verify: {len(entries)} node(s), {verdicts['passed']} passed, {verdicts['failed']} failed,"
            f" {verdicts['failed-optional']} optional failed" + ("; checked from " + ", ".join(runs) if runs else ""))


def report_json(entries: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """dicom-verify.json: as Ansible's ``to_nice_json(indent=2)`` writes it (sorted keys, ASCII)."""
    return json.dumps(entries, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


def judge(
    collected: t.Mapping[str, t.Any],
    echo: t.Any = None,
    polled: t.Any = None,
    show: str = "all",
    junit_optional_failures: str = "skipped",
    report_dir: str = "",
    check_mode: bool = False,
    now: datetime.datetime | None = None,
) -> dict[str, t.Any]:
    """The role's ``verify_report`` from :func:`collect_nodes` and the registered module results.

    ``now`` (a UTC datetime) stamps the JUnit suites.
    """
    by_name, probe_error, probes = probe_results(collected, echo, polled)
    entries: list[dict[str, t.Any]] = []
    cases: list[tuple[str, str, ET.Element]] = []
    metrics: list[tuple[dict[str, t.Any], dict[str, str]]] = []
    # A TLS column (version, certificate expiry) only when some node is checked over TLS.
    with_tls = any(node.get("tls") for node in collected["nodes"])
    rows = [TABLE_HEADER[:5] + ["TLS"] + TABLE_HEADER[5:] if with_tls else TABLE_HEADER]
    for node in collected["nodes"]:
        result = None if node["problem"] else by_name.get(node["name"])
        entry = node_entry(node, result, probe_error)
        entries.append(entry)
        if show == "all" or (show == "problems" and not entry["ok"]):
            rows.append(table_row(entry, with_tls))
        state = junit_state(entry, junit_optional_failures)
        cases.append((entry["probe"], state, junit_case(entry, state)))
        metrics.append(metric_run(node, result, probe_error, entry))

    failed = [entry for entry in entries if entry["verdict"] == "failed"]
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    files = [report_dir + "/" + name for name in REPORT_FILES] if report_dir else []
    summary = summary_line(entries, probes)
    report_line = []
    if files:
        report_line.append("report: " + ", ".join(files) + (" (not written in check mode)" if check_mode else ""))
    return {
        "nodes": entries,
        "probes": probes,
        "passed": sum(1 for entry in entries if entry["ok"]),
        "failed": [entry["name"] for entry in failed],
        "failed_optional": [entry["name"] for entry in entries if entry["verdict"] == "failed-optional"],
        # Every failed node's line, by name: what its own inventory host fails with.
        "reasons": {entry["name"]: fail_line(entry) for entry in entries if not entry["ok"]},
        "summary": summary,
        "files": files,
        "table": [summary] + table_lines(rows) + report_line,
        "fail_msg": f"DICOM verification failed for {len(failed)} required node(s): "
                    + "; ".join(fail_line(entry) for entry in failed),
        "json": report_json(entries),
        "junit": junit_document(collected["probes"], cases, stamp),
        "prometheus": prometheus_text(metrics),
    }
