"""The role dicom.network.verify, end to end: ansible-playbook against real SCPs on loopback.

Each test writes an inventory and a playbook, runs ansible-playbook in a subprocess with
the checkout as the collection dicom.network, and checks what the play decided, what the
reports say, and what each SCP saw on the wire. The DICOM nodes of these inventories are
unreachable over SSH on purpose: the role must never connect to them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ALL_TS, ROOT, wait_for

PLAY_TIMEOUT = 240  # seconds; every play here takes a few seconds
# SSH settings that make a node unreachable if anything ever tries to log in to it.
UNREACHABLE_SSH = "ansible_connection=ssh ansible_port=1 ansible_user=nobody"
# The same as the lines of a [group:vars] section, with the nodes' address.
NODE_VARS = "ansible_host=127.0.0.1\n" + UNREACHABLE_SSH.replace(" ", "\n") + "\n"


def _ansible_playbook() -> str:
    beside = Path(sys.executable).with_name("ansible-playbook")
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if not found:
        pytest.skip("ansible-playbook is not installed")
    return found


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collections path where dicom.network is this checkout."""
    base = tmp_path_factory.mktemp("collections")
    (base / "ansible_collections" / "dicom").mkdir(parents=True)
    (base / "ansible_collections" / "dicom" / "network").symlink_to(ROOT, target_is_directory=True)
    return base


class Play:
    """The outcome of one ansible-playbook run, and the report it wrote."""

    def __init__(self, proc: subprocess.CompletedProcess[str], report_dir: Path) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        self.report_dir = report_dir

    @property
    def entries(self) -> list[dict[str, t.Any]]:
        return json.loads((self.report_dir / "dicom-verify.json").read_text(encoding="utf-8"))

    def by_name(self) -> dict[str, dict[str, t.Any]]:
        return {e["name"]: e for e in self.entries}

    @property
    def junit(self) -> ET.Element:
        return ET.parse(self.report_dir / "dicom-verify.xml").getroot()

    def junit_cases(self) -> dict[str, str]:
        """Test case name: passed, failure or skipped."""
        cases = {}
        for case in self.junit.iter("testcase"):
            state = "passed"
            if case.find("failure") is not None:
                state = "failure"
            elif case.find("skipped") is not None:
                state = "skipped"
            cases[case.get("name")] = state
        return cases


@pytest.fixture
def run_play(tmp_path: Path, collections_path: Path) -> t.Callable[..., Play]:
    """Run a playbook with an inventory (both given as text) and return a Play."""

    def run(inventory: str, playbook: str, *args: str, env: dict[str, str] | None = None,
            report_dir: Path | None = None) -> Play:
        """``playbook`` is the playbook's text, or the name of a collection playbook
        (``dicom.network.verify``); ``report_dir``: where the play writes its report on its
        own (else the test passes ``verify_report_dir``)."""
        (tmp_path / "inventory.ini").write_text(textwrap.dedent(inventory), encoding="utf-8")
        if playbook.startswith("dicom.network."):
            play = playbook
        else:
            (tmp_path / "play.yml").write_text(textwrap.dedent(playbook), encoding="utf-8")
            play = str(tmp_path / "play.yml")
        report_args = [] if report_dir else ["-e", f"verify_report_dir={tmp_path / 'report'}"]
        environ = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
            "ANSIBLE_ASYNC_DIR": str(tmp_path / "ansible-async"),
            "ANSIBLE_SSH_ARGS": "-o ConnectTimeout=2 -o BatchMode=yes",
            # The current directory, as a shell would say it (the collection playbook reports there).
            "PWD": str(tmp_path),
            **(env or {}),
        }
        command = [_ansible_playbook(), "-i", str(tmp_path / "inventory.ini"), play, *report_args, *args]
        proc = subprocess.run(command, cwd=tmp_path, env=environ, capture_output=True, text=True,
                              timeout=PLAY_TIMEOUT, check=False)
        return Play(proc, report_dir or tmp_path / "report")

    return run


RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=\d+\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=\d+\s+rescued=\d+\s+ignored=(?P<ignored>\d+)", re.MULTILINE)


