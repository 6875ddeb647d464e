# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets in one call: the engine's runs spread over a bounded pool.

Each run is synchronous and owns one socket: up to ``concurrency`` threads run them,
taking turns at running Python (``_turns.Turns``): a thread whose peer has not
answered yet hands the turn on, and the one holding it polls every waiting socket at
once when no thread can run. Results come back in the order of the requests, whatever
order the peers answered in.
"""

from __future__ import annotations

import time

from ._options import MAX_CONCURRENCY
from ._pdu_channel import waiting
from .echo_engine import run_echo
from .echo_request import EchoRequest
from .echo_result import EchoResult, Failure

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


def run_with_retries(
    request: EchoRequest,
    retries: int = 0,
    delay: float = 0.0,
    names: t.Mapping[str, str] | None = None,
) -> EchoResult:
    """Run ``request``; while it cannot connect or is aborted, try again up to ``retries`` times.

    Meant for nodes still starting after a deploy. A rejection, a missing
    context or a failed status is an answer, not a startup state: no retry.
    """
    result = run_echo(request, names)
    attempts = 1
    while not result.ok and attempts <= retries and _worth_retrying(result):
        with waiting():
            time.sleep(delay)
        result = run_echo(request, names)
        attempts += 1
    result.attempts = attempts
    return result


def _worth_retrying(result: EchoResult) -> bool:
    return result.failure in (Failure.CONNECT, Failure.ASSOCIATION)


def run_many(
    requests: t.Sequence[EchoRequest],
    concurrency: int = 16,
    retries: int = 0,
    delay: float = 0.0,
    names: t.Mapping[str, str] | None = None,
) -> list[EchoResult]:
    """Run every request, at most ``concurrency`` at once; results in request order."""
    if not requests:
        return []
    workers = max(1, min(int(concurrency), MAX_CONCURRENCY, len(requests)))
    if workers == 1:
        return [run_with_retries(r, retries, delay, names) for r in requests]
    # Imported here: a single-target run (the module with `host`) needs no threads.
    import threading

    from ._turns import TakingTurns, Turns

    # Plain threads over one shared iterator, not an executor's futures: the caller waiting on
    # each future would wake once per request and take the GIL from the thread whose turn it is.
    turns = Turns()
    results: list[EchoResult | None] = [None] * len(requests)
    todo = iter(enumerate(requests))  # advanced only by the thread holding the turn
    errors: list[BaseException] = []

    def work() -> None:
        with TakingTurns(turns):
            try:
                for index, request in todo:
                    results[index] = run_with_retries(request, retries, delay, names)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller, as pool.map would
                errors.append(exc)

    started: list[threading.Thread] = []
    for n in range(workers):
        thread = threading.Thread(target=work, name=f"dicom-echo-{n}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # "can't start new thread" (a process or memory limit)
            break  # the threads that started share all the work
        started.append(thread)
    if not started:
        work()  # not even one: the caller runs them, one at a time
    for thread in started:
        thread.join()
    turns.close()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]  # every slot is filled once no error was raised
