# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bin/echoscu as Nagios, Icinga, Naemon, Checkmk and node_exporter's textfile collector run it.

A monitoring core starts a plugin without a terminal, with stdin on /dev/null,
a small environment (Icinga sets LC_NUMERIC=C), and a timeout; it reads one
line of stdout and the exit status. These tests do exactly that against real
peers on loopback and check the state, the status line and the perfdata with
a strict parser of the Monitoring Plugins guidelines' syntax.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import typing as t

import pytest
from conftest import ECHOSCU

HOST = "127.0.0.1"
# The whole status line: "DICOM <STATE> - <text> | <perfdata>", one line, nothing else.
LINE = re.compile(r"DICOM (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|\n]+?)(?: \| (?P<perf>[^|\n]+))?\n")
# label=value[UOM];[warn];[crit];[min];[max], with the ranges this plugin writes (N, N:).
PERF = re.compile(
    r"(?P<label>[a-z_]+)=(?P<value>-?[0-9]+(?:\.[0-9]+)?)(?P<uom>ms|)"
    r";(?P<warn>(?:[0-9.]+:?)?);(?P<crit>(?:[0-9.]+:?)?);(?P<min>(?:-?[0-9.]+)?);(?P<max>(?:-?[0-9.]+)?)"
)
STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
# What a monitoring core gives a plugin: a PATH (here one where the shebang finds a Python
# with pynetdicom), C numbers, nothing of this test's environment.
PLUGIN_ENV = {
    "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
    "LC_NUMERIC": "C",
    "LANG": "C",
}
CHECK_TIMEOUT = 30  # Icinga's check_timeout is 60 s, Nagios's service_check_timeout 60 s


