# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets and retries (echo_many), with a fake engine: which failures are tried again, and order."""

from __future__ import annotations

import pytest

from ansible_collections.dicom.network.plugins.module_utils import echo_many
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