def recap(out: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP: host -> ok, unreachable, failed, ignored."""
    return {m["host"]: {key: int(m[key]) for key in ("ok", "unreachable", "failed", "ignored")}
            for m in RECAP_RE.finditer(out)}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def associations(scp: t.Any) -> list[dict[str, t.Any]]:
    return list(scp.seen.requests)


PLAY_ON_NODES = """\
- name: Verify the DICOM nodes
  hosts: pacs
  gather_facts: false
  roles:
    - role: dicom.network.verify
      run_once: true
"""


def test_verdicts_reports_and_wire(start_scp, run_play):
    """Tens of nodes: each echoed once, each verdict right in the play, the JSON and JUnit."""
    healthy = {f"ok-{i:02d}": start_scp(ae_title=f"PACS{i:02d}") for i in range(16)}
    strict = start_scp(ae_title="STRICT", require_called_aet=True)
    strict_optional = start_scp(ae_title="STRICT2", require_called_aet=True)
    failing_status = start_scp(ae_title="BUSY", status=0x0122)
    wrong_uid = start_scp(ae_title="OTHER")
    too_slow = start_scp(ae_title="SLOW")
    port_closed = closed_port()
    port_closed_optional = closed_port()

    lines = ["[pacs]"]
    for name, scp in healthy.items():
        lines.append(f"{name} dicom_port={scp.port} dicom_called_aet={scp.ae_title}")
    # Expectations that hold on two healthy nodes.
    lines[1] += " dicom_expect_implementation_version_name=PYNETDICOM_304"
    lines[2] += " dicom_max_echo_ms=60000 dicom_calling_aet=OTHER-SCU"
    lines += [
        f"wrong-aet dicom_port={strict.port} dicom_called_aet=WRONG",
        f"wrong-aet-optional dicom_port={strict_optional.port} dicom_called_aet=WRONG dicom_required=false",
        f"closed dicom_port={port_closed}",
        f"closed-optional dicom_port={port_closed_optional} dicom_required=false",
        f"bad-status dicom_port={failing_status.port} dicom_called_aet=BUSY",
        f"wrong-uid dicom_port={wrong_uid.port} dicom_expect_implementation_class_uid=1.2.3.4",
        f"too-slow dicom_port={too_slow.port} dicom_max_echo_ms=0.0001",
        f"bad-aet-title dicom_port={port_closed} dicom_called_aet=SEVENTEEN-CHARS-X",
        "bad-port-optional dicom_port=70000 dicom_required=false",
        "",
        "[pacs:vars]",
        NODE_VARS,
    ]
    play = run_play("\n".join(lines) + "\n", PLAY_ON_NODES)

    expected = dict.fromkeys(healthy, ("passed", None, True))
    expected.update({
        "wrong-aet": ("failed", "rejected", True),
        "wrong-aet-optional": ("failed-optional", "rejected", False),
        "closed": ("failed", "connect", True),
        "closed-optional": ("failed-optional", "connect", False),
        "bad-status": ("failed", "echo", True),
        "wrong-uid": ("failed", "expectation", True),
        "too-slow": ("failed", "expectation", True),
        "bad-aet-title": ("failed", "usage", True),
        "bad-port-optional": ("failed-optional", "usage", False),
    })
    failed_required = [name for name, spec in expected.items() if spec[0] == "failed"]

    # The play fails, naming every failed required node and no other.
    assert play.rc == 2, play.out
    assert f"DICOM verification failed for {len(failed_required)} required node(s)" in play.out
    fail_line = next(line for line in play.out.splitlines() if "DICOM verification failed for" in line)
    for name in expected:
        assert (f"{name} (" in fail_line) == (name in failed_required), (name, fail_line)
    assert "unreachable=0" in play.out  # nothing ever connected to a node

    # The JSON report: one entry per node, in inventory order, each as the node behaved.
    entries = play.entries
    assert [e["name"] for e in entries] == list(expected)
    by_name = play.by_name()
    for name, (verdict, failure, required) in expected.items():
        entry = by_name[name]
        assert (entry["verdict"], entry["failure"], entry["required"]) == (verdict, failure, required), entry
        assert entry["ok"] is (verdict == "passed")
        assert entry["probe"] == "localhost"
        for key in ("name", "host", "port", "ok", "status", "association", "timing", "msg"):
            assert key in entry
    assert by_name["ok-00"]["host"] == "127.0.0.1"
    assert by_name["ok-00"]["status"] == 0
    assert by_name["ok-00"]["association"]["result"] == "accepted"
    assert by_name["ok-00"]["timing"]["total_ms"] > 0
    assert by_name["ok-00"]["checks"] == [{
        "check": "implementation_version_name", "expected": "PYNETDICOM_304", "actual": "PYNETDICOM_304",
        "ok": True, "msg": 'implementation version name is "PYNETDICOM_304", as expected'}]
    assert by_name["ok-01"]["calling_aet"] == "OTHER-SCU"
    assert by_name["wrong-aet"]["association"]["result"] == "rejected"
    assert by_name["wrong-aet"]["association"]["reject_reason"] == 7
    assert by_name["closed"]["association"]["result"] == "refused"
    assert by_name["bad-status"]["status"] == 0x0122
    assert "implementation class UID is" in by_name["wrong-uid"]["msg"] and "1.2.3.4" in by_name["wrong-uid"]["msg"]
    assert by_name["too-slow"]["msg"].startswith("C-ECHO took ")
    assert "dicom_called_aet" in by_name["bad-aet-title"]["msg"]
    # The engine's own reason, naming the host variable (issue: one validation, with the engine's words).
    assert by_name["bad-port-optional"]["msg"] == "dicom_port must be between 1 and 65535 (got 70000)"

    # Every failed node says what to check (issue #7); the reason-7 one claims no more than reason 7 proves.
    for entry in by_name.values():
        assert (entry["hint"] is None) == entry["ok"], entry
    assert "may also" in by_name["wrong-aet"]["hint"] and "'WRONG'" in by_name["wrong-aet"]["hint"]

    # dicom-verify.prom: the same runs for node_exporter's textfile collector.
    parser = pytest.importorskip("prometheus_client.parser")
    prom = (play.report_dir / "dicom-verify.prom").read_text(encoding="utf-8")
    families = {f.name: f for f in parser.text_string_to_metric_families(prom)}
    up = {s.labels["node"]: s.value for s in families["dicom_echo_up"].samples}
    assert up == {name: 0 if spec[1] not in (None, "expectation") else 1 for name, spec in expected.items()}
    assert {s.labels["node"] for s in families["dicom_echo_status"].samples} >= set(healthy) | {"bad-status"}

    # The JUnit report: one test case per node; optional failures are skipped.
    states = {"passed": "passed", "failed": "failure", "failed-optional": "skipped"}
    assert play.junit_cases() == {name: states[spec[0]] for name, spec in expected.items()}
    root = play.junit
    assert root.get("tests") == str(len(expected))
    assert root.get("failures") == str(len(failed_required))
    assert root.get("skipped") == "3"
    failure = next(c for c in root.iter("testcase") if c.get("name") == "wrong-aet").find("failure")
    assert failure.get("type") == "rejected" and "called AE title 'WRONG'" in failure.get("message")

    # On the wire: each SCP saw exactly one association, from the right calling AE title.
    for name, scp in healthy.items():
        seen = associations(scp)
        assert len(seen) == 1, (name, seen)
        assert seen[0]["calling_aet"] == ("OTHER-SCU" if name == "ok-01" else "ECHOSCU")
        assert seen[0]["called_aet"] == scp.ae_title
        assert seen[0]["transfer_syntaxes"] == [[ALL_TS[0]]]
        assert wait_for(lambda scp=scp: scp.seen.released == 1)
    for scp in (strict, strict_optional, failing_status, wrong_uid, too_slow):
        assert len(associations(scp)) == 1
    assert failing_status.seen.echo_message_ids == [1]

    # The table at the end of the play.
    summary = f"DICOM verify: {len(expected)} node(s), 16 passed, {len(failed_required)} failed, 3 optional failed"
    assert summary in play.out


def _probe_python(path: Path, log: Path) -> Path:
    """An interpreter for a probe host that logs which nodes each dicom.network.echo run checks."""
    path.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        for last; do :; done
        case "$last" in
          *AnsiballZ_echo.py) echo "echo: $(grep -o 'node-s[0-9]-[0-9]*' "$last" | sort -u | tr '\\n' ' ')" >> {log} ;;
        esac
        exec {sys.executable} "$@"
        """), encoding="utf-8")
    path.chmod(0o755)
    return path


