"""bin/echoscu as users run it: a subprocess against real peers on loopback.

Each test asserts on what the user sees (stdout, stderr, exit status) and on
what the peer saw, so a face that prints the right thing but sends the wrong
thing fails too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata

import pytest
from conftest import ALL_TS, ECHOSCU, ROOT, wait_for

HOST = "127.0.0.1"
REFUSED_LINES = [
    "E: Association Request Failed: Failed to establish association",
    "E: Peer aborted Association (or never connected)",
]


def echoscu(*args: object, script: object = ECHOSCU, direct: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the script (through this Python, or by its shebang when ``direct``)."""
    command = [str(script)] if direct else [sys.executable, str(script)]
    kw.setdefault("timeout", 60)
    if direct:
        # The shebang's `env python3` must find an interpreter that has pynetdicom.
        env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        kw.setdefault("env", env)
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, check=False, **kw)


def stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return proc.stderr.splitlines()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def listener():
    """A plain TCP socket that listens but never accepts: a connection would wait in its backlog."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _addr = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


# -- success and what reaches the peer ---------------------------------------------


def test_success_is_silent(start_scp):
    scp = start_scp()
    proc = echoscu(HOST, scp.port)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert wait_for(lambda: scp.seen.released == 1)
    assert scp.seen.echo_message_ids == [1]
    # The specification's defaults.
    assert scp.seen.last["calling_aet"] == "ECHOSCU"
    assert scp.seen.last["called_aet"] == "ANY-SCP"
    assert scp.seen.last["max_pdu"] == 16384
    assert scp.seen.last["transfer_syntaxes"] == [ALL_TS[:1]]


def test_ae_titles_reach_the_peer(start_scp):
    scp = start_scp()
    proc = echoscu("-aet", "MY-SCU", "--called-aet", "TESTSCP", HOST, scp.port)
    assert proc.returncode == 0, proc.stderr
    assert (scp.seen.last["calling_aet"], scp.seen.last["called_aet"]) == ("MY-SCU", "TESTSCP")
    proc = echoscu("--calling-aet", "LONG-CALLING-AET", "-aec", "SIXTEEN-CHARS-AE", HOST, scp.port)
    assert proc.returncode == 0, proc.stderr
    assert (scp.seen.last["calling_aet"], scp.seen.last["called_aet"]) == ("LONG-CALLING-AET", "SIXTEEN-CHARS-AE")


@pytest.mark.parametrize("count", [1, 2, 3])
def test_propose_ts_proposes_syntaxes_in_order(start_scp, count):
    scp = start_scp()
    proc = echoscu("-pts", count, HOST, scp.port)
    assert proc.returncode == 0, proc.stderr
    assert scp.seen.last["transfer_syntaxes"] == [ALL_TS[:count]]


def test_repeat_increments_message_ids(start_scp):
    scp = start_scp()
    proc = echoscu("--repeat", 3, HOST, scp.port)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert scp.seen.echo_message_ids == [1, 2, 3]
    assert wait_for(lambda: scp.seen.released == 1)


def test_abort_instead_of_release(start_scp):
    scp = start_scp()
    proc = echoscu("--abort", HOST, scp.port)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert wait_for(lambda: scp.seen.aborted == 1)
    assert scp.seen.released == 0


@pytest.mark.parametrize("value", [0, 4096, 32768])
def test_max_pdu_reaches_the_peer(start_scp, value):
    scp = start_scp()
    proc = echoscu("-pdu", value, HOST, scp.port)
    assert proc.returncode == 0, proc.stderr
    assert scp.seen.last["max_pdu"] == value


def test_fractional_timeouts_are_accepted(start_scp):
    scp = start_scp()
    proc = echoscu("-to", "2.5", "-ta", "5", "-td", "0.75", "--deadline", "9.5", HOST, scp.port)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_verbose_prints_a_summary(start_scp):
    scp = start_scp()
    proc = echoscu("-v", "--repeat", 2, HOST, scp.port)
    assert proc.returncode == 0 and proc.stdout == ""
    err = proc.stderr
    assert all(line.startswith("I: ") for line in stderr_lines(proc)), err
    assert "ECHOSCU" in err and "ANY-SCP" in err and f"{HOST}:{scp.port}" in err
    assert "Accepted presentation context: Verification with 1.2.840.10008.1.2" in err
    assert "PYNETDICOM_304" in err and "1.2.826.0.1.3680043.9.3811." in err  # the peer's implementation
    assert re.search(r"C-ECHO 1: status 0x0000 \(Success\) in [0-9.]+ ms", err)
    assert re.search(r"C-ECHO 2: status 0x0000", err)
    assert "released" in err


def test_debug_prints_more(start_scp):
    scp = start_scp()
    proc = echoscu("-d", HOST, scp.port)
    assert proc.returncode == 0
    assert "D: Proposing Verification" in proc.stderr and "D: Timing (ms)" in proc.stderr
    assert "I: C-ECHO 1: status 0x0000" in proc.stderr


def test_log_level_sets_the_level(start_scp):
    scp = start_scp()
    assert "I: " in echoscu("-ll", "info", HOST, scp.port).stderr
    assert echoscu("-ll", "error", HOST, scp.port).stderr == ""
    # -ll wins over -v.
    assert echoscu("-v", "-ll", "critical", HOST, scp.port).stderr == ""


# -- failures: the specification's lines and our exit codes ------------------------


def test_refused_port_prints_the_spec_lines():
    proc = echoscu(HOST, free_port())
    assert proc.returncode == 3
    assert stderr_lines(proc) == [*REFUSED_LINES, "E: TCP Initialisation Error: Connection refused"]
    assert proc.stdout == ""


def test_unresolvable_host_names_the_cause():
    proc = echoscu("-to", 10, "no-such-host.invalid", 104)
    assert proc.returncode == 3
    lines = stderr_lines(proc)
    assert lines[:2] == REFUSED_LINES and len(lines) == 3
    assert lines[2].startswith("E: TCP Initialisation Error: ") and "Connection refused" not in lines[2]
    assert "no-such-host.invalid" in lines[2]


def test_wrong_called_aet_is_rejected_with_reason(start_scp):
    scp = start_scp(require_called_aet=True)
    proc = echoscu("-aec", "WRONG", HOST, scp.port)
    assert proc.returncode == 4
    [line] = stderr_lines(proc)
    assert line.startswith("E: association rejected") and "reason 7" in line and "'WRONG'" in line


def test_no_acceptable_presentation_context(start_scp):
    scp = start_scp(supported=False)
    proc = echoscu(HOST, scp.port)
    assert proc.returncode == 5
    # The specification's line, then one more that says why (issue #7: a failure names its cause).
    assert proc.stderr == (
        "E: No Acceptable Presentation Contexts\n"
        "E: Abstract syntax not supported: the peer does not offer Verification\n"
    )
    assert scp.seen.echo_message_ids == []


def test_failure_status_is_a_failure(start_scp):
    scp = start_scp(status=0x0122)
    proc = echoscu(HOST, scp.port)
    assert proc.returncode == 7
    [line] = stderr_lines(proc)
    assert line.startswith("E: ") and "0x0122" in line


def test_quiet_prints_nothing(start_scp):
    assert echoscu("-q", HOST, free_port()).stderr == ""
    scp = start_scp(status=0x0122)
    proc = echoscu("--quiet", HOST, scp.port)
    assert (proc.returncode, proc.stdout, proc.stderr) == (7, "", "")


def test_silent_peer_hits_the_acse_timeout(listener):
    began = time.monotonic()
    proc = echoscu("-ta", "0.5", HOST, listener.getsockname()[1])
    assert proc.returncode == 6
    [line] = stderr_lines(proc)
    assert "ACSE" in line and "0.5 s" in line
    assert time.monotonic() - began < 10


def test_deadline_bounds_the_run(listener):
    proc = echoscu("-ta", 60, "--deadline", "0.5", HOST, listener.getsockname()[1])
    assert proc.returncode == 6
    [line] = stderr_lines(proc)
    assert "deadline" in line


def test_interrupt_exits_130_without_traceback(listener):
    # A shell without job control starts background jobs with SIGINT ignored, and children
    # inherit that: give the script the default handler, as an interactive shell does.
    proc = subprocess.Popen([sys.executable, str(ECHOSCU), HOST, str(listener.getsockname()[1])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    held: list[socket.socket] = []  # kept open: closing it would end the wait

    def accepted() -> bool:
        try:
            held.append(listener.accept()[0])
        except BlockingIOError:
            return False
        return True

    try:
        # Once connected, the script waits for an A-ASSOCIATE-AC that never comes.
        assert wait_for(accepted, seconds=20)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        for conn in held:
            conn.close()
    assert proc.returncode == 130
    assert "Traceback" not in err


# -- machine-readable output and metadata --------------------------------------------


INTERFACE_KEYS = {"status", "echoes", "association", "accepted_contexts", "rejected_contexts", "peer", "timing"}


def test_json_output(start_scp):
    scp = start_scp()
    proc = echoscu("--json", "--repeat", 2, HOST, scp.port)
    assert (proc.returncode, proc.stderr) == (0, "")
    result = json.loads(proc.stdout)
    assert INTERFACE_KEYS <= result.keys()
    assert result["ok"] is True and result["status"] == 0
    assert [e["message_id"] for e in result["echoes"]] == [1, 2]
    assert set(result["echoes"][0]) >= {"message_id", "status", "rtt_ms"}
    assert result["association"]["result"] == "accepted"
    assert result["accepted_contexts"][0]["transfer_syntax"] == ALL_TS[0]
    assert {"host", "port", "ae_title", "max_pdu", "implementation_class_uid",
            "implementation_version_name"} <= result["peer"].keys()
    assert {"connect_ms", "associate_ms", "echo_ms", "release_ms", "total_ms"} <= result["timing"].keys()


def test_json_on_failure_even_when_quiet():
    proc = echoscu("--json", "-q", HOST, free_port())
    assert (proc.returncode, proc.stderr) == (3, "")
    result = json.loads(proc.stdout)
    assert result["ok"] is False and result["exit_code"] == 3
    assert result["association"]["result"] == "refused"
    assert INTERFACE_KEYS <= result.keys()


def test_version():
    proc = echoscu("--version")
    assert proc.returncode == 0 and proc.stderr == ""
    version = re.search(r"^version:\s*(\S+)", (ROOT / "galaxy.yml").read_text(), re.MULTILINE)[1]
    assert f"dicom.network {version}" in proc.stdout
    assert f"pynetdicom {metadata.version('pynetdicom')}" in proc.stdout


def test_help_lists_every_option_and_the_exit_codes():
    proc = echoscu("-h")
    assert proc.returncode == 0 and proc.stderr == ""
    for option in ("-q", "--quiet", "-v", "--verbose", "-d", "--debug", "-ll", "--log-level", "-lc",
                   "--log-config", "-aet", "--calling-aet", "-aec", "--called-aet", "-pts", "--propose-ts",
                   "-to", "--timeout", "-ta", "--acse-timeout", "-td", "--dimse-timeout", "-pdu", "--max-pdu",
                   "--repeat", "--abort", "--version", "--deadline", "--json"):
        assert re.search(rf"(^|[\s,]){re.escape(option)}\b", proc.stdout), option
    assert "exit status" in proc.stdout
    for code in range(8):
        assert re.search(rf"^\s+{code}\s+\S", proc.stdout, re.MULTILINE), code


def test_log_config_file(start_scp, tmp_path):
    log = tmp_path / "echoscu.log"
    config = tmp_path / "logging.ini"
    config.write_text(f"""\
