"""Real PACS: DCMTK's storescp and Orthanc, through all three faces, checked against DCMTK's echoscu.

Each peer runs on loopback in a private network namespace (see real_peers.py: neither
can bind loopback only), with ports chosen at run time and temporary storage. The
engine runs in-process (threads that joined the namespace), ``bin/echoscu`` and
``ansible-playbook`` run under ``nsenter``.

Every scenario is run by the engine, by bin/echoscu and by the module, and its verdict
is compared with DCMTK's own echoscu on the same peer. DCMTK agrees wherever it is
right; where it is not, a test says so (test_dcmtk_echoscu_*):

| situation (real peer)                                  | DCMTK echoscu 3.6.7   | ours                 |
|--------------------------------------------------------|-----------------------|----------------------|
| Orthanc, DicomAlwaysAllowEcho false, calling AE title  | exit 0 ("E: Echo      | exit 7 (aborted by   |
| not among its DicomModalities: it A-ABORTs after the   | Failed" on stderr,    | the peer during the  |
| C-ECHO-RQ, no response ever comes                       | but success status)   | C-ECHO)              |
| called AE title of 17+ characters, storescp (which     | truncates it to 16    | exit 2, usage error  |
| checks no called AE title)                              | silently, exit 0      | naming -aec          |

storescp 3.6.7 cannot check the called AE title (it has no option for it): a wrong
one is accepted, by DCMTK's echoscu and by us alike. Orthanc checks it
(DicomCheckCalledAet) and rejects with result 1, source 1, reason 7.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import real_peers as rp
from conftest import ALL_TS, ROOT

IMPLICIT, EXPLICIT_LE, EXPLICIT_BE = ALL_TS
# The peers' names for the syntax they accepted, as DCMTK's echoscu -d prints them.
DCMTK_TS_NAMES = {"=LittleEndianImplicit": IMPLICIT, "=LittleEndianExplicit": EXPLICIT_LE,
                  "=BigEndianExplicit": EXPLICIT_BE}
WRONG_AET = "NOT-THIS-PACS"
KNOWN_AET = "KNOWNSCU"  # the calling AE title the strict Orthanc lists in DicomModalities
LONG_AET = "STORETEST-LONGER1"  # 17 characters

# Scenario: options as the module names them (the engine's, with propose_ts).
SCENARIOS: dict[str, dict[str, t.Any]] = {
    "success": {},
    "wrong_called_aet": {"called_aet": WRONG_AET},
    "pts1": {"propose_ts": 1},
    "pts2": {"propose_ts": 2},
    "pts3": {"propose_ts": 3},
    "repeat5": {"repeat": 5},
    "abort": {"abort": True},
}
PEER_KINDS = ("storescp", "orthanc")
# (peer, scenario) also run as single-host module tasks (each module run costs 0.5-1 s).
SINGLE_HOST_CASES = (("storescp", "success"), ("orthanc", "success"), ("orthanc", "wrong_called_aet"))
# What both storescp 3.6.7 and Orthanc 1.10.1 accept for -pts n, found by running:
# they prefer explicit VR little endian whenever it is offered.
ACCEPTED_TS = {1: IMPLICIT, 2: EXPLICIT_LE, 3: EXPLICIT_LE}


def expected_exit(kind: str, scenario: str) -> int:
    if scenario == "wrong_called_aet" and kind == "orthanc":
        return 4
    return 0


# -- peers -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ns() -> t.Iterator[rp.NetNS]:
    try:
        namespace = rp.NetNS.create()
    except rp.NamespaceUnavailable as exc:
        pytest.skip(f"real peers need a private network namespace (they cannot bind loopback only): {exc}")
    yield namespace
    namespace.close()


@pytest.fixture(scope="module")
def started(ns: rp.NetNS, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, rp.Peer | str]]:
    """The peers, started once for the module; a missing binary is recorded, not fatal."""
    base = tmp_path_factory.mktemp("real-peers")
    peers: dict[str, rp.Peer | str] = {}
    starters = {
        "storescp": lambda: rp.start_storescp(ns, base / "storescp") if rp.STORESCP else "storescp (dcmtk)",
        "orthanc": lambda: rp.start_orthanc(ns, base / "orthanc") if rp.ORTHANC else "Orthanc (orthanc)",
        "orthanc_strict": lambda: rp.start_orthanc(
            ns, base / "orthanc-strict", ae_title="ORTHANCSTRICT", always_allow_echo=False,
            modalities={"known": [KNOWN_AET, rp.LOOPBACK, 104]}, http=False,
        ) if rp.ORTHANC else "Orthanc (orthanc)",
    }
    try:
        for name, start in starters.items():
            peers[name] = start()
        yield peers
    finally:
        running = [p for p in peers.values() if isinstance(p, rp.Peer)]
        for peer in running:  # Orthanc takes 1.5-3.5 s to stop: stop them all at once
            if peer.alive():
                peer.proc.terminate()
        for peer in running:
            peer.stop()


def _peer(started: dict[str, rp.Peer | str], name: str) -> rp.Peer:
    peer = started[name]
    if isinstance(peer, str):
        pytest.skip(f"{peer} is not installed (.ci/run installs it)")
    assert peer.alive(), f"{peer.label} died; its log:\n{peer.log_tail()}"
    return peer


@pytest.fixture(params=PEER_KINDS)
def peer(request: pytest.FixtureRequest, started: dict[str, rp.Peer | str]) -> rp.Peer:
    return _peer(started, request.param)


@pytest.fixture
def strict_orthanc(started: dict[str, rp.Peer | str]) -> rp.Peer:
    return _peer(started, "orthanc_strict")


def need_dcmtk_echoscu() -> None:
    if not rp.DCMTK_ECHOSCU:
        pytest.skip("DCMTK's echoscu (dcmtk) is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def implementation() -> tuple[str, str]:
    version = rp.dcmtk_version()
    if version is None:
        pytest.skip("dcmtk is not installed (.ci/run installs it)")
    return rp.dcmtk_implementation(version)


# -- the three faces -----------------------------------------------------------------------

def engine_fields(options: dict[str, t.Any]) -> dict[str, t.Any]:
    fields = {k: v for k, v in options.items() if k != "propose_ts"}
    if "propose_ts" in options:
        fields["transfer_syntaxes"] = ALL_TS[: options["propose_ts"]]
    return fields


def cli_args(options: dict[str, t.Any]) -> list[str]:
    """The echoscu options for ``options``: the same for bin/echoscu and DCMTK's echoscu."""
    args: list[str] = []
    for key, flag in (("calling_aet", "-aet"), ("called_aet", "-aec"), ("propose_ts", "-pts"), ("repeat", "--repeat")):
        if key in options:
            args += [flag, str(options[key])]
    if options.get("abort"):
        args.append("--abort")
    return args