def test_two_probe_hosts_each_check_their_own_site(start_scp, run_play, tmp_path):
    """Two probe hosts: one dicom.network.echo run each, each node echoed once, from its own probe."""
    sites = {site: [start_scp(ae_title=f"S{site}N{i}") for i in range(5)] for site in (1, 2)}
    logs = {site: tmp_path / f"probe{site}.log" for site in (1, 2)}
    pythons = {site: _probe_python(tmp_path / f"probe{site}-python", logs[site]) for site in (1, 2)}
    lines = ["[probes]"]
    for site in (1, 2):
        lines.append(f"probe{site} ansible_connection=local ansible_python_interpreter={pythons[site]}")
    for site in (1, 2):
        lines.append(f"[site{site}]")
        for i, scp in enumerate(sites[site]):
            lines.append(f"node-s{site}-{i} dicom_port={scp.port} dicom_called_aet={scp.ae_title}")
        lines += [f"[site{site}:vars]", f"dicom_probe_host=probe{site}", f"dicom_calling_aet=FROM-PROBE{site}"]
    lines += ["[pacs:children]", "site1", "site2", "[pacs:vars]", NODE_VARS]
    play = run_play("\n".join(lines) + "\n", PLAY_ON_NODES)

    assert play.rc == 0, play.out
    for site in (1, 2):
        runs = logs[site].read_text(encoding="utf-8").splitlines()
        # One module run on this probe, checking exactly this site's nodes.
        assert runs == ["echo: " + "".join(f"node-s{site}-{i} " for i in range(5))], runs
        for scp in sites[site]:
            seen = associations(scp)
            assert len(seen) == 1
            assert seen[0]["calling_aet"] == f"FROM-PROBE{site}"
    by_name = play.by_name()
    assert {e["probe"] for e in by_name.values() if e["name"].startswith("node-s1")} == {"probe1"}
    assert {e["probe"] for e in by_name.values() if e["name"].startswith("node-s2")} == {"probe2"}
    suites = {s.get("name"): int(s.get("tests")) for s in play.junit.iter("testsuite")}
    assert suites == {"dicom.network.verify.probe1": 5, "dicom.network.verify.probe2": 5}