def check(*args: object, timeout: float = CHECK_TIMEOUT) -> tuple[int, str, dict[str, dict[str, str]], str]:
    """Run the plugin as a monitoring core does; return exit status, state, perfdata, text."""
    proc = subprocess.run(
        [str(ECHOSCU), *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=PLUGIN_ENV,
        timeout=timeout,
        text=True,
        check=False,
        start_new_session=True,  # no controlling terminal, as under a daemon
    )
    # Icinga 2 shows stderr along with stdout: a plugin must keep it clean.
    assert proc.stderr == "", proc.stderr
    m = LINE.fullmatch(proc.stdout)
    assert m, proc.stdout
    assert STATES[m["state"]] == proc.returncode, proc.stdout
    perf = {}
    for item in (m["perf"] or "").split(" "):
        if item:
            p = PERF.fullmatch(item)
            assert p, f"bad perfdata item {item!r} in {proc.stdout!r}"
            perf[p["label"]] = p.groupdict()
    return proc.returncode, m["state"], perf, m["text"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def slow_scp() -> t.Iterator[t.Callable[[float], int]]:
    """Factory: a pynetdicom Verification SCP whose C-ECHO handler sleeps ``delay`` seconds."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    servers = []

    def start(delay: float) -> int:
        def on_echo(_event: t.Any) -> int:
            time.sleep(delay)
            return 0x0000

        ae = AE(ae_title="SLOWSCP")
        ae.add_supported_context(Verification)
        server = ae.start_server((HOST, 0), block=False, evt_handlers=[(evt.EVT_C_ECHO, on_echo)])
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()


def test_ok(start_scp):
    scp = start_scp()
    code, state, perf, text = check("--nagios", "--warning", 5000, "--critical", 10000, "-aec", scp.ae_title,
                                    HOST, scp.port)
    assert (code, state) == (0, "OK")
    assert re.fullmatch(rf"1 C-ECHO to TESTSCP at {HOST}:{scp.port} in [0-9.]+ ms", text), text
    assert list(perf) == ["total", "connect", "associate", "echo", "release"]
    assert all(p["uom"] == "ms" and p["min"] == "0" for p in perf.values())
    assert (perf["total"]["warn"], perf["total"]["crit"]) == ("5000", "10000")
    assert float(perf["total"]["value"]) >= float(perf["echo"]["value"])


def test_slow_peer_warning_then_critical(slow_scp):
    port = slow_scp(0.3)
    code, state, perf, text = check("--nagios", "--warning", 100, "--critical", 5000, HOST, port)
    assert (code, state) == (1, "WARNING")
    assert "warning threshold of 100 ms" in text
    assert float(perf["total"]["value"]) > 300 and float(perf["echo"]["value"]) >= 300
    code, state, perf, text = check("--nagios", "--warning", 50, "--critical", 100, HOST, port)
    assert (code, state) == (2, "CRITICAL")
    assert "critical threshold of 100 ms" in text


def test_rejected_is_critical_with_hint(start_scp):
    scp = start_scp(require_called_aet=True)
    code, state, perf, text = check("--nagios", "-aec", "WRONG", HOST, scp.port)
    assert (code, state) == (2, "CRITICAL")
    assert "rejected" in text and "reason 7" in text
    assert "called AE title 'WRONG'" in text and "may also" in text  # the hint, claiming no more than reason 7
    assert "total" in perf and "connect" in perf and "echo" not in perf


def test_refused_is_critical_not_unknown():
    # Our usual exit status for "cannot connect" is 3, Nagios's UNKNOWN: plugin mode must say CRITICAL.
    code, state, perf, text = check("--nagios", HOST, free_port())
    assert (code, state) == (2, "CRITICAL")
    assert "refused" in text and "listens" in text
    assert list(perf) == ["total"]


def test_no_context_is_critical(start_scp):
    scp = start_scp(supported=False)
    code, state, _perf, text = check("--nagios", HOST, scp.port)
    assert (code, state) == (2, "CRITICAL")
    assert "presentation context" in text and "Verification" in text


def test_bad_status_is_critical(start_scp):
    scp = start_scp(status=0x0122)
    code, state, perf, text = check("--nagios", HOST, scp.port)
    assert (code, state) == (2, "CRITICAL")
    assert "0x0122" in text and "enabled" in text
    assert "echo" in perf


def test_silent_peer_ends_within_the_deadline():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(1)
        began = time.monotonic()
        code, state, _perf, text = check("--nagios", "--deadline", "0.5", HOST, sock.getsockname()[1])
    assert (code, state) == (2, "CRITICAL") and "deadline" in text
    assert time.monotonic() - began < 10


@pytest.mark.parametrize("args", [
    ["--nagios", "--warning", "abc", HOST, 104],
    ["--nagios", "--critical", "-5", HOST, 104],
    ["--nagios", "--cert-warning", "x", HOST, 104],
    ["--nagios", HOST, 70000],
    ["--nagios", "--no-such-option", HOST, 104],
    ["--nagios"],
    ["--nagios", "--json", HOST, 104],
])
def test_usage_errors_are_unknown(args):
    code, state, perf, text = check(*args)
    assert (code, state) == (3, "UNKNOWN") and perf == {}
    assert text


def test_cert_thresholds_without_tls_are_unknown(start_scp):
    scp = start_scp()
    code, state, _perf, text = check("--nagios", "--cert-warning", 30, HOST, scp.port)
    assert (code, state) == (3, "UNKNOWN") and "certificate" in text


def test_many_checks_in_parallel_all_ok(start_scp):
    # A monitoring core starts many checks at once; each one is independent.
    scps = [start_scp() for _index in range(3)]
    results: list[tuple[int, str]] = []

    def run(port: int) -> None:
        code, state, _perf, _text = check("--nagios", HOST, port)
        results.append((code, state))

    threads = [threading.Thread(target=run, args=(scp.port,)) for scp in scps for _twice in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CHECK_TIMEOUT)
    assert results == [(0, "OK")] * 6


# -- Prometheus ----------------------------------------------------------------------------------


def prometheus(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([str(ECHOSCU), *map(str, args)], stdin=subprocess.DEVNULL, capture_output=True,
                          env=PLUGIN_ENV, timeout=CHECK_TIMEOUT, text=True, check=False)


def test_prometheus_output_parses(start_scp):
    parser = pytest.importorskip("prometheus_client.parser")
    scp = start_scp()
    proc = prometheus("--prometheus", "-aec", scp.ae_title, HOST, scp.port)
    assert proc.returncode == 0 and proc.stderr == ""
    fams = {f.name: f for f in parser.text_string_to_metric_families(proc.stdout)}
    [up] = fams["dicom_echo_up"].samples
    assert up.value == 1 and up.labels == {"peer": HOST, "port": str(scp.port), "called_aet": "TESTSCP"}
    phases = {s.labels["phase"] for s in fams["dicom_echo_duration_seconds"].samples}
    assert phases == {"connect", "associate", "echo", "release", "total"}
    assert [s.value for s in fams["dicom_echo_status"].samples] == [0]
    assert fams["dicom_tls_cert_expiry_timestamp_seconds"].samples == []


def test_prometheus_on_failure_and_to_a_file(tmp_path):
    parser = pytest.importorskip("prometheus_client.parser")
    target = tmp_path / "dicom.prom"
    proc = prometheus("--prometheus-file", target, HOST, free_port())
    assert proc.returncode == 3  # the script's own exit status: cannot connect
    fams = {f.name: f for f in parser.text_string_to_metric_families(target.read_text())}
    [up] = fams["dicom_echo_up"].samples
    assert up.value == 0
    assert fams["dicom_echo_status"].samples == []
    assert sorted(os.listdir(tmp_path)) == ["dicom.prom"]


# -- hints and causes in the script's own output -----------------------------------------------


def echoscu(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ECHOSCU), *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=CHECK_TIMEOUT, text=True, check=False)


def test_verbose_prints_the_hint(start_scp):
    scp = start_scp(require_called_aet=True)
    proc = echoscu("-v", "-aec", "WRONG", HOST, scp.port)
    assert proc.returncode == 4
    hints = [line for line in proc.stderr.splitlines() if line.startswith("I: Hint: ")]
    assert len(hints) == 1 and "may also" in hints[0] and "'WRONG'" in hints[0]
    # Without -v: the error line only, as before.
    quiet = echoscu("-aec", "WRONG", HOST, scp.port)
    assert "Hint" not in quiet.stderr and len(quiet.stderr.splitlines()) == 1


def test_no_context_names_the_transfer_syntax_cause(start_scp):
    scp = start_scp(transfer_syntaxes=["1.2.840.10008.1.2.2"])  # Explicit VR Big Endian only
    proc = echoscu(HOST, scp.port)  # proposes Implicit VR Little Endian only
    assert proc.returncode == 5
    assert proc.stderr.splitlines() == [
        "E: No Acceptable Presentation Contexts",
        "E: Transfer syntaxes not supported: the peer accepts none of those we proposed",
    ]


def test_verbose_names_an_ipv6_peer_once(start_scp):
    try:
        scp = start_scp(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    proc = echoscu("-v", "-aec", scp.ae_title, "[::1]", scp.port)
    assert proc.returncode == 0
    first = proc.stderr.splitlines()[0]
    assert first == f"I: Requesting association with TESTSCP at [::1]:{scp.port} as ECHOSCU"


def test_json_result_carries_the_hint(start_scp):
    import json

    proc = echoscu("--json", HOST, free_port())
    result = json.loads(proc.stdout)
    assert result["failure"] == "connect" and "listens" in result["hint"]
    scp = start_scp()
    assert json.loads(echoscu("--json", HOST, scp.port).stdout)["hint"] is None


def test_plugin_mode_has_a_default_deadline():
    # A peer that accepts TCP and never answers: without --deadline, plugin mode still ends (10 s)
    # before a monitoring core's own timeout, as CRITICAL with the cause.
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(1)
        began = time.monotonic()
        code, state, _perf, text = check("--nagios", "-ta", 60, HOST, sock.getsockname()[1])
    assert (code, state) == (2, "CRITICAL") and "deadline of 10 s" in text
    assert 9 < time.monotonic() - began < 20


def test_thresholds_need_plugin_mode():
    proc = echoscu("--warning", 100, HOST, free_port())
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", "E: --warning: only with --nagios\n")


def test_prometheus_file_must_be_writable(tmp_path):
    proc = echoscu("--prometheus-file", tmp_path / "missing" / "x.prom", HOST, free_port())
    assert proc.returncode == 2 and proc.stderr.startswith("E: --prometheus-file: cannot write")


# -- TLS: certificate expiry (needs the script's TLS options, from the TLS work) ----------------


def _has_tls_options() -> bool:
    proc = subprocess.run([sys.executable, str(ECHOSCU), "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    return "--anonymous-tls" in proc.stdout


@pytest.fixture
def tls_scp(tmp_path: t.Any) -> t.Iterator[t.Callable[[int], tuple[int, str]]]:
    """Factory: a pynetdicom Verification SCP behind TLS whose self-signed certificate (for 127.0.0.1)
    expires in ``days`` days; returns its port and the certificate file to trust."""
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    if not _has_tls_options():
        pytest.skip("bin/echoscu has no TLS options yet (+tla/+cf come with the TLS work)")
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    servers = []

    def start(days: int) -> tuple[int, str]:
        key, cert = tmp_path / f"key{days}.pem", tmp_path / f"cert{days}.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
             "-days", str(days), "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        ae = AE(ae_title="TLSSCP")
        ae.add_supported_context(Verification)
        server = ae.start_server((HOST, 0), block=False, ssl_context=context)
        servers.append(server)
        return server.server_address[1], str(cert)

    yield start
    for server in servers:
        server.shutdown()


def test_tls_certificate_expiry_states(tls_scp):
    port, cert = tls_scp(10)
    code, state, perf, text = check("--nagios", "+tla", "+cf", cert, "--cert-warning", 30, "--cert-critical", 5,
                                    HOST, port)
    assert (code, state) == (1, "WARNING"), text
    assert "certificate expires in" in text and "warning threshold of 30 days" in text
    assert 9 <= int(perf["cert_days"]["value"]) <= 10
    assert (perf["cert_days"]["warn"], perf["cert_days"]["crit"]) == ("30:", "5:")
    code, state, _perf, text = check("--nagios", "+tla", "+cf", cert, "--cert-warning", 60, "--cert-critical", 20,
                                     HOST, port)
    assert (code, state) == (2, "CRITICAL") and "critical threshold of 20 days" in text
    code, state, _perf, _text = check("--nagios", "+tla", "+cf", cert, "--cert-warning", 5, HOST, port)
    assert (code, state) == (0, "OK")


def test_tls_certificate_expiry_in_prometheus(tls_scp):
    parser = pytest.importorskip("prometheus_client.parser")
    port, cert = tls_scp(10)
    proc = prometheus("--prometheus", "+tla", "+cf", cert, HOST, port)
    assert proc.returncode == 0, proc.stderr
    fams = {f.name: f for f in parser.text_string_to_metric_families(proc.stdout)}
    [expiry] = fams["dicom_tls_cert_expiry_timestamp_seconds"].samples
    assert abs(expiry.value - (time.time() + 10 * 86400)) < 2 * 86400