def run_engine(ns: rp.NetNS, peer: rp.Peer, options: dict[str, t.Any]) -> dict[str, t.Any]:
    return ns.echo(**peer.request(**engine_fields(options), deadline=30.0))


def run_cli(ns: rp.NetNS, peer: rp.Peer, options: dict[str, t.Any]) -> tuple[int, dict[str, t.Any], str]:
    if not rp.OUR_ECHOSCU.exists():
        pytest.skip("bin/echoscu does not exist yet")
    args = cli_args({"called_aet": peer.ae_title, **options})
    out = ns.run([sys.executable, rp.OUR_ECHOSCU, "--json", "--deadline", "30", *args, peer.host, str(peer.port)],
                 timeout=60)
    assert "Traceback" not in out.stderr, out.stderr
    # A usage error stops before the engine: no JSON then.
    return out.returncode, json.loads(out.stdout) if out.stdout.strip() else {}, out.stderr


def run_dcmtk(ns: rp.NetNS, peer: rp.Peer, options: dict[str, t.Any], *extra: str) -> subprocess.CompletedProcess[str]:
    need_dcmtk_echoscu()
    return rp.dcmtk_echoscu(ns, peer, "-to", "10", "-td", "30", *extra, *cli_args(options))


# -- checks shared by the faces --------------------------------------------------------------

