"""What the command line says: makedumpfile's message levels, its ``Failed.``/``Completed.``
endings, progress lines or a bar, all on standard error."""

from __future__ import annotations

import sys
import time
from typing import Any, NoReturn

PROG = "pymakedumpfile"

# message-level bits, as makedumpfile's
ML_PROGRESS, ML_COMMON, ML_ERROR, ML_DEBUG, ML_REPORT = 1, 2, 4, 8, 16
DEFAULT_MESSAGE_LEVEL = ML_PROGRESS | ML_COMMON | ML_ERROR


class Messages:
    """makedumpfile-style messages on stderr, filtered by --message-level.
    stdout is never written: it is reserved for dump data (-F)."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._last = 0.0

    def say(self, bit: int, text: str) -> None:
        if self.level & bit:
            print(text, file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        if self.level & ML_ERROR:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    def fail(self, text: str) -> NoReturn:
        """The error, makedumpfile's closing line, exit status 1."""
        self.error(text)
        self.say(ML_ERROR, f"\n{PROG} Failed.")
        sys.exit(1)

    def progress(self, what: str) -> Any:
        """A progress callback ``(done, total)``: a tqdm bar when stderr is a
        terminal, makedumpfile-style percentage lines (at most one a second)
        otherwise, nothing without message-level bit 1."""
        if not self.level & ML_PROGRESS:
            return None
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass  # no bar: the percentage lines below
            else:
                bar: list[Any] = []

                def tick(done: int, total: int) -> None:
                    if not bar:
                        import shutil

                        cols = shutil.get_terminal_size((80, 24)).columns or 80  # a 0x0 pty: still draw
                        bar.append(tqdm(total=total, desc=what, unit="page", unit_scale=True, file=sys.stderr,
                                        leave=False, ncols=cols))
                    b = bar[0]
                    b.total = total
                    b.update(done - b.n)
                    if done >= total:
                        b.close()

                return tick

        def cb(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - self._last < 1.0:
                return
            self._last = now
            pct = 100.0 * done / total if total else 100.0
            print(f"{what:<50}: [{pct:5.1f} %]", file=sys.stderr, flush=True)

        return cb
