# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring faces (_monitoring): Nagios status line and perfdata, Prometheus text, the atomic writer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _monitoring as mon
from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult, Failure

# One perfdata item as the Monitoring Plugins guidelines define it (label=value[UOM];[warn];[crit];[min];[max]),
# with the ranges this plugin writes (N, N:) and no "U".
PERF_ITEM = re.compile(
    r"(?P<label>[a-z_]+)=(?P<value>-?[0-9]+(\.[0-9]+)?)(?P<uom>ms|)"
    r";(?P<warn>(-?[0-9.]+:?)?);(?P<crit>(-?[0-9.]+:?)?);(?P<min>(-?[0-9.]+)?);(?P<max>(-?[0-9.]+)?)"
)
LINE = re.compile(r"DICOM (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|\n]+?)(?: \| (?P<perf>[^|\n]+))?")


def parse(line: str) -> tuple[str, str, dict[str, dict[str, str]]]:
    """State, text and perfdata of a status line; fails on anything the guidelines do not allow."""
    m = LINE.fullmatch(line)
    assert m, line
    perf = {}
    for item in (m["perf"] or "").split():
        p = PERF_ITEM.fullmatch(item)
        assert p, item
        perf[p["label"]] = p.groupdict()
    return m["state"], m["text"], perf


def ok_result(total: float = 3.2, days: int | None = None, not_after: str | None = None) -> dict[str, t.Any]:
    r = EchoResult(name="pacs:11112", host="pacs", port=11112)
    r.ok = True
    r.msg = "1 C-ECHO to PACS at pacs:11112 returned Success"
    r.status = 0
    r.echoes = [{"message_id": 1, "status": 0, "rtt_ms": 0.9}]
    r.association.update(result="accepted", phase="release", released=True)
    r.timing.update(connect_ms=0.3, associate_ms=1.1, echo_ms={"min": 0.9, "mean": 0.9, "max": 0.9},
                    release_ms=0.5, total_ms=total)
    r.peer["ae_title"] = "PACS"
    d = r.as_dict()
    if days is not None:
        d["tls"] = {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "verified": True,
                    "peer_certificate": {"days_left": days, "not_after": not_after or "2027-01-31T12:00:00+00:00"}}
    return d


def failed_result(failure: Failure, msg: str, **assoc: t.Any) -> dict[str, t.Any]:
    r = EchoResult(name="pacs:11112", host="pacs", port=11112)
    r.fail(failure, msg, assoc.get("result"))
    r.association.update(assoc)
    r.timing["total_ms"] = 0.4
    if failure != Failure.CONNECT:
        r.timing["connect_ms"] = 0.2
    return r.as_dict()


def test_ok_line_matches_the_issue():
    state, line = mon.nagios(ok_result(), mon.Thresholds(100, 500), called_aet="PACS")
    assert state == mon.OK
    assert line == ("DICOM OK - 1 C-ECHO to PACS at pacs:11112 in 3.2 ms | total=3.2ms;100;500;0;"
                    " connect=0.3ms;;;0; associate=1.1ms;;;0; echo=0.9ms;;;0; release=0.5ms;;;0;")
    state_name, _text, perf = parse(line)
    assert state_name == "OK" and set(perf) == {"total", "connect", "associate", "echo", "release"}


@pytest.mark.parametrize(("total", "warn", "crit", "state"), [
    (3.2, None, None, mon.OK),
    (3.2, 100, 500, mon.OK),
    (100.0, 100, 500, mon.OK),  # the guidelines' range N includes N
    (100.5, 100, 500, mon.WARNING),
    (500.5, 100, 500, mon.CRITICAL),
    (500.5, None, 500, mon.CRITICAL),
    (500.5, 1000, 500, mon.CRITICAL),
    (0.2, 0.1, None, mon.WARNING),
])
def test_time_thresholds(total, warn, crit, state):
    got, line = mon.nagios(ok_result(total), mon.Thresholds(warn, crit))
    assert got == state
    name, text, perf = parse(line)
    assert name == mon.STATE_NAMES[state]
    assert perf["total"]["warn"] == ("" if warn is None else mon._plain(warn))
    assert perf["total"]["crit"] == ("" if crit is None else mon._plain(crit))
    if state != mon.OK:
        assert "threshold" in text