def check_result(d: dict[str, t.Any], peer: rp.Peer, scenario: str, implementation: tuple[str, str]) -> None:
    """What the result of ``scenario`` on ``peer`` must say, whatever the face."""
    options = SCENARIOS[scenario]
    code = expected_exit(peer.kind, scenario)
    assert d["exit_code"] == code, d["msg"]
    if code == 4:
        assert d["association"]["result"] == "rejected"
        assert (d["association"]["reject_result"], d["association"]["reject_source"],
                d["association"]["reject_reason"]) == (1, 1, 7)
        assert d["status"] is None and d["echoes"] == []
        assert "called AE title" in d["msg"] and WRONG_AET in d["msg"]
        # Reason 7 is the peer's word, not proof (dcmqrscp says it of an unknown calling AE title).
        assert WRONG_AET in d["hint"] and "may also" in d["hint"] and "calling AE title" in d["hint"]
        return
    assert d["ok"] is True and d["status"] == 0x0000, d["msg"]
    assert d["hint"] is None
    assert d["association"]["result"] == "accepted"
    # The PACS identity a user asserts after a deploy: exact, as the peer sends it.
    assert d["peer"]["implementation_class_uid"] == implementation[0]
    assert d["peer"]["implementation_version_name"] == implementation[1]
    assert d["peer"]["max_pdu"] == 16384
    # The AE title in the A-ASSOCIATE-AC echoes the called AE title we sent.
    assert d["peer"]["ae_title"] == options.get("called_aet", peer.ae_title)
    repeat = options.get("repeat", 1)
    assert [e["message_id"] for e in d["echoes"]] == list(range(1, repeat + 1))
    assert all(e["status"] == 0x0000 and e["rtt_ms"] >= 0 for e in d["echoes"])
    assert len(d["accepted_contexts"]) == 1 and d["rejected_contexts"] == []
    assert d["accepted_contexts"][0]["transfer_syntax"] == ACCEPTED_TS[options.get("propose_ts", 1)]
    if options.get("abort"):
        assert d["association"]["aborted_by"] == "us" and d["association"]["released"] is False
    else:
        assert d["association"]["released"] is True and d["association"]["aborted_by"] is None


# -- the engine -------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_engine(ns, peer, scenario, implementation):
    d = run_engine(ns, peer, SCENARIOS[scenario])
    check_result(d, peer, scenario, implementation)


# -- bin/echoscu ------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_cli(ns, peer, scenario, implementation):
    code, d, stderr = run_cli(ns, peer, SCENARIOS[scenario])
    assert code == expected_exit(peer.kind, scenario), stderr
    check_result(d, peer, scenario, implementation)
    if code:
        assert stderr.startswith("E: ") and len(stderr.strip().splitlines()) == 1, stderr


# -- DCMTK's echoscu on the same peer ----------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dcmtk_agrees(ns, peer, scenario, implementation):
    """DCMTK's verdict (exit 0 or not) is ours in every scenario here; so are the details it prints."""
    out = run_dcmtk(ns, peer, SCENARIOS[scenario], "-d")
    ours = expected_exit(peer.kind, scenario)
    assert (out.returncode == 0) == (ours == 0), out.stderr[-3000:]
    log = out.stdout + out.stderr
    if ours == 0:
        assert rp.dcmtk_their_implementation(log) == implementation
        lines = [line for line in log.splitlines() if "Accepted Transfer Syntax:" in line]
        accepted = [DCMTK_TS_NAMES[line.rsplit(":", 1)[1].strip()] for line in lines]
        assert accepted == [ACCEPTED_TS[SCENARIOS[scenario].get("propose_ts", 1)]]
        assert log.count("Received Echo Response (Success)") == SCENARIOS[scenario].get("repeat", 1)
    else:
        assert "Called AE Title Not Recognized" in log


