"""core/workers.py: the pool the page pipeline runs its batches on (in place of
concurrent.futures, whose import costs every run about 4 ms)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from pymakedumpfile.core.workers import CancelledError, Pool


def test_results_in_submission_order_on_at_most_n_threads() -> None:
    names: set[str] = set()
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            names.add(threading.current_thread().name)
        time.sleep(0.001 * (i % 3))
        return i * i

    with Pool(3) as pool:
        jobs = [pool.submit(work, i) for i in range(40)]
        assert [j.result() for j in jobs] == [i * i for i in range(40)]
    assert 1 <= len(names) <= 3
    assert threading.current_thread().name not in names


def test_exception_raised_by_result_and_pool_goes_on() -> None:
    def work(i: int) -> int:
        if i == 2:
            raise KeyError(i)
        return i

    with Pool(2) as pool:
        jobs = [pool.submit(work, i) for i in range(5)]
        with pytest.raises(KeyError):
            jobs[2].result()
        assert [jobs[i].result() for i in (0, 1, 3, 4)] == [0, 1, 3, 4]


def test_cancel_only_what_has_not_started() -> None:
    gate = threading.Event()
    started = threading.Event()

    def block() -> str:
        started.set()
        gate.wait(5)
        return "ran"

    ran: list[int] = []
    with Pool(1) as pool:
        first = pool.submit(block)
        started.wait(5)
        later = [pool.submit(ran.append, i) for i in range(3)]
        assert not first.cancel()  # running
        assert later[1].cancel() and later[1].cancel()
        gate.set()
        assert first.result() == "ran"
        with pytest.raises(CancelledError):
            later[1].result()
    assert ran == [0, 2]


def test_shutdown_waits_for_queued_jobs_and_refuses_more() -> None:
    done: list[int] = []
    pool = Pool(2)
    for i in range(10):
        pool.submit(lambda i=i: (time.sleep(0.002), done.append(i)))
    pool.shutdown(wait=True)
    assert sorted(done) == list(range(10))
    with pytest.raises(RuntimeError):
        pool.submit(print)
    with pytest.raises(ValueError):
        Pool(0)


def test_an_abandoned_pool_does_not_hold_the_exit() -> None:
    """A caller cut short without shutting its pool down: the interpreter still exits."""
    code = ("from pymakedumpfile.core.workers import Pool; p = Pool(2); "
            "[p.submit(sum, [i]) for i in range(4)]; print(p.submit(sum, [1, 2]).result())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "3"