def test_unreachable_probe_fails_only_its_nodes(start_scp, run_play):
    """A probe host that cannot be reached fails its own nodes in the report, not the others."""
    if not shutil.which("ssh"):
        pytest.skip("needs an ssh client to have an unreachable probe host")
    good = start_scp()
    inventory = textwrap.dedent(f"""\
        [probes]
        deadprobe ansible_host=127.0.0.1 {UNREACHABLE_SSH}
        [pacs]
        near dicom_port={good.port}
        far dicom_port={good.port} dicom_probe_host=deadprobe dicom_required=false
        [pacs:vars]
        """) + NODE_VARS
    play = run_play(inventory, PLAY_ON_NODES)
    assert play.rc == 0, play.out
    by_name = play.by_name()
    assert by_name["near"]["verdict"] == "passed"
    assert by_name["far"]["verdict"] == "failed-optional"
    assert by_name["far"]["failure"] == "probe"
    assert by_name["far"]["msg"].startswith("probe deadprobe could not check the node: unreachable")
    assert len(associations(good)) == 1


def _start_scp_late(marker: Path, port: int, stop: threading.Event, seen: list[str]) -> None:
    """Once the play has begun (it touches ``marker``), wait a few seconds, then listen on ``port``."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    end = time.monotonic() + PLAY_TIMEOUT
    while not marker.exists() and not stop.is_set() and time.monotonic() < end:
        time.sleep(0.05)
    if stop.wait(4.0):
        return
    ae = AE(ae_title="LATE")
    ae.add_supported_context(Verification, ALL_TS)
    handlers = [(evt.EVT_REQUESTED, lambda event: seen.append(event.assoc.requestor.primitive.calling_ae_title))]
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    stop.wait(PLAY_TIMEOUT)
    server.shutdown()


def test_node_coming_up_late_passes_with_retries(start_scp, run_play, tmp_path):
    """A node that starts listening seconds after the play began passes thanks to verify_retries."""
    early = start_scp()
    late_port = closed_port()
    marker = tmp_path / "play-started"
    stop, seen = threading.Event(), []
    starter = threading.Thread(target=_start_scp_late, args=(marker, late_port, stop, seen), daemon=True)
    starter.start()
    inventory = textwrap.dedent(f"""\
        [pacs]
        early dicom_port={early.port}
        late dicom_port={late_port} dicom_called_aet=LATE
        [pacs:vars]
        """) + NODE_VARS
    playbook = f"""\
        - name: Verify nodes that are still starting
          hosts: pacs
          gather_facts: false
          pre_tasks:
            - name: Tell the test the play has begun
              ansible.builtin.file:
                path: {marker}
                state: touch
                mode: "0644"
              delegate_to: localhost
              run_once: true
          roles:
            - role: dicom.network.verify
              run_once: true
              verify_retries: 40
              verify_delay: 0.5
        """
    try:
        play = run_play(inventory, playbook)
    finally:
        stop.set()
        starter.join(10)
    assert play.rc == 0, play.out
    # Progress while the batch waits for the late node: what is tried again, then a line per look.
    assert "those that cannot be connected to yet are tried again, up to 40 times 0.5 s apart" in play.out
    assert "FAILED - RETRYING: [early -> localhost]: Wait for the probe hosts to finish" in play.out, play.out
    by_name = play.by_name()
    assert by_name["late"]["ok"] and by_name["late"]["attempts"] > 1, by_name["late"]
    assert by_name["early"]["attempts"] == 1
    assert len(seen) == 1  # refused attempts never reached it; the one that did succeeded
    assert len(associations(early)) == 1


def test_check_mode_checks_but_writes_nothing(start_scp, run_play):
    scp = start_scp()
    inventory = textwrap.dedent(f"""\
        [pacs]
        up dicom_port={scp.port}
        down dicom_port={closed_port()}
        [pacs:vars]
        """) + NODE_VARS
    play = run_play(inventory, PLAY_ON_NODES, "--check")
    assert play.rc == 2, play.out
    assert "DICOM verification failed for 1 required node(s): down (" in play.out
    assert "(not written in check mode)" in play.out
    assert not play.report_dir.exists()
    assert len(associations(scp)) == 1  # a C-ECHO changes nothing, so check mode echoes


def test_play_on_localhost_with_verify_hosts(start_scp, run_play):
    """The nodes need not be the play's hosts: verify_hosts names them; optional failures pass."""
    scps = [start_scp() for _index in range(3)]
    inventory = "[pacs]\n" + "".join(f"n{i} dicom_port={s.port}\n" for i, s in enumerate(scps)) + textwrap.dedent(f"""\
        gone dicom_port={closed_port()} dicom_required=false
        [pacs:vars]
        """) + NODE_VARS
    playbook = """\
        - name: Verify the PACS group from the controller
          hosts: localhost
          gather_facts: false
          tasks:
            - name: Verify
              ansible.builtin.include_role:
                name: dicom.network.verify
              vars:
                verify_hosts: "{{ groups['pacs'] }}"
                verify_junit_optional_failures: failure
                verify_show: problems
            - name: The results are a fact
              ansible.builtin.assert:
                that:
                  - verify_report.passed == 3
                  - verify_report.failed == []
                  - verify_report.failed_optional == ['gone']
        """
    play = run_play(inventory, playbook)
    assert play.rc == 0, play.out
    assert play.junit_cases() == {"n0": "passed", "n1": "passed", "n2": "passed", "gone": "failure"}
    assert play.junit.get("failures") == "1"
    assert "gone " in play.out and "n0 " not in play.out.split("DICOM verify:")[1]
    for scp in scps:
        assert len(associations(scp)) == 1