def test_dcmtk_echoscu_exit_0_when_orthanc_aborts_the_echo(ns, strict_orthanc, implementation):
    """A real PACS that refuses the echo: DCMTK exits 0, we do not (REFERENCE.md, 'peer aborts').

    Orthanc with DicomAlwaysAllowEcho false answers only the calling AE titles in its
    DicomModalities: from any other it accepts the association, takes the C-ECHO-RQ and
    sends A-ABORT instead of a response. DCMTK's echoscu prints "E: Echo Failed" and
    exits 0, so a script or monitor using its exit status reports the PACS as up.
    """
    options = {"calling_aet": "ECHOSCU"}
    out = run_dcmtk(ns, strict_orthanc, options)
    assert out.returncode == 0, out.stderr  # DCMTK 3.6.7: wrong, no C-ECHO-RSP came back
    assert "Echo Failed" in out.stderr and "Peer aborted Association" in out.stderr

    d = run_engine(ns, strict_orthanc, options)
    assert d["exit_code"] == 7, d["msg"]
    assert d["association"]["result"] == "aborted" and d["association"]["aborted_by"] == "peer"
    assert d["association"]["phase"] == "echo"
    assert (d["association"]["abort_source"], d["association"]["abort_reason"]) == (0, 0)
    assert d["status"] is None and d["echoes"] == [{"message_id": 1, "status": None, "rtt_ms": None}]
    assert d["peer"]["implementation_class_uid"] == implementation[0]
    assert "calling AE title 'ECHOSCU'" in d["hint"] and "registered" in d["hint"]

    code, cli, stderr = run_cli(ns, strict_orthanc, options)
    assert code == 7 and cli["association"]["aborted_by"] == "peer", stderr

    # The calling AE title Orthanc knows gets its echo, from DCMTK and from us.
    known = {"calling_aet": KNOWN_AET}
    assert run_dcmtk(ns, strict_orthanc, known).returncode == 0
    assert run_engine(ns, strict_orthanc, known)["exit_code"] == 0


def test_dcmtk_echoscu_truncates_a_long_called_aet(ns, started):
    """DCMTK silently sends the first 16 characters of a 17-character AE title; we refuse it.

    storescp checks no called AE title, so DCMTK's echo 'succeeds' against a title the
    user did not type. Ours stops before connecting, naming the option (usage, exit 2).
    """
    peer = _peer(started, "storescp")
    options = {"called_aet": LONG_AET}
    out = run_dcmtk(ns, peer, options, "-d")
    assert out.returncode == 0, out.stderr  # DCMTK 3.6.7: wrong AE title on the wire, no word of it
    d = run_engine(ns, peer, options)
    assert d["exit_code"] == 2 and d["association"]["result"] is None, d["msg"]
    assert "called_aet" in d["msg"] and "16" in d["msg"]
    code, _cli, stderr = run_cli(ns, peer, options)
    assert code == 2 and "-aec" in stderr, stderr


# -- the module, from a playbook ----------------------------------------------------------------

RECORD_CALLBACK = '''
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Write each task's registered result, by register name, to $RECORD_RESULTS."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.kept = {}

    def _keep(self, result, *args, **kwargs):
        self.kept[result._task.register or result._task.get_name()] = result._result

    v2_runner_on_ok = v2_runner_on_failed = _keep

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["RECORD_RESULTS"], "w", encoding="utf-8") as fh:
            json.dump(self.kept, fh, default=str)
'''


def _ansible_playbook() -> str | None:
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else shutil.which("ansible-playbook")


