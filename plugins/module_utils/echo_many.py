# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets in one call: the engine's runs spread over a bounded pool.

Each run is synchronous and owns one socket, so a plain thread pool is
enough: the threads sleep in ``recv`` while peers answer. Results come back
in the order of the requests, whatever order the peers answered in.
"""

from __future__ import annotations

import _thread
import time

from ._options import MAX_CONCURRENCY
from ._pdu_channel import TakingTurns, waiting
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
    # Imported here: a single-target run (the module with `host`) needs no thread pool.
    import concurrent.futures

    turn = _thread.allocate_lock()

    def run(request: EchoRequest) -> EchoResult:
        with TakingTurns(turn):
            return run_with_retries(request, retries, delay, names)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dicom-echo") as pool:
        return list(pool.map(run, requests))
