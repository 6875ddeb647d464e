# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets and retries (echo_many), with a fake engine: which failures are tried again, order, turns."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _pdu_channel, echo_many
from ansible_collections.dicom.network.plugins.module_utils._pdu_channel import waiting
from ansible_collections.dicom.network.plugins.module_utils._turns import TakingTurns, Turns
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest
from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult, Failure


class FakeEngine:
    """Stands in for run_echo: answers each call with the next outcome of a script."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, request, names=None):
        self.calls.append(request)
        failure = self.outcomes.pop(0) if self.outcomes else None
        result = EchoResult(name=request.label, host=request.host, port=request.port)
        if failure is None:
            result.ok = True
        else:
            result.fail(failure, f"{failure.value} failure")
        return result


@pytest.mark.parametrize(
    ("outcomes", "retries", "attempts", "ok"),
    [
        ([None], 0, 1, True),
        ([None], 5, 1, True),
        ([Failure.CONNECT], 0, 1, False),
        ([Failure.CONNECT, None], 1, 2, True),
        ([Failure.CONNECT, Failure.ASSOCIATION, None], 5, 3, True),
        ([Failure.CONNECT, Failure.CONNECT, Failure.CONNECT], 2, 3, False),
        ([Failure.REJECTED, None], 3, 1, False),
        ([Failure.NO_CONTEXT, None], 3, 1, False),
        ([Failure.ECHO, None], 3, 1, False),
        ([Failure.USAGE, None], 3, 1, False),
    ],
)
def test_run_with_retries(monkeypatch, outcomes, retries, attempts, ok):
    engine = FakeEngine(outcomes)
    monkeypatch.setattr(echo_many, "run_echo", engine)
    result = echo_many.run_with_retries(EchoRequest(host="127.0.0.1"), retries=retries, delay=0.0)
    assert result.attempts == attempts == len(engine.calls)
    assert result.ok is ok


@pytest.mark.parametrize("concurrency", [1, 3, 16, 1000])
def test_run_many_keeps_the_order(monkeypatch, concurrency):
    engine = FakeEngine([])
    monkeypatch.setattr(echo_many, "run_echo", engine)
    requests = [EchoRequest(host="127.0.0.1", port=1000 + i) for i in range(20)]
    results = echo_many.run_many(requests, concurrency=concurrency)
    assert [r.port for r in results] == [r.port for r in requests]


def test_run_many_of_nothing():
    assert echo_many.run_many([], concurrency=4) == []


def test_waiting_outside_a_pool_changes_nothing():
    with waiting(), waiting():
        pass


def test_taking_turns_one_thread_runs_at_a_time_and_waiting_gives_the_turn_away():
    turns = Turns()
    running, overlaps, order = [0], [], []

    def job(name: str) -> None:
        with TakingTurns(turns):
            for step in range(3):
                running[0] += 1
                overlaps.append(running[0])
                order.append((name, step))
                running[0] -= 1
                with waiting(), waiting():  # nested: the inner one leaves the turn alone
                    time.sleep(0.05)
            assert turns.held  # held again after every wait

    threads = [threading.Thread(target=job, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    turns.close()
    assert max(overlaps) == 1 and len(order) == 9
    # Each thread gave its turn away while it slept: the others ran in between (three blocks of
    # one thread each would mean a sleeping thread kept its turn).
    names = [name for name, _step in order]
    assert names not in ([n] * 3 + [m] * 3 + [o] * 3 for n in "abc" for m in "abc" for o in "abc")
    assert not turns.held


def _pairs(count):
    pairs = [socket.socketpair() for _index in range(count)]
    for ours, _theirs in pairs:
        ours.setblocking(False)
    return pairs


def test_turns_wait_for_wakes_each_thread_when_its_socket_is_ready_and_only_then():
    # Four threads wait on their sockets with the turn passed between them; the bytes arrive in
    # the reverse order, from outside the pool: each thread runs again when its own socket is
    # readable (the thread holding the turn polls for all of them), one at a time.
    turns = Turns()
    pairs = _pairs(4)
    woke, running, overlaps = [], [0], []

    def job(index):
        with TakingTurns(turns):
            sock = pairs[index][0]
            ready = turns.wait_for(sock.fileno(), 1, time.monotonic() + 10)  # 1: POLLIN
            running[0] += 1
            overlaps.append(running[0])
            woke.append((index, ready, sock.recv(8)))
            running[0] -= 1

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    assert not woke
    for index in (3, 2, 1, 0):
        pairs[index][1].send(b"%d" % index)
        deadline = time.monotonic() + 5
        while len(woke) < 4 - index and time.monotonic() < deadline:
            time.sleep(0.005)
    for thread in threads:
        thread.join(10)
    turns.close()
    assert woke == [(3, True, b"3"), (2, True, b"2"), (1, True, b"1"), (0, True, b"0")]
    assert max(overlaps) == 1 and not turns.held


def test_turns_wait_for_ends_at_its_time_while_the_others_go_on():
    # A wait whose socket never becomes ready ends (False) when its time is up, not before and
    # not much later, while another thread's waits keep being answered meanwhile.
    turns = Turns()
    (silent, _s), (busy, busy_peer) = _pairs(2)
    got = {}

    def quiet():
        with TakingTurns(turns):
            begin = time.monotonic()
            got["silent"] = (turns.wait_for(silent.fileno(), 1, begin + 0.3), time.monotonic() - begin)

    def chatty():
        with TakingTurns(turns):
            answered = 0
            for _round in range(20):
                busy_peer.send(b"x")
                answered += turns.wait_for(busy.fileno(), 1, time.monotonic() + 5)
                busy.recv(8)
            got["busy"] = (answered, "silent" in got)

    threads = [threading.Thread(target=quiet), threading.Thread(target=chatty)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    turns.close()
    ready, waited = got["silent"]
    assert ready is False and 0.29 <= waited < 2.0, waited
    assert got["busy"] == (20, False)  # all 20 answered before the silent wait ran out


def test_turns_a_thread_back_from_another_wait_gets_the_turn_from_the_poller():
    # One thread waits on a socket with no deadline (it polls for everyone, blocking); another
    # comes back from a wait outside the pool (waiting()) and must get the turn at once, not
    # when the first socket is ready: the poller is woken for it.
    turns = Turns()
    (sock, peer), = _pairs(1)
    events = []

    def poller():
        with TakingTurns(turns):
            turns.wait_for(sock.fileno(), 1, None)
            events.append("socket")

    def sleeper():
        with TakingTurns(turns):
            with waiting():
                time.sleep(0.1)
            events.append("back")

    threads = [threading.Thread(target=sleeper), threading.Thread(target=poller)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.005)
    assert events == ["back"]
    peer.send(b"x")
    for thread in threads:
        thread.join(10)
    turns.close()
    assert events == ["back", "socket"] and not turns.held


def test_run_many_takes_turns(monkeypatch):
    # The engine runs of a pool hold the turn; none runs at the same time as another.
    inside, overlaps = [0], []

    def engine(request, names=None):
        assert _pdu_channel._TURNS.get(threading.get_ident()) is not None
        inside[0] += 1
        overlaps.append(inside[0])
        inside[0] -= 1
        with waiting():
            time.sleep(0.001)
        result = EchoResult(name=request.label, host=request.host, port=request.port)
        result.ok = True
        return result

    monkeypatch.setattr(echo_many, "run_echo", engine)
    results = echo_many.run_many([EchoRequest(host="127.0.0.1", port=1000 + i) for i in range(40)], concurrency=8)
    assert all(r.ok for r in results) and max(overlaps) == 1
    assert not _pdu_channel._TURNS


def test_run_many_goes_on_with_the_threads_it_could_start(monkeypatch):
    # A process limit lets only two threads start (then none): the threads that started, or
    # else the caller, run every request; nothing is lost or run twice.
    engine = FakeEngine([])
    monkeypatch.setattr(echo_many, "run_echo", engine)
    real_start = threading.Thread.start

    def limited_start(allowed):
        started = []

        def start(self):
            if len(started) >= allowed:
                raise RuntimeError("can't start new thread")
            started.append(self)
            real_start(self)

        return start

    for allowed in (2, 0):
        engine.calls.clear()
        monkeypatch.setattr(threading.Thread, "start", limited_start(allowed))
        requests = [EchoRequest(host="127.0.0.1", port=2000 + i) for i in range(12)]
        results = echo_many.run_many(requests, concurrency=8)
        monkeypatch.setattr(threading.Thread, "start", real_start)
        assert [r.port for r in results] == [r.port for r in requests] and all(r.ok for r in results)
        assert sorted(c.port for c in engine.calls) == [r.port for r in requests]
        assert not _pdu_channel._TURNS