def test_role_without_run_once_and_no_report(start_scp, run_play):
    """Plain `roles:` still echoes once per node; an empty verify_report_dir writes nothing."""
    scps = [start_scp() for _index in range(3)]
    inventory = "[pacs]\n" + "".join(f"n{i} dicom_port={s.port}\n" for i, s in enumerate(scps)) + (
        "[pacs:vars]\n" + NODE_VARS)
    playbook = """\
        - name: Verify
          hosts: pacs
          gather_facts: false
          roles:
            - dicom.network.verify
        """
    play = run_play(inventory, playbook, "-e", "verify_report_dir=''")
    assert play.rc == 0, play.out
    assert not play.report_dir.exists()
    for scp in scps:
        assert len(associations(scp)) == 1


@pytest.mark.parametrize("extra, message", [
    ("verify_concurrency=0", "verify_concurrency must be between 1 and 256"),
    ("verify_show=sometimes", "verify_show"),
])
def test_bad_role_variables_stop_the_play(run_play, extra, message):
    inventory = "[pacs]\nn1 dicom_port=104\n[pacs:vars]\n" + NODE_VARS
    play = run_play(inventory, PLAY_ON_NODES, "-e", extra)
    assert play.rc != 0
    assert message in play.out
    assert not play.report_dir.exists()


