# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets in one call: the engine's runs, many at once on one thread.

Each run is one linear generator (``echo_engine.echo_steps``) that yields its waits; the
loop (``_loop.run_all``) keeps up to ``concurrency`` of them going and polls all their
sockets at once. A TLS run blocks where it waits (ssl), so it runs on a thread of its own,
which the loop waits for like for a socket. Results come back in the order of the requests,
whatever order the peers answered in.
"""

from __future__ import annotations

import time

from ._options import MAX_CONCURRENCY
from ._pdu_channel import HAS_POLL, drive, in_thread
from .echo_engine import echo_steps
from .echo_request import EchoRequest
from .echo_result import EchoResult, Failure

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from ._pdu_channel import Steps


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
    return drive(_with_retries(request, retries, delay, names))


def _with_retries(request: EchoRequest, retries: int, delay: float, names: t.Mapping[str, str] | None) -> Steps:
    """:func:`run_with_retries` as steps (the delay is a wait with no descriptor)."""
    result = yield from echo_steps(request, names)
    attempts = 1
    while not result.ok and attempts <= retries and _worth_retrying(result):
        yield (-1, 0, time.monotonic() + delay)
        result = yield from echo_steps(request, names)
        attempts += 1
    result.attempts = attempts
    return result


def _worth_retrying(result: EchoResult) -> bool:
    return result.failure in (Failure.CONNECT, Failure.ASSOCIATION)


def _on_a_thread(request: EchoRequest, retries: int, delay: float, names: t.Mapping[str, str] | None) -> Steps:
    """A TLS run: its ssl waits block, so it runs on a thread, bounded by its own timeouts."""
    return (yield from in_thread(lambda: run_with_retries(request, retries, delay, names), None))


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
    if workers == 1 or not HAS_POLL:  # the loop needs poll(), which Windows lacks: one at a time there
        return [run_with_retries(r, retries, delay, names) for r in requests]
    # Imported here: a single-target run (the module with `host`) needs no loop.
    from ._loop import run_all

    jobs = (
        (index, (_on_a_thread if request.tls else _with_retries)(request, retries, delay, names))
        for index, request in enumerate(requests)
    )
    values = run_all(jobs, workers)
    return [values[index] for index in range(len(requests))]
