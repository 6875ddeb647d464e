# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Threads that take turns at running Python: the many-target path's scheduler.

``echo_many.run_many`` runs up to ``concurrency`` associations at once, each on a thread of
its own, written as one synchronous run (open, associate, echo, leave). Threads that all run
at once fight over the GIL at every system call (each send, recv and poll releases it and
another runnable thread takes it): on 2 cores, 1,000 loopback associations at concurrency 16
cost over twice the CPU of one at a time. So one thread runs at a time, holding the pool's
turn, and gives it away only while it waits:

- a wait on its socket (``Turns.wait_for``, from ``_pdu_channel``) hands the turn straight to
  a thread that can run; when none can, the thread holding the turn polls every waiting
  socket of the pool at once, as an event loop would, and the first whose socket is ready
  runs next (the poller itself, most often on loopback: then no thread switch at all). No
  thread wakes up unless it is given the turn;
- any other wait (resolve, TLS, retry sleep) is wrapped in ``_pdu_channel.waiting()``: the
  turn is given on (``give``) and taken again after (``take``), waking the poller if need be.

Measured with ``run_many`` over 1,000 fleet ports (bench/README.md): at concurrency 16, about
the CPU of one at a time. Loaded only by ``run_many``: a single run never needs it.
"""

from __future__ import annotations

import _thread
import os
import select
import time

from ._pdu_channel import _TURNS


class _Sleeper:
    """A thread blocked until it is given the turn: on ``lock``, which is held until then."""

    __slots__ = ("fd", "fired", "lock", "ready", "until")

    def __init__(self, fd: int = -1, until: float | None = None) -> None:
        self.fd = fd
        self.until = until
        self.fired = False  # its wait is over: ``ready`` (the socket) or the time ran out
        self.ready = False
        self.lock = _thread.allocate_lock()
        self.lock.acquire()


class Turns:
    """The turn of one pool's threads: one of them runs Python at a time (see above).

    ``take()`` blocks until the calling thread holds the turn, ``give()`` passes it on, and
    ``wait_for()`` is a socket wait of the thread that holds it. The sockets and the poll
    object are only touched by the thread holding the turn; the queue of threads ready to
    run is shared with the threads calling ``take()``, under ``_mutex``.
    """

    def __init__(self) -> None:
        self._mutex = _thread.allocate_lock()
        self.held = False  # some thread holds the turn (running, or polling for everyone)
        self._queue: list[_Sleeper] = []  # threads ready to run, in the order they got ready
        self._polling = False  # the holder is in poll(): a thread queueing writes to _wake_w
        self._sleepers: dict[int, _Sleeper] = {}  # fd -> the thread waiting on it
        self._poll = select.poll()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._poll.register(self._wake_r, select.POLLIN)

    def close(self) -> None:
        os.close(self._wake_r)
        os.close(self._wake_w)

    def take(self) -> None:
        """Until the calling thread holds the turn (it does not hold it yet)."""
        with self._mutex:
            if not self.held:
                self.held = True
                return
            me = _Sleeper()
            self._queue.append(me)
            polling = self._polling
        if polling:
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:  # the pipe is full: the poller is woken already
                pass
        me.lock.acquire()

    def give(self) -> None:
        """The holder stops running: the turn goes to the next ready thread, else to a thread
        waiting on its socket (to poll for everyone), else to whichever thread takes it."""
        with self._mutex:
            nxt = self._queue.pop(0) if self._queue else None
            if nxt is None:
                nxt = next(iter(self._sleepers.values()), None)
                if nxt is None:
                    self.held = False
                    return
        nxt.lock.release()

    def wait_for(self, fd: int, event: int, until: float | None) -> bool:
        """The holder waits until ``fd`` is ready for ``event`` (True) or ``until`` passes (False);
        it holds the turn again when this returns."""
        me = _Sleeper(fd, until)
        self._sleepers[fd] = me
        self._poll.register(fd, event)
        try:
            while not me.fired:
                with self._mutex:
                    nxt = self._queue.pop(0) if self._queue else None
                    self._polling = nxt is None
                if nxt is None:
                    self._poll_once(me)
                else:
                    nxt.lock.release()
                    me.lock.acquire()  # given the turn back: our wait is over, or we poll
            return me.ready
        finally:
            if self._sleepers.get(fd) is me:
                self._forget(me)

    def _poll_once(self, me: _Sleeper) -> None:
        """One poll of every waiting socket: the threads whose wait is over are queued, but
        ``me`` (the poller) goes on at once."""
        now = time.monotonic()
        untils = [s.until for s in self._sleepers.values() if s.until is not None]
        timeout = None if not untils else max(0.0, min(untils) - now) * 1000.0
        try:
            events = self._poll.poll(timeout)  # EINTR is retried with the time left (PEP 475)
        finally:
            with self._mutex:
                self._polling = False
        now = time.monotonic()
        over: list[_Sleeper] = []
        for fd, _event in events:
            if fd == self._wake_r:
                os.read(self._wake_r, 512)  # a thread queued itself: the loop in wait_for runs it
            elif fd in self._sleepers:
                sleeper = self._sleepers[fd]
                sleeper.ready = True
                over.append(sleeper)
        over += [s for s in self._sleepers.values() if not s.ready and s.until is not None and s.until <= now]
        for sleeper in over:
            sleeper.fired = True
            self._forget(sleeper)
        with self._mutex:
            self._queue += [s for s in over if s is not me]

    def _forget(self, sleeper: _Sleeper) -> None:
        del self._sleepers[sleeper.fd]
        self._poll.unregister(sleeper.fd)


class TakingTurns:
    """``with TakingTurns(turns):`` the current thread runs only while it holds the turn."""

    __slots__ = ("turns",)

    def __init__(self, turns: Turns) -> None:
        self.turns = turns

    def __enter__(self) -> None:
        self.turns.take()
        _TURNS[_thread.get_ident()] = self.turns

    def __exit__(self, *exc_info: object) -> None:
        del _TURNS[_thread.get_ident()]
        self.turns.give()