@pytest.mark.parametrize(("days", "warn", "crit", "state"), [
    (45, 30, 14, mon.OK),
    (30, 30, 14, mon.OK),
    (29, 30, 14, mon.WARNING),
    (13, 30, 14, mon.CRITICAL),
    (-2, 30, 14, mon.CRITICAL),
    (5, None, None, mon.OK),
])
def test_cert_thresholds(days, warn, crit, state):
    got, line = mon.nagios(ok_result(days=days), mon.Thresholds(cert_warning_days=warn, cert_critical_days=crit))
    assert got == state
    _name, text, perf = parse(line)
    assert perf["cert_days"]["value"] == str(days)
    assert perf["cert_days"]["warn"] == ("" if warn is None else f"{warn}:")
    assert perf["cert_days"]["crit"] == ("" if crit is None else f"{crit}:")
    assert "2027-01-31" in text
    assert ("expired" in text) == (days < 0)


def test_cert_thresholds_without_tls_are_unknown():
    state, line = mon.nagios(ok_result(), mon.Thresholds(cert_warning_days=30))
    assert state == mon.UNKNOWN
    assert "no peer certificate" in line
    assert "cert_days" not in line


def test_tls_null_safe():
    d = ok_result()
    for tls in (None, {}, {"peer_certificate": None}, {"peer_certificate": {"days_left": None}},
                {"peer_certificate": {"days_left": "soon"}}):
        d["tls"] = tls
        assert mon.cert_days_left(d) is None
        assert mon.nagios(d)[0] == mon.OK
        assert "cert_days" not in mon.perfdata(d)


def test_worst_state_wins():
    state, _line = mon.nagios(ok_result(total=600, days=20), mon.Thresholds(100, 500, 30, 14))
    assert state == mon.CRITICAL
    state, _line = mon.nagios(ok_result(total=200, days=10), mon.Thresholds(100, 500, 30, 14))
    assert state == mon.CRITICAL
    state, _line = mon.nagios(ok_result(total=600), mon.Thresholds(100, 500, 30, 14))
    assert state == mon.CRITICAL  # CRITICAL beats the UNKNOWN of a missing certificate


@pytest.mark.parametrize(("failure", "msg", "assoc", "words"), [
    (Failure.CONNECT, "cannot connect: connection refused by ::1 port 11112 (nothing listens there)",
     {"result": "refused", "phase": "connect"}, "Nothing accepts connections"),
    (Failure.REJECTED, "association rejected permanently by the DICOM UL service-user: called AE title not"
     " recognised [result 1, source 1, reason 7]", {"result": "rejected", "reject_result": 1, "reject_source": 1,
                                                    "reject_reason": 7}, "may also answer"),
    (Failure.NO_CONTEXT, "no acceptable presentation context", {"result": "accepted"}, "Verification"),
    (Failure.ECHO, "C-ECHO 1 failed with status 0x0122 | pipe", {"result": "accepted"}, "check the peer's log"),
])
def test_failures_are_critical_with_cause_and_hint(failure, msg, assoc, words):
    d = failed_result(failure, msg, **assoc)
    state, line = mon.nagios(d, mon.Thresholds(100, 500, 30, 14))
    assert state == mon.CRITICAL
    name, text, perf = parse(line)
    assert name == "CRITICAL"
    assert text.startswith(mon.one_line(msg).rstrip("."))
    assert words in text
    assert "total" in perf and ("connect" in perf) == (failure != Failure.CONNECT)
    assert "associate" not in perf  # not reached: no perfdata rather than "U"


def test_hint_from_the_result_is_used():
    d = failed_result(Failure.ECHO, "boom", result="accepted")
    d["hint"] = "Engine hint."
    assert mon.nagios(d)[1].startswith("DICOM CRITICAL - boom. Engine hint.")


def test_usage_is_unknown():
    d = failed_result(Failure.USAGE, "port: must be between 1 and 65535 (got 70000)")
    state, line = mon.nagios(d)
    assert state == mon.UNKNOWN and line.startswith("DICOM UNKNOWN - port: must be")
    assert mon.nagios_unknown("--warning: must be a number\nof ms | x") == (
        mon.UNKNOWN, "DICOM UNKNOWN - --warning: must be a number of ms / x")


def test_ipv6_peer_bracketed_once():
    d = ok_result()
    for host in ("::1", "[::1]"):
        d["peer"]["host"] = host
        assert " at [::1]:11112 " in mon.nagios(d)[1]


def test_repeat_and_no_called_aet():
    d = ok_result()
    d["echoes"] = d["echoes"] * 3
    d["peer"]["ae_title"] = None
    assert mon.nagios(d)[1].startswith("DICOM OK - 3 C-ECHOs at pacs:11112 in 3.2 ms |")


# -- Prometheus ------------------------------------------------------------------------------------

