"""bench/conftest.py's one_cpu: every thread of the process on one CPU inside the block, masks restored after.

The one-thread comparisons (test_epoch.py, test_scaling.py) depend on it: JAX ran an epoch on both
cores of this machine despite its thread settings (bench/peers/jax_scan.py). Not timed.
"""
import os
import threading

import pytest

from conftest import one_cpu

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity (Linux)"),
    pytest.mark.skipif(hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) < 2,
                       reason="only one CPU available: pinning to one cannot be told apart from not pinning"),
]


class Waiting(threading.Thread):
    """A thread that records its kernel id and waits until released."""

    def __init__(self):
        super().__init__(daemon=True)
        self.started_up, self.release = threading.Event(), threading.Event()

    def run(self):
        self.tid = threading.get_native_id()
        self.started_up.set()
        self.release.wait()

    def __enter__(self):
        self.start()
        self.started_up.wait()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.join()


def test_one_cpu_pins_every_thread_and_threads_started_inside_then_restores_the_masks():
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    with Waiting() as before:
        assert os.sched_getaffinity(before.tid) == allowed
        with one_cpu(cpu) as pinned:
            assert pinned == cpu
            # the calling thread and a thread that existed before the block
            assert os.sched_getaffinity(0) == {cpu}
            assert os.sched_getaffinity(before.tid) == {cpu}
            with Waiting() as inside:  # started inside the block: inherits the one CPU
                assert os.sched_getaffinity(inside.tid) == {cpu}
        assert os.sched_getaffinity(0) == allowed
        assert os.sched_getaffinity(before.tid) == allowed


def test_one_cpu_restores_a_thread_started_inside_that_still_runs():
    allowed = os.sched_getaffinity(0)
    with one_cpu(max(allowed)):
        late = Waiting()
        late.start()
        late.started_up.wait()
    try:
        assert os.sched_getaffinity(late.tid) == allowed
    finally:
        late.release.set()
        late.join()


def test_one_cpu_restores_a_thread_that_had_its_own_mask():
    allowed = sorted(os.sched_getaffinity(0))
    with Waiting() as own:
        os.sched_setaffinity(own.tid, {allowed[0]})
        with one_cpu(allowed[-1]):
            assert os.sched_getaffinity(own.tid) == {allowed[-1]}
        assert os.sched_getaffinity(own.tid) == {allowed[0]}
        assert os.sched_getaffinity(0) == set(allowed)


@pytest.mark.one_core
def test_tests_marked_one_core_run_on_one_cpu():
    assert len(os.sched_getaffinity(0)) == 1
    with Waiting() as t:
        assert len(os.sched_getaffinity(t.tid)) == 1
