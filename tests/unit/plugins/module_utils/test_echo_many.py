# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many targets and retries (echo_many), with a fake engine; the loop that runs them (_loop) and
the waits it drives (_pdu_channel: drive, in_thread), with socket pairs."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _loop, _pdu_channel, echo_many
from ansible_collections.dicom.network.plugins.module_utils._pdu_channel import (
    POLLIN,
    Wait,
    WaitExpired,
    drive,
    in_thread,
)
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest
from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult, Failure


class FakeEngine:
    """Stands in for echo_steps: answers each call with the next outcome of a script, after
    ``sleep`` seconds of waiting (a wait with no descriptor, as the loop sees a retry's delay)."""

    def __init__(self, outcomes, sleep=0.0):
        self.outcomes = list(outcomes)
        self.calls = []
        self.threads = []
        self.sleep = sleep

    def __call__(self, request, names=None):
        self.calls.append(request)
        self.threads.append(threading.current_thread())
        failure = self.outcomes.pop(0) if self.outcomes else None
        if self.sleep:
            yield (-1, 0, time.monotonic() + self.sleep)
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
    monkeypatch.setattr(echo_many, "echo_steps", engine)
    result = echo_many.run_with_retries(EchoRequest(host="127.0.0.1"), retries=retries, delay=0.0)
    assert result.attempts == attempts == len(engine.calls)
    assert result.ok is ok


def test_retries_wait_their_delay_in_the_loop_while_others_run(monkeypatch):
    # Two targets, each refused once and retried after 0.2 s: the delays overlap (one loop,
    # both sleeping at once), so the whole takes about one delay, not two.
    engine = FakeEngine([Failure.CONNECT, Failure.CONNECT, None, None])
    monkeypatch.setattr(echo_many, "echo_steps", engine)
    begin = time.monotonic()
    results = echo_many.run_many([EchoRequest(host="127.0.0.1", port=p) for p in (1, 2)], concurrency=2,
                                 retries=1, delay=0.2)
    took = time.monotonic() - begin
    assert [r.attempts for r in results] == [2, 2] and all(r.ok for r in results)
    assert 0.19 <= took < 0.39, took


@pytest.mark.parametrize("concurrency", [1, 3, 16, 1000])
def test_run_many_keeps_the_order(monkeypatch, concurrency):
    # Later requests end first (shorter sleeps): the results still follow the requests.
    def steps(request, names=None):
        yield (-1, 0, time.monotonic() + (30 - request.port % 1000) / 2000)
        result = EchoResult(name=request.label, host=request.host, port=request.port)
        result.ok = True
        return result

    monkeypatch.setattr(echo_many, "echo_steps", steps)
    requests = [EchoRequest(host="127.0.0.1", port=1000 + i) for i in range(20)]
    results = echo_many.run_many(requests, concurrency=concurrency)
    assert [r.port for r in results] == [r.port for r in requests]


def test_run_many_of_nothing():
    assert echo_many.run_many([], concurrency=4) == []


def test_run_many_runs_plain_requests_on_its_thread_and_tls_ones_on_threads_of_their_own(monkeypatch):
    engine = FakeEngine([], sleep=0.01)
    monkeypatch.setattr(echo_many, "echo_steps", engine)
    requests = [EchoRequest(host="127.0.0.1", port=3000 + i, tls=i % 2 == 1) for i in range(6)]
    results = echo_many.run_many(requests, concurrency=4)
    assert [r.port for r in results] == [r.port for r in requests] and all(r.ok for r in results)
    on = {call.port: thread for call, thread in zip(engine.calls, engine.threads, strict=True)}
    assert all((on[r.port] is threading.current_thread()) == (not r.tls) for r in requests)


def _pairs(count):
    pairs = [socket.socketpair() for _index in range(count)]
    for ours, _theirs in pairs:
        ours.setblocking(False)
    return pairs


def _reader(sock, until, woke, index):
    """Steps that wait for ``sock`` once and note what they got."""
    ready = yield (sock.fileno(), POLLIN, until)
    woke.append((index, ready, sock.recv(8) if ready else b""))
    return index


def test_loop_wakes_each_run_when_its_socket_is_ready_and_only_then():
    # Four runs wait on their sockets; the bytes arrive in the reverse order, from another
    # thread: each run is resumed when its own socket is readable, in that order.
    pairs = _pairs(4)
    woke = []

    def send_reversed():
        time.sleep(0.1)
        for index in (3, 2, 1, 0):
            pairs[index][1].send(b"%d" % index)
            time.sleep(0.02)

    sender = threading.Thread(target=send_reversed)
    sender.start()
    until = time.monotonic() + 10
    values = _loop.run_all(((i, _reader(pairs[i][0], until, woke, i)) for i in range(4)), 4)
    sender.join(10)
    assert woke == [(3, True, b"3"), (2, True, b"2"), (1, True, b"1"), (0, True, b"0")]
    assert values == {0: 0, 1: 1, 2: 2, 3: 3}


