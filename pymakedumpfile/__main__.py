"""``python -m pymakedumpfile`` and the ``pymakedumpfile`` command.

Only this module and the (lazy) package are imported before the interrupt guard: a Ctrl-C
while the command line's modules load says "interrupted" instead of a traceback."""

from __future__ import annotations

import sys


def entry() -> None:
    try:
        from .cli import entry as cli_entry
    except KeyboardInterrupt:
        try:
            sys.stderr.write("pymakedumpfile: interrupted\n")
        except (AttributeError, OSError, ValueError):
            pass
        sys.exit(1)
    cli_entry()


if __name__ == "__main__":
    entry()
