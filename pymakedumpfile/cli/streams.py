"""The standard streams of the command line, made safe for a capture.

A crash kernel's scripts and service managers may start us with standard output or error
closed (``2>&-``), or the reader of a pipe may go away.  Messages must never stop a capture,
and no dump byte may go to a descriptor meant for messages: :func:`guard` fills a closed
descriptor 0, 1 or 2 with /dev/null before any file is opened (else the dump file itself
would be given descriptor 1 or 2), and :class:`SafeStream` drops what cannot be written.
"""

from __future__ import annotations

import io
import os
import sys

from ..core.hints import TextIO
from ..core.record import dataclass


@dataclass(frozen=True)
class Closed:
    """Which standard descriptors were closed when we started."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False


def guard() -> Closed:
    """Give every closed standard descriptor /dev/null, and ``sys.stdout``/``sys.stderr`` a
    stream on it; returns which were closed."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            closed.append(False)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            closed.append(True)
    if closed[1] or sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), errors="replace", line_buffering=True)
    if closed[2] or sys.stderr is None:
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), errors="replace", line_buffering=True)
    return Closed(*closed)


class SafeStream:
    """Writes text to a stream chosen when writing (``sys.stdout`` or ``sys.stderr`` as they
    are then, so tests and redirections see it); a write that fails (a closed stream, a
    reader gone, a full disk under a log) is dropped, and later ones are not tried."""

    def __init__(self, name: str) -> None:
        self.name = name  # "stdout" or "stderr"
        self.broken = False

    @property
    def stream(self) -> TextIO | None:
        s: TextIO | None = getattr(sys, self.name, None)
        return s

    def write(self, text: str) -> None:
        s = self.stream
        if self.broken or s is None:
            return
        try:
            s.write(text)
            s.flush()
        except (OSError, ValueError):
            self.broken = True

    def isatty(self) -> bool:
        s = self.stream
        try:
            return bool(s is not None and not self.broken and s.isatty())
        except (OSError, ValueError):
            return False