def test_loop_ends_a_wait_at_its_time_while_the_others_go_on():
    # A wait whose socket never becomes ready ends (False) when its time is up, not before and
    # not much later, while another run's waits keep being answered meanwhile.
    (silent, _s), (busy, busy_peer) = _pairs(2)
    got = {}

    def quiet():
        begin = time.monotonic()
        ready = yield (silent.fileno(), POLLIN, begin + 0.3)
        got["silent"] = (ready, time.monotonic() - begin)

    def chatty():
        answered = 0
        for _round in range(20):
            busy_peer.send(b"x")
            answered += yield (busy.fileno(), POLLIN, time.monotonic() + 5)
            busy.recv(8)
        got["busy"] = (answered, "silent" in got)

    _loop.run_all([(0, quiet()), (1, chatty())], 2)
    ready, waited = got["silent"]
    assert ready is False and 0.29 <= waited < 2.0, waited
    assert got["busy"] == (20, False)  # all 20 answered before the silent wait ran out


def test_loop_keeps_at_most_width_runs_going():
    going, most = [0], [0]

    def job(index):
        going[0] += 1
        most[0] = max(most[0], going[0])
        yield (-1, 0, time.monotonic() + 0.01)
        going[0] -= 1
        return index * 2

    values = _loop.run_all(((i, job(i)) for i in range(10)), 3)
    assert most[0] == 3 and values == {i: i * 2 for i in range(10)}


def test_loop_raises_what_a_run_raised_and_closes_the_others():
    closed = []

    def waits_forever(index):
        sock, _peer = _pairs(1)[0]
        try:
            yield (sock.fileno(), POLLIN, None)
        finally:
            closed.append(index)
            sock.close()

    def breaks():
        yield (-1, 0, time.monotonic() + 0.01)
        raise KeyError("internal")

    with pytest.raises(KeyError):
        _loop.run_all([(0, waits_forever(0)), (1, breaks()), (2, waits_forever(2))], 3)
    assert sorted(closed) == [0, 2]


def test_drive_waits_for_one_socket_and_for_time():
    sock, peer = _pairs(1)[0]

    def steps():
        begin = time.monotonic()
        slept = yield (-1, 0, begin + 0.05)
        timed_out = yield (sock.fileno(), POLLIN, time.monotonic() + 0.05)
        peer.send(b"x")
        ready = yield (sock.fileno(), POLLIN, time.monotonic() + 5)
        return slept, timed_out, ready, time.monotonic() - begin

    got = drive(steps())  # (slept, timed out, ready, seconds)
    assert got[:3] == (False, False, True) and 0.09 <= got[3] < 1.0, got


def test_in_thread_gives_the_value_or_what_was_raised_or_gives_up_at_the_wait():
    assert drive(in_thread(lambda: 42, Wait.of(5, "connect", None))) == 42
    with pytest.raises(ZeroDivisionError):
        drive(in_thread(lambda: 1 / 0, None))
    release = threading.Event()
    begin = time.monotonic()
    with pytest.raises(WaitExpired) as caught:
        drive(in_thread(lambda: release.wait(10), Wait.of(0.1, "connect", None)))
    assert caught.value.cause == "connect" and time.monotonic() - begin < 2.0
    release.set()  # the abandoned thread ends; its end of the pipe is its own to close


def test_in_thread_runs_the_call_here_when_no_thread_can_start(monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert drive(in_thread(threading.current_thread, None)) is threading.current_thread()


def test_a_closed_connect_leaves_no_socket(monkeypatch):
    # A run closed while it waits for its connection (the loop stops) closes the socket it made.
    made = []
    real_socket = socket.socket

    def tracking(*args, **kwargs):
        sock = real_socket(*args, **kwargs)
        made.append(sock)
        return sock

    monkeypatch.setattr(_pdu_channel.socket, "socket", tracking)
    listener = real_socket()
    listener.bind(("127.0.0.1", 0))  # bound, not listening: a connect may hang or be refused
    addresses = socket.getaddrinfo("127.0.0.1", listener.getsockname()[1], 0, socket.SOCK_STREAM)
    steps = _pdu_channel.connect(addresses, Wait.of(5, "connect", None))
    try:
        next(steps)
    except StopIteration:
        pass
    except _pdu_channel.ConnectFailed:
        pass
    steps.close()
    listener.close()
    assert made and all(sock.fileno() == -1 for sock in made)
