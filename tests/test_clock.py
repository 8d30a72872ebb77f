"""The timing protocol's structure (never its speed: timings are checked in bench/, not here)."""
import numpy as np
import pytest

from conftest import make_learnable
import fastnn
from fastnn.study import clock


def test_every_batch_size_is_measured_in_every_round_with_enough_updates(monkeypatch):
    X, y = make_learnable(300, 12, 3, seed=1)
    d = fastnn.Network([12, 8, 3]).check_data(X, y)
    calls = []
    real = clock._one_measurement

    def spy(net, data, batch_size, optimizer, updates, rng):
        calls.append((batch_size, updates))
        return real(net, data, batch_size, optimizer, updates, rng)
    monkeypatch.setattr(clock, "_one_measurement", spy)
    out = clock.time_updates([12, 8, 3], d, [1, 4, 20], {1: 0.1, 4: 0.3, 20: 1.0}, min_seconds=0.01, repeats=3)
    assert sorted(out) == [1, 4, 20]
    for b, r in out.items():
        assert len(r["samples"]) == 3 and len(r["seconds"]) == 3
        assert r["range"][0] <= r["seconds_per_update"] <= r["range"][1]
        assert r["range"][0] <= r["interval"][0] <= r["interval"][1] <= r["range"][1]
        np.testing.assert_allclose(np.array(r["seconds"]) / r["updates"], r["samples"])
        assert r["updates"] >= 1
    timed = [c for c in calls if c[1] == out[c[0]]["updates"]][-9:]  # the rounds, after the pilots
    rounds = [tuple(b for b, _ in timed[i:i + 3]) for i in (0, 3, 6)]
    assert all(sorted(r) == [1, 4, 20] for r in rounds)  # each round measures every batch size once


def test_check_stop_is_called_after_every_measurement_and_what_it_raises_stops_the_clock(monkeypatch):
    X, y = make_learnable(300, 12, 3, seed=1)
    d = fastnn.Network([12, 8, 3]).check_data(X, y)
    calls, checks = [], []
    real = clock._one_measurement

    def spy(*args):
        calls.append(args[2])
        return real(*args)
    monkeypatch.setattr(clock, "_one_measurement", spy)

    def check_stop(stop_at=None):
        checks.append(len(calls))
        if len(checks) == stop_at:
            raise KeyboardInterrupt
    kw = dict(min_seconds=0.005, repeats=2)
    clock.time_updates([12, 8, 3], d, [1, 4], {1: 0.1, 4: 0.3}, check_stop=check_stop, **kw)
    assert checks == list(range(1, len(calls) + 1))  # once after each pilot and each timed measurement
    calls.clear(), checks.clear()
    with pytest.raises(KeyboardInterrupt):
        clock.time_updates([12, 8, 3], d, [1, 4], {1: 0.1, 4: 0.3}, check_stop=lambda: check_stop(3), **kw)
    assert checks == [1, 2, 3] and len(calls) == 3  # stopped at once: no measurement after the one that raised