[loggers]
keys=root,dicom

[handlers]
keys=file

[formatters]
keys=plain

[logger_root]
level=WARNING
handlers=

[logger_dicom]
level=INFO
handlers=file
qualname=dicom.network
propagate=0

[handler_file]
class=FileHandler
level=INFO
formatter=plain
args=({str(log)!r},)

[formatter_plain]
format=%(asctime)s %(name)s %(levelname)s %(message)s
""")
    scp = start_scp()
    # -d does not override the file: no DEBUG lines, nothing on stderr.
    proc = echoscu("-lc", config, "-d", HOST, scp.port)
    assert (proc.returncode, proc.stderr) == (0, "")
    text = log.read_text()
    assert "dicom.network.echoscu INFO" in text and "returned Success" in text
    assert "DEBUG" not in text
    proc = echoscu("--log-config", config, HOST, free_port())
    assert (proc.returncode, proc.stderr) == (3, "")
    assert "ERROR TCP Initialisation Error: Connection refused" in log.read_text()


# -- bad input: one line naming the option, exit 2, nothing on the wire ---------------

P = "{port}"  # the listener's port: a valid port, so a bug would show as a connection
BAD_INPUT = [
    (["-aet", "A" * 17, HOST, P], "-aet/--calling-aet"),
    (["--calling-aet", "", HOST, P], "-aet/--calling-aet"),
    (["-aet", "   ", HOST, P], "-aet/--calling-aet"),
    (["-aet", "ÉCHO", HOST, P], "-aet/--calling-aet"),
    (["-aet", "A\\B", HOST, P], "-aet/--calling-aet"),
    (["-aet", "A\tB", HOST, P], "-aet/--calling-aet"),
    (["-aec", "B" * 17, HOST, P], "-aec/--called-aet"),
    (["--called-aet", "", HOST, P], "-aec/--called-aet"),
    (["-aec", "ÉCHO", HOST, P], "-aec/--called-aet"),
    (["-aec", "A\\B", HOST, P], "-aec/--called-aet"),
    ([HOST, "0"], "port"),
    ([HOST, "70000"], "port"),
    ([HOST, "-1"], "port"),
    ([HOST, "text"], "port"),
    ([HOST, "104.5"], "port"),
    (["bad host!", P], "peer"),
    (["", P], "peer"),
    (["-pdu", "100", HOST, P], "-pdu/--max-pdu"),
    (["--max-pdu", str(2**32), HOST, P], "-pdu/--max-pdu"),
    (["-pdu", "-1", HOST, P], "-pdu/--max-pdu"),
    (["-pdu", "big", HOST, P], "-pdu/--max-pdu"),
    (["-to", "0", HOST, P], "-to/--timeout"),
    (["--timeout", "-1", HOST, P], "-to/--timeout"),
    (["-to", "soon", HOST, P], "-to/--timeout"),
    (["-ta", "0", HOST, P], "-ta/--acse-timeout"),
    (["--acse-timeout", "-2.5", HOST, P], "-ta/--acse-timeout"),
    (["-td", "0", HOST, P], "-td/--dimse-timeout"),
    (["--dimse-timeout", "-1", HOST, P], "-td/--dimse-timeout"),
    (["-td", "nan", HOST, P], "-td/--dimse-timeout"),
    (["--deadline", "0", HOST, P], "--deadline"),
    (["--deadline", "-1", HOST, P], "--deadline"),
    (["--repeat", "0", HOST, P], "--repeat"),
    (["--repeat", "-1", HOST, P], "--repeat"),
    (["--repeat", "many", HOST, P], "--repeat"),
    (["--repeat", "1000001", HOST, P], "--repeat"),
    (["-pts", "0", HOST, P], "-pts/--propose-ts"),
    (["--propose-ts", "4", HOST, P], "-pts/--propose-ts"),
    (["-pts", "x", HOST, P], "-pts/--propose-ts"),
    (["-ll", "verbose", HOST, P], "-ll/--log-level"),
    (["-lc", "/nonexistent/logging.ini", HOST, P], "-lc/--log-config"),
    (["--log-config", "{dir}", HOST, P], "-lc/--log-config"),  # a directory cannot be read, even by root
    (["-lc", "{garbage}", HOST, P], "-lc/--log-config"),
    ([], "peer"),
    ([HOST], "port"),
    ([HOST, P, "-aet"], "-aet/--calling-aet"),
    (["--no-such-option", HOST, P], "--no-such-option"),
    (["--rep", "2", HOST, P], "--rep"),  # no abbreviations
    # A stray word is not echoed: it may be a password whose -pwd was forgotten.
    ([HOST, P, "extra"], "unrecognized argument ("),
    (["-q", "-v", HOST, P], "-q/--quiet"),
]


@pytest.mark.parametrize(("args", "option"), BAD_INPUT, ids=[" ".join(a) or "(none)" for a, _option in BAD_INPUT])
def test_bad_input_is_one_line_naming_the_option(listener, tmp_path, args, option):
    garbage = tmp_path / "garbage.ini"
    garbage.write_text("this is not\n[a logging config\n")
    fill = {"port": listener.getsockname()[1], "dir": tmp_path, "garbage": garbage}
    proc = echoscu(*(a.format(**fill) for a in args))
    assert proc.returncode == 2, proc.stderr
    [line] = stderr_lines(proc)
    assert line.startswith("E: ") and option in line
    assert proc.stdout == ""
    assert connections(listener) == 0


def test_without_pynetdicom_one_line_with_install_advice(listener, tmp_path):
    # Blocked the way Python blocks a module (None in sys.modules): not found, not importable.
    # (The script looks for pynetdicom without importing it, so a broken package is not "missing".)
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['pynetdicom'] = None\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = echoscu(HOST, listener.getsockname()[1], env=env)
    assert proc.returncode == 2
    [line] = stderr_lines(proc)
    assert line.startswith("E: pynetdicom is required: pip install")
    assert connections(listener) == 0
    assert echoscu("-h", env=env).returncode == 0


def test_broken_install_is_an_internal_error_not_a_traceback(tmp_path):
    (tmp_path / "bin").mkdir()
    shutil.copy2(ECHOSCU, tmp_path / "bin" / "echoscu")  # no plugins/ next to it
    proc = echoscu(HOST, 104, script=tmp_path / "bin" / "echoscu")
    assert proc.returncode == 1
    [line] = stderr_lines(proc)
    assert line.startswith("E: internal error: ") and "engine" in line


# -- ways to run it ------------------------------------------------------------------


def test_runs_directly_from_any_directory(start_scp, tmp_path):
    scp = start_scp()
    assert os.access(ECHOSCU, os.X_OK)
    assert ECHOSCU.read_text().startswith("#!/usr/bin/env python3\n")
    proc = echoscu(HOST, scp.port, direct=True, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    proc = echoscu(HOST, scp.port, script="bin/echoscu", cwd=ROOT)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_runs_through_a_symlink(start_scp, tmp_path):
    scp = start_scp()
    link = tmp_path / "elsewhere" / "echoscu"
    link.parent.mkdir()
    link.symlink_to(ECHOSCU)
    for direct in (True, False):
        proc = echoscu(HOST, scp.port, script=link, direct=direct, cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (0, ""), direct
    assert scp.seen.echo_message_ids == [1, 1]


def _ansible_galaxy() -> str | None:
    return shutil.which("ansible-galaxy") or shutil.which("ansible-galaxy", path=os.path.dirname(sys.executable))


@pytest.mark.skipif(_ansible_galaxy() is None, reason="ansible-galaxy is not on PATH (nor next to this Python)")
def test_runs_from_an_installed_collection(start_scp, tmp_path):
    galaxy = _ansible_galaxy()
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    # Build from a copy of what the script needs: the checkout may be mid-edit elsewhere.
    source = tmp_path / "src"
    for part in ("bin", "plugins/module_utils", "meta"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("galaxy.yml", "README.md", "COPYING"):
        if (ROOT / part).exists():
            shutil.copy2(ROOT / part, source / part)
    build = subprocess.run([galaxy, "collection", "build", str(source), "--output-path", str(tmp_path)],
                           capture_output=True, text=True, timeout=300, env=env, check=False)
    assert build.returncode == 0, build.stderr
    [tarball] = tmp_path.glob("dicom-network-*.tar.gz")
    install = subprocess.run([galaxy, "collection", "install", "--offline", "-p", str(tmp_path / "coll"), str(tarball)],
                             capture_output=True, text=True, timeout=300, env=env, check=False)
    assert install.returncode == 0, install.stderr
    script = tmp_path / "coll" / "ansible_collections" / "dicom" / "network" / "bin" / "echoscu"
    scp = start_scp()
    for direct in (True, False):
        proc = echoscu("--repeat", 2, HOST, scp.port, script=script, direct=direct, cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (0, ""), direct
    assert scp.seen.echo_message_ids == [1, 2, 1, 2]
    version = json.loads((script.parents[1] / "MANIFEST.json").read_text())["collection_info"]["version"]
    assert f"dicom.network {version}" in echoscu("--version", script=script).stdout
