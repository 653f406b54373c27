"""Stopping a dump cleanly on SIGINT or SIGTERM.

The handlers only set a flag; the writers look at it between blocks, finish
the block they are writing, mark the dump incomplete and return, so that
what was saved stays readable.  A second signal ends the process at once.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from ..core.errors import WriteInterrupted

_stop = threading.Event()
_signame = ""


def _handler(signum: int, frame: FrameType | None) -> None:
    global _signame
    if _stop.is_set():  # asked twice: do not wait
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
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