def families(text: str) -> dict[str, t.Any]:
    parser = pytest.importorskip("prometheus_client.parser")
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def test_prometheus_parses_with_prometheus_client():
    ok = ok_result(days=40, not_after="2027-01-31T12:00:00Z")
    bad = failed_result(Failure.CONNECT, "refused", result="refused")
    text = mon.prometheus_text([
        (ok, mon.prometheus_labels(ok, "PACS", {"node": "pacs-a"})),
        (bad, mon.prometheus_labels(bad, 'we"ird\\AE\nx', {"node": "pacs-b"})),
    ])
    fams = families(text)
    assert set(fams) == {"dicom_echo_up", "dicom_echo_duration_seconds", "dicom_echo_status",
                         "dicom_tls_cert_expiry_timestamp_seconds"}
    up = {s.labels["node"]: s for s in fams["dicom_echo_up"].samples}
    assert up["pacs-a"].value == 1 and up["pacs-b"].value == 0
    assert up["pacs-a"].labels == {"peer": "pacs", "port": "11112", "called_aet": "PACS", "node": "pacs-a"}
    assert up["pacs-b"].labels["called_aet"] == 'we"ird\\AE\nx'  # escaped in the text, intact once parsed
    phases = {(s.labels["node"], s.labels["phase"]): s.value for s in fams["dicom_echo_duration_seconds"].samples}
    assert phases[("pacs-a", "total")] == pytest.approx(0.0032)
    assert phases[("pacs-a", "echo")] == pytest.approx(0.0009)
    assert ("pacs-b", "associate") not in phases and phases[("pacs-b", "total")] == pytest.approx(0.0004)
    assert [(s.labels["node"], s.value) for s in fams["dicom_echo_status"].samples] == [("pacs-a", 0)]
    (expiry,) = fams["dicom_tls_cert_expiry_timestamp_seconds"].samples
    assert expiry.value == 1801396800.0  # 2027-01-31T12:00:00Z
    for fam in fams.values():
        assert fam.type == "gauge" and fam.documentation


def test_prometheus_text_shape():
    text = mon.prometheus_text([(ok_result(), mon.prometheus_labels(ok_result(), "PACS"))])
    assert text.endswith("\n") and "\n\n" not in text
    # One HELP and one TYPE per family, every sample after them, no timestamps (textfile collector).
    for name, _help in mon.METRICS:
        assert text.count(f"# HELP {name} ") == 1 and text.count(f"# TYPE {name} gauge") == 1
    for line in text.splitlines():
        if not line.startswith("#"):
            assert len(line.rsplit(" ", 1)) == 2 and "}" in line
    assert 'dicom_echo_up{peer="pacs",port="11112",called_aet="PACS"} 1\n' in text


def test_prometheus_rejects_bad_label_names():
    with pytest.raises(ValueError):
        mon.prometheus_text([(ok_result(), mon.prometheus_labels(ok_result(), "PACS", {"bad-name": "x"}))])


@pytest.mark.parametrize(("text", "expected"), [
    ("2027-01-31T12:00:00+00:00", 1801396800.0),
    ("2027-01-31T12:00:00Z", 1801396800.0),
    ("2027-01-31T12:00:00", 1801396800.0),
    ("not a date", None),
    (None, None),
])
def test_cert_expiry_timestamp(text, expected):
    assert mon.cert_expiry_timestamp({"tls": {"peer_certificate": {"not_after": text}}}) == expected


def test_write_textfile_atomic(tmp_path):
    target = tmp_path / "dicom.prom"
    old_umask = os.umask(0o077)
    try:
        mon.write_textfile(str(target), "a 1\n")
        mon.write_textfile(str(target), "a 2\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "a 2\n"
    assert target.stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["dicom.prom"]  # no temporary file left behind
    # A temporary file left by a dead run with our pid does not block the next write.
    (tmp_path / f".dicom.prom.{os.getpid()}.tmp").write_text("stale")
    mon.write_textfile(str(target), "a 3\n")
    assert target.read_text() == "a 3\n" and os.listdir(tmp_path) == ["dicom.prom"]


def test_write_textfile_error_leaves_nothing(tmp_path):
    (tmp_path / "dir.prom").mkdir()
    with pytest.raises(OSError):
        mon.write_textfile(str(tmp_path / "dir.prom"), "a 1\n")
    assert os.listdir(tmp_path) == ["dir.prom"]


def test_import_is_cheap():
    # A monitoring host runs the check every minute: the module must not pull in heavy modules.
    code = ("import sys; import ansible_collections.dicom.network.plugins.module_utils._monitoring;"
            " print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.split()
    for heavy in ("pynetdicom", "pydicom", "typing", "datetime", "json", "logging", "argparse", "dataclasses", "re"):
        assert heavy not in out, heavy
