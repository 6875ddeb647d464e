# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Many runs at once on one thread: the many-target path's event loop.

A run is a generator that yields its waits (``_pdu_channel``: fd, events, until). This loop
keeps up to ``width`` of them going: it polls the descriptors of all that wait in one
``poll()``, resumes each whose descriptor is ready (True) or whose time has run out (False),
and starts the next job as one ends. One thread and no locks: on 2 cores, 1,000 loopback
associations at width 16 took about a fifth of the CPU of the threads that ran them before
(taking turns at the GIL, each wait a thread switch); bench/README.md has the figures.

Loaded only by ``echo_many.run_many``: a single run is driven by ``_pdu_channel.drive``.
"""

from __future__ import annotations

import heapq
import itertools
import select
import time

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from ._pdu_channel import Steps


class _Waiting:
    """One run between its yield and its resumption."""

    __slots__ = ("fd", "index", "steps", "until")

    def __init__(self, index: int, steps: Steps) -> None:
        self.index = index
        self.steps = steps
        self.fd = -1
        self.until: float | None = None


def run_all(jobs: t.Iterable[tuple[int, Steps]], width: int) -> dict[int, t.Any]:
    """Run the ``(index, steps)`` of ``jobs`` at most ``width`` at once: index -> each one's value.

    A job that raises stops the loop; what it raised is raised here, and the other runs are
    closed (their ``finally`` closes their sockets).
    """
    values: dict[int, t.Any] = {}
    todo = iter(jobs)
    by_fd: dict[int, _Waiting] = {}  # the runs waiting on a descriptor
    # (until, tie, run) of every wait with an end, the runs that slept included; an entry is
    # stale once its run has been resumed: a resumed run's ``until`` is its next wait's, or
    # None once it has ended.
    ends: list[tuple[float, int, _Waiting]] = []
    tie = itertools.count()
    poller = select.poll()
    live: set[_Waiting] = set()

    def resume(run: _Waiting, ready: bool | None) -> None:
        """Resume ``run`` (None: start it) until it waits again or ends; start the next job then."""
        while True:
            try:
                fd, events, until = next(run.steps) if ready is None else run.steps.send(ready)
            except StopIteration as stop:
                values[run.index] = stop.value
                live.discard(run)
                job = next(todo, None)
                if job is None:
                    return
                run = _Waiting(*job)
                live.add(run)
                ready = None
                continue
            run.fd, run.until = fd, until
            if until is not None:
                heapq.heappush(ends, (until, next(tie), run))
            if fd >= 0:
                by_fd[fd] = run
                poller.register(fd, events)
            elif until is None:
                raise ValueError("a sleep without an end")
            return

    def wake(run: _Waiting, ready: bool) -> None:
        if run.fd >= 0:
            del by_fd[run.fd]
            poller.unregister(run.fd)
        run.fd, run.until = -1, None
        resume(run, ready)

    try:
        for job in itertools.islice(todo, max(1, width)):
            run = _Waiting(*job)
            live.add(run)
            resume(run, None)
        while live:
            while ends and ends[0][2].until != ends[0][0]:
                heapq.heappop(ends)  # stale: that run has been resumed since
            timeout = None if not ends else max(ends[0][0] - time.monotonic(), 0.0) * 1000.0
            # With nothing registered (every run sleeping: a retry's delay), poll() just sleeps.
            events = poller.poll(timeout)
            for fd, _event in events:
                run = by_fd.get(fd)
                if run is not None:
                    wake(run, True)
            now = time.monotonic()
            while ends and ends[0][0] <= now:
                until, _tie, run = heapq.heappop(ends)
                if run.until == until:
                    wake(run, False)
    finally:
        for run in live:
            run.steps.close()
    return values
