# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets and retries (echo_many), with a fake engine: which failures are tried again, order, turns."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _pdu_channel, echo_many
from ansible_collections.dicom.network.plugins.module_utils._pdu_channel import TakingTurns, waiting
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
    turn = threading.Lock()
    running, overlaps, order = [0], [], []

    def job(name: str) -> None:
        with TakingTurns(turn):
            for step in range(3):
                running[0] += 1
                overlaps.append(running[0])
                order.append((name, step))
                running[0] -= 1
                with waiting(), waiting():  # nested: the inner one leaves the turn alone
                    time.sleep(0.05)
            assert turn.locked()  # held again after every wait

    threads = [threading.Thread(target=job, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert max(overlaps) == 1 and len(order) == 9
    # Each thread gave its turn away while it slept: the others ran in between (three blocks of
    # one thread each would mean a sleeping thread kept its turn).
    names = [name for name, _step in order]
    assert names not in ([n] * 3 + [m] * 3 + [o] * 3 for n in "abc" for m in "abc" for o in "abc")
    assert not turn.locked()


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
