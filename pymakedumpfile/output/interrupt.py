"""Stopping a dump cleanly on SIGINT or SIGTERM.

The handlers only set a flag; the writers look at it between blocks, finish
the block they are writing, mark the dump incomplete and return, so that
what was saved stays readable.  A second signal ends the process at once: the
temporary files registered with :func:`on_hard_stop` are removed first (an old
dump being replaced stays), one line says so, and the exit status is 128 plus
the signal's number, as a process killed by it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from ..core.errors import WriteInterrupted
from ..core.hints import Any

_stop = threading.Event()
_signame = ""
_cleanups: list[Callable[[], str]] = []


def on_hard_stop(fn: Callable[[], str]) -> None:
    """Call ``fn`` if a second signal stops the process at once; it returns what it did."""
    _cleanups.append(fn)


def forget_hard_stop(fn: Callable[[], str]) -> None:
    if fn in _cleanups:
        _cleanups.remove(fn)


def _handler(signum: int, frame: FrameType | None) -> None:
    global _signame
    if _stop.is_set():  # asked twice: do not wait
        said = []
        for fn in list(_cleanups):
            try:
                said.append(fn())
            except Exception:  # noqa: BLE001, S110 - stopping now whatever happens
                pass
        text = "; ".join(x for x in said if x)
        try:
            os.write(2, f"pymakedumpfile: {signal.Signals(signum).name} twice: stopped at once"
                        f"{'; ' + text if text else ''}\n".encode())
        except OSError:
            pass
        os._exit(128 + signum)
    _signame = signal.Signals(signum).name
    _stop.set()


def check(path: str) -> None:
    """Raise :class:`WriteInterrupted` if a stop was asked for."""
    if _stop.is_set():
        raise WriteInterrupted(f"interrupted by {_signame}", path)


class stop_on_signals:  # noqa: N801 - used as a context manager
    """Within the block, SIGINT and SIGTERM ask writers to stop cleanly."""

    def __enter__(self) -> stop_on_signals:
        _stop.clear()
        self._old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, _handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
