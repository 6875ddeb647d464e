"""Hostile peers: the engine and bin/echoscu are never hung, never lie, never trace back.

Every behaviour of ``hostile_peers`` is run through the engine (``run_echo``)
and through the script (a subprocess under a wrapper that measures its peak
RSS). Each run must end with the right failure class and association result,
a one-line reason naming the cause, no traceback, and within the configured
timeouts plus one second; where it matters, the peer's record shows what we
sent (an A-ABORT after a timeout or a protocol error, an A-RELEASE-RQ, a close).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import threading
import time
import typing as t

import hostile_peers as hp
import pytest
from conftest import ECHOSCU, wait_for

from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo
from ansible_collections.dicom.network.plugins.module_utils.echo_many import run_many
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest

# Short phase timeouts keep the suite fast: these are bound checks, not benchmarks.
TIMEOUT = 1.0
SLACK = 1.0
RSS_LIMIT_MIB = 150
FAST = TIMEOUT  # a run that needs no timeout still gets the smallest bound
EXIT = {"usage": 2, "connect": 3, "rejected": 4, "no_context": 5, "association": 6, "echo": 7}

# Runs bin/echoscu, then reports its exit status, output, wall time and peak RSS
# (RUSAGE_CHILDREN of this wrapper covers the script alone).
WRAPPER = r"""
import json, resource, subprocess, sys, time
begin = time.monotonic()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)
wall = time.monotonic() - begin
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "wall": wall, "rss_kib": rss}))
"""


# -- running the two faces ---------------------------------------------------------------


def engine(port: int, host: str = hp.LOOPBACK, **kw: t.Any) -> tuple[t.Any, float]:
    kw.setdefault("connect_timeout", TIMEOUT)
    kw.setdefault("acse_timeout", TIMEOUT)
    kw.setdefault("dimse_timeout", TIMEOUT)
    begin = time.monotonic()
    result = run_echo(EchoRequest(host=host, port=port, **kw))
    return result, time.monotonic() - begin


@dataclasses.dataclass
class CliRun:
    rc: int
    stdout: str
    stderr: str
    wall: float
    rss_mib: float

    @property
    def result(self) -> dict[str, t.Any]:
        return json.loads(self.stdout)

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


CLI_OPTIONS = {
    "connect_timeout": "-to", "acse_timeout": "-ta", "dimse_timeout": "-td", "deadline": "--deadline",
    "repeat": "--repeat", "max_pdu": "-pdu",
}


def cli(port: int, host: str = hp.LOOPBACK, *extra: str, **kw: t.Any) -> CliRun:
    kw.setdefault("connect_timeout", TIMEOUT)
    kw.setdefault("acse_timeout", TIMEOUT)
    kw.setdefault("dimse_timeout", TIMEOUT)
    args = [host, str(port), "--json", *extra]
    for field, value in kw.items():
        args += [CLI_OPTIONS[field], f"{value:g}" if isinstance(value, float) else str(value)]
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, sys.executable, str(ECHOSCU), *args],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    return CliRun(got["rc"], got["stdout"], got["stderr"], got["wall"], got["rss_kib"] / 1024)


needs_cli = pytest.mark.skipif(not ECHOSCU.exists(), reason="bin/echoscu is not there yet")


@pytest.fixture(scope="session")
def cli_startup() -> float:
    """What a run of bin/echoscu costs that waits for nothing (a refused port): Python and pynetdicom start-up.

    Wall-clock bounds on the script add this to the timeouts; the engine's own
    clock (``timing.total_ms``) is held to the timeouts strictly.
    """
    with socket.socket() as sock:
        sock.bind((hp.LOOPBACK, 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        walls = [cli(port).wall for _run in range(2)]
    return min(walls)


# -- what every verdict must satisfy ---------------------------------------------------------


def check_msg(msg: str, words: t.Sequence[str]) -> None:
    assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
    assert "Traceback" not in msg and "internal error" not in msg, msg
    for word in words:
        assert word.lower() in msg.lower(), f"{word!r} not in {msg!r}"


def check_hint(d: dict[str, t.Any]) -> None:
    """Every failure carries a hint (issue #7): one sentence, one line, never "internal error" advice."""
    hint = d["hint"]
    assert isinstance(hint, str) and hint.endswith(".") and "\n" not in hint, hint
    assert "bug in dicom.network" not in hint, (d["msg"], hint)


def check_engine(result: t.Any, elapsed: float, bound: float, exit_code: int, assoc: str | None,
                 words: t.Sequence[str]) -> dict[str, t.Any]:
    d = result.as_dict()
    assert not result.ok
    assert result.exit_code == exit_code, d["msg"]
    assert d["association"]["result"] == assoc, d["msg"]
    check_msg(d["msg"], words)
    check_hint(d)
    assert elapsed <= bound + SLACK, f"took {elapsed:.2f} s, bound {bound} s + {SLACK} s: {d['msg']}"
    return d


def check_cli(run: CliRun, bound: float, exit_code: int, assoc: str | None, words: t.Sequence[str],
              startup: float) -> dict[str, t.Any]:
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr
    assert run.rc == exit_code, (run.rc, run.stderr)
    d = run.result
    assert d["exit_code"] == exit_code and d["association"]["result"] == assoc, d["msg"]
    check_msg(d["msg"], words)
    check_hint(d)
    assert run.lines and all(line.startswith("E: ") for line in run.lines), run.stderr
    if exit_code == EXIT["connect"]:
        # The specification's three lines; the last names the cause.
        assert run.lines[-1].startswith("E: TCP Initialisation Error: "), run.stderr
    else:
        assert run.lines == ["E: " + d["msg"]], run.stderr
    # The engine's own clock, strictly; the process's wall clock, plus what starting Python costs here.
    assert d["timing"]["total_ms"] <= (bound + SLACK) * 1000, d["timing"]
    limit = bound + SLACK + startup
    assert run.wall <= limit, f"took {run.wall:.2f} s, bound {bound} s + {SLACK} s + startup {startup:.2f} s"
    assert run.rss_mib < RSS_LIMIT_MIB, f"peak RSS {run.rss_mib:.0f} MiB"
    return d


@pytest.fixture
def peer() -> t.Iterator[t.Callable[..., hp.HostilePeer]]:
    """Factory of hostile peers, all stopped (bounded) at teardown."""
    peers: list[hp.HostilePeer] = []

    def start(behaviour: hp.Behaviour, **kw: t.Any) -> hp.HostilePeer:
        peers.append(hp.HostilePeer(behaviour, **kw))
        return peers[-1]

    yield start
    for one in peers:
        one.stop()


# -- the behaviours ----------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    id: str
    behaviour: t.Callable[[], hp.Behaviour]
    exit: int
    assoc: str
    words: tuple[str, ...]
    # How long the run may legitimately wait (the timeouts of the phases that stall).
    bound: float = FAST
    # What the peer must have received from us: an A-ABORT (True), none (False), or no check (None).
    peer_abort: bool | None = None
    request: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    check: t.Callable[[dict[str, t.Any], hp.Seen], None] | None = None
    # Also through bin/echoscu (variants of a behaviour already run there are engine-only).
    cli: bool = True


def _no_echo_status(d: dict[str, t.Any], seen: hp.Seen) -> None:
    assert d["status"] is None and [e["status"] for e in d["echoes"]] == [None]


def _third_unanswered(d: dict[str, t.Any], seen: hp.Seen) -> None:
    # The verdict is the last echo's: the two answered ones stay on record, nothing is sent after the third.
    assert [(e["message_id"], e["status"]) for e in d["echoes"]] == [(1, 0), (2, 0), (3, None)]
    assert d["status"] is None and seen.echo_message_ids == [1, 2, 3]


def _trickled(d: dict[str, t.Any], seen: hp.Seen) -> None:
    # The trickle kept coming (about five bytes a second) and did not extend the timeout.
    assert seen.sent_bytes >= 3


def _failed_statuses(status: int) -> t.Callable[[dict[str, t.Any], hp.Seen], None]:
    def check(d: dict[str, t.Any], seen: hp.Seen) -> None:
        assert d["status"] == status and [e["status"] for e in d["echoes"]] == [status, status]
        assert seen.echo_message_ids == [1, 2]
        # A failed status is an answer: the association is still released properly.
        assert seen.release_received and d["association"]["released"] is True

    return check


def _no_release(d: dict[str, t.Any], seen: hp.Seen) -> None:
    # Both facts: the echoes succeeded, the release did not.
    assert [e["status"] for e in d["echoes"]] == [0, 0] and d["status"] == 0
    assert d["association"]["released"] is False and d["association"]["phase"] == "release"
    assert seen.echo_message_ids == [1, 2] and seen.release_received


def _wrong_id(d: dict[str, t.Any], seen: hp.Seen) -> None:
    # A response to another message is not this echo's answer: no status is claimed for it.
    assert d["status"] is None and d["echoes"][0]["status"] is None
    assert seen.echo_message_ids == [1]


def _peer_abort_reason(source: int, reason: int) -> t.Callable[[dict[str, t.Any], hp.Seen], None]:
    def check(d: dict[str, t.Any], seen: hp.Seen) -> None:
        assoc = d["association"]
        assert (assoc["aborted_by"], assoc["abort_source"], assoc["abort_reason"]) == ("peer", source, reason)

    return check


CASES = [
    # (1) accepted, then nothing: the ACSE timeout ends it, and we abort.
    Case("silent", lambda: hp.silent, EXIT["association"], "timeout", ("A-ASSOCIATE-AC", "ACSE timeout"),
         bound=TIMEOUT, peer_abort=True),
    # (2) not DICOM at all
    Case("http", lambda: hp.answer_with(hp.HTTP_RESPONSE), EXIT["association"], "protocol_error",
         ("protocol error", "not DICOM", "HTTP/1.1 400"), peer_abort=True),
    Case("banner", lambda: hp.answer_with(hp.TEXT_BANNER), EXIT["association"], "protocol_error",
         ("not DICOM", "220 mail"), peer_abort=True),
    Case("random", lambda: hp.answer_with(hp.random_bytes(1)), EXIT["association"], "protocol_error",
         ("not DICOM",), peer_abort=True),
    # Random bytes that start like an A-ASSOCIATE-AC or an A-ABORT are still named.
    Case("random-as-ac", lambda: hp.answer_with(hp.random_bytes(2, first=0x02)), EXIT["association"],
         "protocol_error", ("A-ASSOCIATE-AC PDU of", "more than the 1048576 accepted"), peer_abort=True, cli=False),
    Case("random-as-abort", lambda: hp.answer_with(hp.random_bytes(3, first=0x07)), EXIT["association"],
         "protocol_error", ("A-ABORT PDU of", "PS3.8 fixes 4", "not DICOM"), peer_abort=True, cli=False),
    # (3) an absurd length is refused before any of its body is awaited
    Case("huge-length", hp.huge_header, EXIT["association"], "protocol_error",
         ("declared an A-ASSOCIATE-AC PDU of 4294967280 bytes",), peer_abort=True),
    Case("huge-length-pdata", lambda: hp.huge_header(0x04, after_accept=True), EXIT["echo"], "protocol_error",
         ("during the C-ECHO", "P-DATA-TF PDU of 4294967280 bytes", "16384"), peer_abort=True, cli=False),
    Case("trickle-acse", hp.trickle, EXIT["association"], "timeout", ("ACSE timeout",),
         bound=TIMEOUT, peer_abort=True, check=_trickled),
    Case("trickle-dimse", lambda: hp.trickle(after_accept=True), EXIT["echo"], "timeout", ("DIMSE timeout",),
         bound=TIMEOUT, peer_abort=True, check=_trickled, cli=False),
    # (4) accepted, then the C-ECHO is never answered
    Case("dimse-timeout", lambda: hp.accept_then_silent, EXIT["echo"], "timeout",
         ("C-ECHO-RSP to message 1", "DIMSE timeout"), bound=TIMEOUT, peer_abort=True, check=_no_echo_status),
    # (4) REFERENCE.md: several echoes on one association, and one response never comes
    Case("silent-on-third-echo", lambda: hp.serve(answer=2), EXIT["echo"], "timeout",
         ("C-ECHO-RSP to message 3", "DIMSE timeout"), bound=TIMEOUT, peer_abort=True,
         request={"repeat": 5}, check=_third_unanswered),
    # (5) A-ABORT
    Case("abort-on-rq-user", lambda: hp.abort_on_rq(0, 0), EXIT["association"], "aborted",
         ("aborted", "A-ASSOCIATE-AC", "service-user", "[source 0, reason 0]"), peer_abort=False,
         check=_peer_abort_reason(0, 0)),
    Case("abort-on-rq-provider", lambda: hp.abort_on_rq(2, 2), EXIT["association"], "aborted",
         ("aborted", "service-provider", "Unexpected PDU", "[source 2, reason 2]"), peer_abort=False,
         check=_peer_abort_reason(2, 2)),
    Case("abort-on-rq-reason6", lambda: hp.abort_on_rq(2, 6), EXIT["association"], "aborted",
         ("aborted", "Invalid PDU parameter value", "[source 2, reason 6]"), peer_abort=False,
         check=_peer_abort_reason(2, 6), cli=False),
    Case("abort-after-echo-rq", hp.abort_after_echo_rq, EXIT["echo"], "aborted",
         ("aborted", "C-ECHO-RSP to message 1", "[source 0, reason 0]"), peer_abort=False,
         check=_no_echo_status),
    # (6) the connection goes away after the A-ASSOCIATE-AC
    Case("fin-after-ac", lambda: hp.close_after_accept("fin"), EXIT["echo"], "aborted",
         ("the peer closed the connection", "C-ECHO-RSP"), peer_abort=False, check=_no_echo_status),
    Case("rst-after-ac", lambda: hp.close_after_accept("rst"), EXIT["echo"], "aborted",
         ("the peer reset the connection",), check=_no_echo_status),
    Case("rst-on-echo-rq", lambda: hp.close_after_accept("rst", wait_for_echo=True), EXIT["echo"], "aborted",
         ("the peer reset the connection", "C-ECHO-RSP to message 1"), check=_no_echo_status, cli=False),
    # (7) answers that are not Success, or not an answer to our message
    Case("status-0122", lambda: hp.serve(0x0122), EXIT["echo"], "accepted",
         ("C-ECHO 1 failed", "0x0122", "SOP Class Not Supported"), peer_abort=False,
         request={"repeat": 2}, check=_failed_statuses(0x0122)),
    Case("status-c000", lambda: hp.serve(0xC000), EXIT["echo"], "accepted", ("C-ECHO 1 failed", "0xC000"),
         peer_abort=False, request={"repeat": 2}, check=_failed_statuses(0xC000)),
    Case("wrong-message-id", lambda: hp.serve(wrong_id=True), EXIT["echo"], "protocol_error",
         ("protocol error", "answers message ID 2, not 1"), peer_abort=True, check=_wrong_id),
    # (10) echoes answered, A-RELEASE-RQ never answered
    Case("no-release-rp", lambda: hp.serve(answer_release=False), EXIT["association"], "timeout",
         ("2 C-ECHO(s) returned Success, but", "A-RELEASE-RP", "ACSE timeout"), bound=TIMEOUT, peer_abort=True,
         request={"repeat": 2}, check=_no_release),
    # (12) a C-ECHO-RSP that never ends: refused long before memory grows
    Case("endless-fragments", lambda: hp.endless_fragments, EXIT["echo"], "protocol_error",
         ("C-ECHO-RSP grew past",), peer_abort=True, check=_no_echo_status, cli=False),
]


def _check_peer(case: Case, d: dict[str, t.Any], one: hp.HostilePeer) -> None:
    # The client has closed by the time run_echo returns; the peer reads that close (bounded).
    assert one.wait_finished(3.0), "the client did not close the connection"
    seen = one.seen
    assert not seen.errors, seen.errors
    assert seen.connections == 1 and seen.pdu_types[:1] == [0x01]
    assert seen.client_closed or seen.client_reset or case.id.startswith("rst")
    if case.peer_abort is True:
        assert seen.abort_received and seen.pdu_types[-1] == 0x07, seen.pdu_types
        assert d["association"]["aborted_by"] == "us"
    elif case.peer_abort is False:
        assert not seen.abort_received, seen.pdu_types
    if case.check:
        case.check(d, seen)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_engine_against_hostile_peer(case: Case, peer, capfd) -> None:
    one = peer(case.behaviour())
    result, elapsed = engine(one.port, **case.request)
    d = check_engine(result, elapsed, case.bound, case.exit, case.assoc, case.words)
    _check_peer(case, d, one)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_every_hostile_peer_at_once_through_the_many_target_loop(peer, capfd) -> None:
    # The many-target path (run_many: every run on one thread, their waits polled together)
    # owes each peer the same verdict, reason and goodbye as a run of its own, within the
    # same bounds: a stalled peer holds up only its own run.
    peers = [peer(case.behaviour()) for case in CASES]
    requests = []
    for case, one in zip(CASES, peers, strict=True):
        fields = {"connect_timeout": TIMEOUT, "acse_timeout": TIMEOUT, "dimse_timeout": TIMEOUT, **case.request}
        requests.append(EchoRequest(host=hp.LOOPBACK, port=one.port, name=case.id, **fields))
    bound = max(case.bound for case in CASES) + SLACK + 1.0
    done: list[list[t.Any]] = []
    worker = threading.Thread(target=lambda: done.append(run_many(requests, concurrency=len(requests))), daemon=True)
    begin = time.monotonic()
    worker.start()
    worker.join(bound + 10)  # a broken loop fails here, bounded, instead of hanging the suite
    elapsed = time.monotonic() - begin
    assert done and elapsed <= bound, f"took {elapsed:.2f} s, bound {bound} s"
    [results] = done
    assert [r.name for r in results] == [case.id for case in CASES]
    for case, one, result in zip(CASES, peers, results, strict=True):
        d = check_engine(result, result.timing["total_ms"] / 1000, case.bound, case.exit, case.assoc, case.words)
        _check_peer(case, d, one)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


CLI_CASES = [c for c in CASES if c.cli]


@needs_cli
@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_against_hostile_peer(case: Case, peer, cli_startup) -> None:
    one = peer(case.behaviour())
    run = cli(one.port, **case.request)
    d = check_cli(run, case.bound, case.exit, case.assoc, case.words, cli_startup)
    _check_peer(case, d, one)


@needs_cli
def test_cli_endless_fragments_memory_stays_bounded(peer, cli_startup) -> None:
    """Without a cap, a peer streaming never-ending fragments grew memory by ~150 MiB a second."""
    one = peer(hp.endless_fragments)
    run = cli(one.port, dimse_timeout=30.0)
    check_cli(run, FAST, EXIT["echo"], "protocol_error", ("C-ECHO-RSP grew past",), cli_startup)
    assert run.rss_mib < 100
    assert one.wait_finished(3.0) and one.seen.abort_received


# -- (8) A-ASSOCIATE-RJ, every defined combination and some reserved ones ----------------------

RJ_SOURCES = {1: "DUL service-user", 2: "DUL service-provider (ACSE related)",
              3: "DUL service-provider (presentation related)"}
RJ_REASONS = {
    (1, 1): "No reason given", (1, 2): "Application context name not supported",
    (1, 3): "Calling AE title not recognised", (1, 7): "Called AE title not recognised",
    (2, 1): "No reason given", (2, 2): "Protocol version not supported",
    (3, 1): "Temporary congestion", (3, 2): "Local limit exceeded",
}
DEFINED_RJ = [(result, source, reason) for result in (1, 2) for (source, reason) in RJ_REASONS]
RESERVED_RJ = [(1, 1, 4), (2, 1, 8), (1, 2, 3), (2, 3, 5), (1, 3, 0), (3, 1, 1), (0, 1, 1), (1, 0, 1), (1, 4, 9)]


def _rj_words(result: int, source: int, reason: int) -> tuple[str, ...]:
    words = ["association rejected", f"[result {result}, source {source}, reason {reason}]"]
    if (source, reason) in RJ_REASONS:
        words += [RJ_REASONS[(source, reason)], RJ_SOURCES[source]]
        words.append({1: "permanently", 2: "transiently"}.get(result, f"(result {result})"))
    else:
        words.append("reserved")
    return tuple(words)


def _check_rj(d: dict[str, t.Any], one: hp.HostilePeer, codes: tuple[int, int, int]) -> None:
    assoc = d["association"]
    assert (assoc["reject_result"], assoc["reject_source"], assoc["reject_reason"]) == codes
    assert all(assoc[k] for k in ("reject_result_text", "reject_source_text", "reject_reason_text"))
    assert d["echoes"] == [] and d["status"] is None
    # A rejection ends the association: we just close, no A-ABORT, no A-RELEASE-RQ.
    assert one.wait_finished(3.0)
    assert one.seen.pdu_types == [0x01] and one.seen.client_closed


@pytest.mark.parametrize("codes", DEFINED_RJ + RESERVED_RJ, ids=lambda c: "rj-{}-{}-{}".format(*c))
def test_engine_rejection(codes: tuple[int, int, int], peer) -> None:
    one = peer(hp.reject(*codes))
    result, elapsed = engine(one.port, called_aet="SOMEPACS", calling_aet="ME")
    d = check_engine(result, elapsed, FAST, EXIT["rejected"], "rejected", _rj_words(*codes))
    _check_rj(d, one, codes)
    if codes[1:] == (1, 7):
        assert "'SOMEPACS'" in d["msg"]  # the hint names the called AE title we used
    if codes[1:] == (1, 3):
        assert "'ME'" in d["msg"]


# Through the script: one of each source and the reserved codes (the engine covers every combination).
CLI_RJ = [(1, 1, 7), (2, 2, 2), (2, 3, 1), (1, 1, 4), (2, 3, 5)]


@needs_cli
@pytest.mark.parametrize("codes", CLI_RJ, ids=lambda c: "rj-{}-{}-{}".format(*c))
def test_cli_rejection(codes: tuple[int, int, int], peer, cli_startup) -> None:
    one = peer(hp.reject(*codes))
    d = check_cli(cli(one.port), FAST, EXIT["rejected"], "rejected", _rj_words(*codes), cli_startup)
    _check_rj(d, one, codes)


# -- (9) a connect that never completes; (11) names and addresses ------------------------------


@pytest.fixture
def full_backlog() -> t.Iterator[hp.FullBacklog]:
    with hp.FullBacklog() as backlog:
        if not backlog.full:
            pytest.skip("this kernel accepted every SYN: cannot make a connect hang")
        yield backlog


def test_engine_connect_never_completes(full_backlog) -> None:
    result, elapsed = engine(full_backlog.port)
    check_engine(result, elapsed, TIMEOUT, EXIT["connect"], "timeout", ("no TCP connection", "connect timeout"))
    assert elapsed >= TIMEOUT - 0.05  # it was the connect timeout that ended it
    assert result.timing["connect_ms"] is None


@needs_cli
def test_cli_connect_never_completes(full_backlog, cli_startup) -> None:
    run = cli(full_backlog.port)
    check_cli(run, TIMEOUT, EXIT["connect"], "timeout", ("connect timeout",), cli_startup)
    assert "connect timeout" in run.lines[-1]


UNRESOLVABLE = "no-such-pacs.invalid"


def test_engine_unresolvable_host() -> None:
    result, elapsed = engine(104, host=UNRESOLVABLE)
    # Resolution is bounded by the connect timeout: an answer or a timeout, both exit 3.
    d = check_engine(result, elapsed, TIMEOUT, EXIT["connect"], result.association["result"], (UNRESOLVABLE,))
    assert d["association"]["result"] in ("unreachable", "timeout")
    if d["association"]["result"] == "unreachable":
        assert "cannot resolve host name" in d["msg"]


@needs_cli
def test_cli_unresolvable_host(cli_startup) -> None:
    run = cli(104, UNRESOLVABLE)
    d = check_cli(run, TIMEOUT, EXIT["connect"], run.result["association"]["result"], (UNRESOLVABLE,), cli_startup)
    assert d["association"]["result"] in ("unreachable", "timeout")
    assert UNRESOLVABLE in run.lines[-1]


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_engine_ipv6_literal(start_scp, host: str) -> None:
    scp = start_scp(host="::1")
    result, elapsed = engine(scp.port, host=host, called_aet=scp.ae_title)
    assert result.ok, result.msg
    assert result.peer["address"] == "::1" and result.peer["host"] == "::1"
    assert elapsed <= FAST + SLACK
    assert scp.seen.echo_message_ids == [1]
    assert wait_for(lambda: scp.seen.released == 1)


@needs_cli
def test_cli_ipv6_literal(start_scp) -> None:
    scp = start_scp(host="::1")
    run = cli(scp.port, "::1", "-aec", scp.ae_title)
    assert run.rc == 0 and run.stderr == "", run.stderr
    assert run.result["ok"] and run.result["peer"]["address"] == "::1"
    assert run.rss_mib < RSS_LIMIT_MIB
    assert scp.seen.echo_message_ids == [1]


# -- the overall deadline: long phase timeouts, a short deadline --------------------------------

DEADLINE = 1.5
LONG = 30.0
STALLS = {
    "silent": (hp.silent, EXIT["association"]),
    "trickle-acse": (hp.trickle(), EXIT["association"]),
    "trickle-dimse": (hp.trickle(after_accept=True), EXIT["echo"]),
    "dimse-timeout": (hp.accept_then_silent, EXIT["echo"]),
    "no-release-rp": (hp.serve(answer_release=False), EXIT["association"]),
}
DEADLINE_REQUEST = {"connect_timeout": LONG, "acse_timeout": LONG, "dimse_timeout": LONG, "deadline": DEADLINE}


def test_engine_deadline_bounds_every_stall(peer, full_backlog) -> None:
    """All stalling peers at once (the runs are independent), each ended by the deadline."""
    peers = {name: peer(behaviour) for name, (behaviour, _exit) in STALLS.items()}
    ports = {name: one.port for name, one in peers.items()} | {"backlog": full_backlog.port}
    outcomes: dict[str, tuple[t.Any, float]] = {}

    def run(name: str) -> None:
        outcomes[name] = engine(ports[name], **DEADLINE_REQUEST)

    threads = [threading.Thread(target=run, args=(name,)) for name in ports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE + 5)
    assert set(outcomes) == set(ports)
    for name, (result, elapsed) in outcomes.items():
        exit_code = STALLS[name][1] if name in STALLS else EXIT["connect"]
        check_engine(result, elapsed, DEADLINE, exit_code, "timeout", ("overall deadline of 1.5 s",))
        assert elapsed >= DEADLINE - 0.05, name
    for name, one in peers.items():
        assert one.wait_finished(3.0), name
        # Even though the deadline had passed, the peer was told: an A-ABORT, then the close.
        assert one.seen.abort_received and one.seen.pdu_types[-1] == 0x07, (name, one.seen.pdu_types)


# Through the script: one stall per phase (the engine test above runs them all).
CLI_STALLS = ["silent", "dimse-timeout", "no-release-rp", "backlog"]


@needs_cli
@pytest.mark.parametrize("name", CLI_STALLS)
def test_cli_deadline_bounds_every_stall(name: str, peer, request, cli_startup) -> None:
    if name == "backlog":
        port = request.getfixturevalue("full_backlog").port
        exit_code = EXIT["connect"]
    else:
        one = peer(STALLS[name][0])
        port, exit_code = one.port, STALLS[name][1]
    run = cli(port, **DEADLINE_REQUEST)
    check_cli(run, DEADLINE, exit_code, "timeout", ("overall deadline of 1.5 s",), cli_startup)
    if name != "backlog":
        assert one.wait_finished(3.0) and one.seen.abort_received


# -- peers that send garbage shaped like the real thing ------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the invalid UIDs it is fed
def test_engine_mutated_pdus_never_trace_back(peer) -> None:
    """Seeded mutations of a valid A-ASSOCIATE-AC and C-ECHO-RSP: a verdict every time, never a crash."""
    seconds = 0.3
    for seed in range(40):
        behaviour = hp.mutated_ac(seed) if seed % 2 else hp.mutated_echo_rsp(seed)
        one = peer(behaviour, lifetime=5.0)
        result, elapsed = engine(one.port, acse_timeout=seconds, dimse_timeout=seconds)
        check_msg(result.msg, ())
        assert result.exit_code in (0, 5, 6, 7), result.msg
        assert elapsed <= 2 * seconds + SLACK, result.msg
        one.stop()


# -- REFERENCE.md: many echoes on one association -------------------------------------------------


def test_200_echoes_in_one_association(start_scp) -> None:
    scp = start_scp()
    result = run_echo(scp.request(repeat=200, dimse_timeout=5.0, deadline=30.0))
    d = result.as_dict()
    assert result.ok and result.exit_code == 0, d["msg"]
    assert [e["message_id"] for e in d["echoes"]] == list(range(1, 201))
    assert all(e["status"] == 0 for e in d["echoes"])
    assert scp.seen.echo_message_ids == list(range(1, 201))
    assert d["association"]["released"] is True
    assert wait_for(lambda: scp.seen.released == 1)


@needs_cli
def test_cli_stderr_stays_one_line_on_a_malformed_uid(peer, cli_startup) -> None:
    one = peer(hp.mutated_ac(11))  # seed 11 damages a UID inside the A-ASSOCIATE-AC
    run = cli(one.port)
    assert run.rc == EXIT["association"] and run.result["association"]["result"] == "protocol_error"
    assert run.lines == ["E: " + run.result["msg"]], run.stderr
