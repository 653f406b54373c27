"""Worker threads: the part of :mod:`concurrent.futures` the page pipeline uses.

``concurrent.futures`` imports :mod:`logging` (with ``traceback``, ``string`` and ``re``'s users):
about 4 ms of every run's start-up for a pool, a submit and a result.  :class:`Pool` does the
same with a queue and daemon threads; :class:`Job` is its future (``result``, ``cancel``).

The threads are daemons: a job only computes (reads, compresses) or writes a part the caller
waits for, and every caller shuts its pool down (``with`` or ``close``), which waits for the jobs
that have started.  A daemon thread cannot hold the interpreter's exit when a caller is cut
short by an error, as an idle non-daemon worker would.
"""

from __future__ import annotations

import threading
from _queue import SimpleQueue  # the C queue behind queue.SimpleQueue, without queue's imports

from .hints import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

_PENDING, _RUNNING, _DONE, _CANCELLED = range(4)


class Job:
    """One call submitted to a :class:`Pool`."""

    __slots__ = ("_fn", "_args", "_state", "_value", "_error", "_done", "_lock")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._fn, self._args = fn, args
        self._state = _PENDING
        self._value: Any = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()

    def _run(self) -> None:
        with self._lock:
            if self._state != _PENDING:
                return
            self._state = _RUNNING
        try:
            self._value = self._fn(*self._args)
        except BaseException as e:  # noqa: BLE001 (given to the caller by result())
            self._error = e
        finally:
            self._fn = self._args = None  # type: ignore[assignment]
            self._state = _DONE
            self._done.set()

    def cancel(self) -> bool:
        """Drop the call if it has not started; True if it will not run."""
        with self._lock:
            if self._state == _PENDING:
                self._state = _CANCELLED
                self._done.set()
            return self._state == _CANCELLED

    def result(self) -> Any:
        """The call's value once it has run; its exception raised here if it raised one."""
        self._done.wait()
        if self._state == _CANCELLED:
            raise CancelledError("the job was cancelled")
        if self._error is not None:
            raise self._error
        return self._value


class CancelledError(Exception):
    """result() of a job that was cancelled."""


class Pool:
    """Up to ``threads`` daemon threads running submitted calls in order of submission; a thread
    is started when a call finds none idle."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError("a pool needs at least one thread")
        self.threads = threads
        self._queue: SimpleQueue = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        if self._closed:
            raise RuntimeError("submit to a pool that was shut down")
        job = Job(fn, args)
        self._queue.put(job)
        if not self._idle.acquire(blocking=False) and len(self._workers) < self.threads:
            t = threading.Thread(target=self._work, name=f"pymakedumpfile-{len(self._workers)}", daemon=True)
            t.start()
            self._workers.append(t)
        return job

    def _work(self) -> None:
        q = self._queue
        while True:
            job = q.get()
            if job is None:
                return
            job._run()
            del job
            self._idle.release()

    def shutdown(self, wait: bool = True) -> None:
        """No more calls; the queued ones still run.  ``wait``: return once all have run."""
        if self._closed:
            return
        self._closed = True
        for _ in self._workers:
            self._queue.put(None)
        if wait:
            for t in self._workers:
                t.join()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.shutdown(wait=True)