def test_nodes_fail_fast_and_in_parallel(run_play):
    """Silent nodes cost one timeout for the batch, not one per node."""
    silent = []
    for _index in range(8):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # accepts TCP, never answers the A-ASSOCIATE-RQ
        silent.append(sock)
    try:
        inventory = "[pacs]\n" + "".join(
            f"mute{i} dicom_port={s.getsockname()[1]} dicom_required=false\n" for i, s in enumerate(silent)
        ) + "[pacs:vars]\n" + NODE_VARS
        begin = time.monotonic()
        play = run_play(inventory, PLAY_ON_NODES, "-e", "verify_acse_timeout=3")
        elapsed = time.monotonic() - begin
    finally:
        for sock in silent:
            sock.close()
    assert play.rc == 0, play.out
    assert {e["failure"] for e in play.entries} == {"association"}
    assert all(e["association"]["result"] == "timeout" for e in play.entries)
    assert elapsed < 3 * 8  # concurrent: not eight timeouts in a row


def test_probe_without_pynetdicom_fails_its_nodes(start_scp, run_play, tmp_path):
    """A probe host that cannot run the module fails its nodes with the module's reason."""
    bare = tmp_path / "python-without-site-packages"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n', encoding="utf-8")
    bare.chmod(0o755)
    scp = start_scp()
    inventory = textwrap.dedent(f"""\
        [probes]
        bare ansible_connection=local ansible_python_interpreter={bare}
        [pacs]
        here dicom_port={scp.port}
        there dicom_port={scp.port} dicom_probe_host=bare
        [pacs:vars]
        """) + NODE_VARS
    play = run_play(inventory, PLAY_ON_NODES)
    assert play.rc == 2, play.out
    by_name = play.by_name()
    assert by_name["here"]["verdict"] == "passed"
    assert by_name["there"]["failure"] == "probe"
    assert "pynetdicom" in by_name["there"]["msg"], by_name["there"]["msg"]
    assert "DICOM verification failed for 1 required node(s): there (" in play.out
    assert len(associations(scp)) == 1


def test_no_nodes(run_play):
    play = run_play("[pacs]\n", """\
        - name: Verify nothing
          hosts: localhost
          gather_facts: false
          roles:
            - role: dicom.network.verify
              verify_hosts: "{{ groups['pacs'] }}"
        """)
    assert play.rc == 0, play.out
    assert play.entries == []
    assert play.junit.get("tests") == "0"
    assert "DICOM verify: 0 node(s), 0 passed, 0 failed, 0 optional failed" in play.out