@pytest.fixture(scope="module")
def playbook_results(ns, started, tmp_path_factory) -> dict[str, dict[str, t.Any]]:
    """One ansible-playbook run; the registered result of each case, by key.

    A module run costs 0.5-1 s (a Python process that imports pynetdicom), so the
    whole matrix (every scenario on every peer) is one task with ``targets``, each
    target named by its case and ``required`` where it must succeed; a few cases
    run as single-host tasks too, the usual way to call the module.
    """
    if not (ROOT / "plugins" / "modules" / "echo.py").exists():
        pytest.skip("the module plugins/modules/echo.py does not exist yet")
    playbook_cmd = _ansible_playbook()
    if playbook_cmd is None:
        pytest.skip("ansible-playbook is not installed")
    targets: list[dict[str, t.Any]] = []
    single: list[dict[str, t.Any]] = []
    for kind in PEER_KINDS:
        peer = started[kind]
        if not isinstance(peer, rp.Peer):
            continue
        for scenario, options in SCENARIOS.items():
            key = f"{kind}-{scenario}"
            args = {"host": peer.host, "port": peer.port, "called_aet": peer.ae_title, **options}
            targets.append({"name": key, "required": expected_exit(kind, scenario) == 0, **args})
            if (kind, scenario) in SINGLE_HOST_CASES:
                single.append({"key": key, "args": {**args, "deadline": 30.0}})
    strict = started["orthanc_strict"]
    if isinstance(strict, rp.Peer):
        single.append({"key": "orthanc_strict-unknown_calling_aet",
                       "args": {"host": strict.host, "port": strict.port, "called_aet": strict.ae_title}})
    if not targets and not single:
        pytest.skip("no real peer is installed")

    tmp = tmp_path_factory.mktemp("playbook")
    collections = tmp / "collections" / "ansible_collections" / "dicom"
    collections.mkdir(parents=True)
    (collections / "network").symlink_to(ROOT, target_is_directory=True)
    out_file = tmp / "results.json"
    # A callback records the tasks' results (a copy task to save them would cost another second).
    (tmp / "callbacks").mkdir()
    (tmp / "callbacks" / "record_results.py").write_text(RECORD_CALLBACK)
    tasks: list[dict[str, t.Any]] = [
        {
            "name": "echo {{ item.key }}",
            "dicom.network.echo": "{{ item.args }}",
            "loop": single,
            "loop_control": {"label": "{{ item.key }}"},
            "register": "singles",
            "ignore_errors": True,
        },
        {
            "name": "echo every scenario on every peer",
            "dicom.network.echo": {"targets": targets, "concurrency": 2, "deadline": 30.0},
            "register": "matrix",
            "ignore_errors": True,
        },
    ]
    play = [{"name": "dicom.network.echo against real peers", "hosts": "localhost", "gather_facts": False,
             "tasks": tasks}]
    # JSON is YAML: no YAML library needed to write the playbook.
    (tmp / "play.yml").write_text(json.dumps(play, indent=1))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(tmp / "collections"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_CALLBACK_PLUGINS": str(tmp / "callbacks"),
        "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "RECORD_RESULTS": str(out_file),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    # The module (tasks run with connection=local) must be in the namespace to reach the peers.
    done = ns.run([playbook_cmd, "-i", "localhost,", "-c", "local", str(tmp / "play.yml")],
                  timeout=240, env=env, cwd=tmp)
    assert done.returncode == 0 and out_file.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    data = json.loads(out_file.read_text())
    results = {item["item"]["key"]: item for item in data["singles"]["results"]}
    matrix = data["matrix"]
    assert not matrix.get("failed"), matrix.get("msg")
    results.update({"matrix:" + item["name"]: item for item in matrix["results"]})
    results["matrix"] = matrix
    return results


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_module(playbook_results, peer, scenario, implementation):
    """Every scenario, as one target of the module's ``targets``: the same verdict and details."""
    item = playbook_results[f"matrix:{peer.kind}-{scenario}"]
    assert item["required"] is (expected_exit(peer.kind, scenario) == 0)
    check_result(item, peer, scenario, implementation)


@pytest.mark.parametrize(("kind", "scenario"), SINGLE_HOST_CASES)
def test_module_single_host(playbook_results, started, kind, scenario, implementation):
    peer = _peer(started, kind)
    r = playbook_results[f"{kind}-{scenario}"]
    assert r["changed"] is False
    assert bool(r.get("failed")) == (expected_exit(peer.kind, scenario) != 0), r["msg"]
    check_result(r, peer, scenario, implementation)


def test_module_targets_summary(playbook_results, started):
    """The optional targets that must fail (Orthanc rejecting a wrong called AE title) did, alone."""
    matrix = playbook_results["matrix"]
    expected_failures = [f"{k}-{s}" for k in PEER_KINDS if isinstance(started[k], rp.Peer)
                         for s in SCENARIOS if expected_exit(k, s)]
    assert matrix["failed_targets"] == expected_failures
    assert matrix["failed_required_targets"] == []


def test_module_fails_when_orthanc_aborts_the_echo(playbook_results, strict_orthanc):
    r = playbook_results["orthanc_strict-unknown_calling_aet"]
    assert r["failed"] is True and r["exit_code"] == 7
    assert r["association"]["aborted_by"] == "peer" and r["status"] is None
    assert "aborted" in r["msg"]
    assert "calling AE title" in r["hint"]
