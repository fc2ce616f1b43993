"""The per-sender pace: slots one interval apart per sender, senders independent."""

from __future__ import annotations

import threading

import pytest

from followup.outbound.pacing import SenderPace


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_without_a_rate_nobody_waits():
    pace = SenderPace(None)
    assert [pace.reserve("+12015550111") for _ in range(5)] == [0.0] * 5


def test_each_sender_gets_one_slot_per_interval():
    clock = Clock()
    pace = SenderPace(2.0, clock=clock)  # two a second
    assert [pace.reserve("A") for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    # another sender is not held up by the first one's queue
    assert pace.reserve("B") == 0.0
    # time passes: the queue drains, unused time is not saved up as a burst
    clock.t += 10
    assert [pace.reserve("A") for _ in range(2)] == [0.0, 0.5]


def test_a_stop_interrupts_a_wait():
    pace = SenderPace(0.01)  # one text every 100 s
    stop = threading.Event()
    assert pace.wait("A", stop)  # first slot is free
    threading.Timer(0.05, stop.set).start()
    assert not pace.wait("A", stop)


def test_concurrent_callers_get_distinct_slots():
    clock = Clock()
    pace = SenderPace(10.0, clock=clock)
    delays: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        d = pace.reserve("A")
        with lock:
            delays.append(round(d, 6))

    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delays) == [round(i * 0.1, 6) for i in range(20)]


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        SenderPace(0)