def test_fifty_nodes_each_end_with_their_verdict(start_scp, run_play, tmp_path):
    """The collection playbook over 50 nodes with failures: every node's own inventory host
    ends with its verdict in the PLAY RECAP (failed, ignored when optional, or ok)."""
    # pynetdicom's SCP serves 10 associations at once: 8 nodes per SCP, 16 checked at once.
    scps = [start_scp(ae_title=f"SITE{i}") for i in range(5)]
    strict = start_scp(ae_title="STRICT", require_called_aet=True)
    lines = ["[pacs]"]
    expected: dict[str, str] = {}
    for i in range(40):
        scp = scps[i % len(scps)]
        lines.append(f"pacs-{i:02d} dicom_port={scp.port} dicom_called_aet={scp.ae_title}")
        expected[f"pacs-{i:02d}"] = "passed"
    for i in range(6):
        lines.append(f"down-{i} dicom_port={closed_port()}")
        expected[f"down-{i}"] = "failed"
    for i in range(2):
        lines.append(f"renamed-{i} dicom_port={strict.port} dicom_called_aet=OLD-NAME")
        expected[f"renamed-{i}"] = "failed"
    for i in range(2):
        lines.append(f"off-{i} dicom_port={closed_port()} dicom_required=false")
        expected[f"off-{i}"] = "failed-optional"
    lines += ["[pacs:vars]", NODE_VARS]
    assert len(expected) == 50

    play = run_play("\n".join(lines) + "\n", "dicom.network.verify", report_dir=tmp_path / "dicom-verify-report")

    assert play.rc == 2, play.out
    hosts = recap(play.out)
    assert set(hosts) == set(expected), play.out
    for name, verdict in expected.items():
        counts = hosts[name]
        assert counts["unreachable"] == 0, (name, counts)  # nothing connected to a node
        if verdict == "failed":
            assert counts["failed"] == 1 and counts["ignored"] == 0, (name, counts)
            reason = play.by_name()[name]["msg"]
            assert f"fatal: [{name}]: FAILED!" in play.out and reason in play.out
        elif verdict == "failed-optional":
            assert counts["failed"] == 0 and counts["ignored"] == 1, (name, counts)
        else:
            assert counts["failed"] == 0 and counts["ignored"] == 0 and counts["ok"] >= 1, (name, counts)
    assert {e["name"]: e["verdict"] for e in play.entries} == expected
    fail_line = next(line for line in play.out.splitlines() if "DICOM verification failed for" in line)
    assert "DICOM verification failed for 8 required node(s)" in fail_line
    for scp in scps:
        assert len(associations(scp)) == 8
    assert len(associations(strict)) == 2


@pytest.mark.parametrize("mode", ["failed", "none"])
def test_host_verdicts_for_large_plays(start_scp, run_play, mode):
    """verify_host_verdicts failed: only failed nodes run a task of their own; none: the play
    fails as a whole, as the role did before."""
    scp = start_scp()
    inventory = textwrap.dedent(f"""\
        [pacs]
        up-1 dicom_port={scp.port}
        up-2 dicom_port={scp.port}
        down dicom_port={closed_port()}
        off dicom_port={closed_port()} dicom_required=false
        [pacs:vars]
        """) + NODE_VARS
    play = run_play(inventory, PLAY_ON_NODES, "-e", f"verify_host_verdicts={mode}")
    assert play.rc == 2, play.out
    hosts = recap(play.out)
    assert "DICOM verification failed for 1 required node(s): down (" in play.out
    if mode == "failed":
        assert hosts["down"]["failed"] == 1 and hosts["off"]["ignored"] == 1, hosts
        # The first node ran the check; the other passed node ran no task at all.
        assert hosts["up-1"]["failed"] == 0 and "up-2" not in hosts, hosts
    else:
        assert "fatal: [down]" not in play.out and "off" not in hosts, hosts
    assert len(associations(scp)) == 2
