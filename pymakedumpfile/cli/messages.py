"""What the command line says: makedumpfile's message levels, its ``Failed.``/``Completed.``
endings, progress lines or a bar, all on standard error."""

from __future__ import annotations

import sys
import time

from ..core.hints import Any, NoReturn
from .streams import SafeStream

PROG = "pymakedumpfile"

# message-level bits, as makedumpfile's
ML_PROGRESS, ML_COMMON, ML_ERROR, ML_DEBUG, ML_REPORT = 1, 2, 4, 8, 16
DEFAULT_MESSAGE_LEVEL = ML_PROGRESS | ML_COMMON | ML_ERROR


class Messages:
    """makedumpfile-style messages, filtered by --message-level, on the streams makedumpfile
    uses: messages (what was done, the report, debugging) on standard output, or on standard
    error when standard output carries the dump (-F); errors and progress on standard error.
    A stream that cannot be written is given up (:class:`SafeStream`): messages never stop a
    capture."""

    def __init__(self, level: int, *, data_on_stdout: bool = False) -> None:
        self.level = level
        self._last = 0.0
        self.err = SafeStream("stderr")
        self.out = self.err if data_on_stdout else SafeStream("stdout")

    def data_on_stdout(self) -> None:
        """From now on standard output carries data: messages go to standard error."""
        self.out = self.err

    def say(self, bit: int, text: str) -> None:
        if self.level & bit:
            self.out.write(text + "\n")

    def error(self, text: str) -> None:
        if self.level & ML_ERROR:
            self.err.write(f"{PROG}: {text}\n")

    def warn(self, text: str) -> None:
        """Something we did as makedumpfile does, though it may not be what was meant."""
        if self.level & ML_ERROR:
            self.err.write(f"{PROG}: warning: {text}\n")

    def fail(self, text: str, code: int = 1) -> NoReturn:
        """The error, makedumpfile's closing line, exit status ``code``."""
        self.error(text)
        self.failed(code)

    def failed(self, code: int = 1) -> NoReturn:
        self.say(ML_ERROR, f"\n{PROG} Failed.")
        sys.exit(code)

    def progress(self, what: str) -> Any:
        """A progress callback ``(done, total)``: a tqdm bar when stderr is a
        terminal, makedumpfile-style percentage lines (at most one a second)
        otherwise, nothing without message-level bit 1."""
        if not self.level & ML_PROGRESS:
            return None
        err = self.err
        if err.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass  # no bar: the percentage lines below
            else:
                bar: list[Any] = []

                def tick(done: int, total: int) -> None:
                    if err.broken:
                        return
                    try:
                        if not bar:
                            import shutil

                            cols = shutil.get_terminal_size((80, 24)).columns or 80  # a 0x0 pty: still draw
                            bar.append(tqdm(total=total, desc=what, unit="page", unit_scale=True, file=err.stream,
                                            leave=False, ncols=cols))
                        b = bar[0]
                        b.total = total
                        b.update(done - b.n)
                        if done >= total:
                            b.close()
                    except (OSError, ValueError):
                        err.broken = True

                return tick

        def cb(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - self._last < 1.0:
                return
            self._last = now
            pct = 100.0 * done / total if total else 100.0
            err.write(f"{what:<50}: [{pct:5.1f} %]\n")

        return cb
