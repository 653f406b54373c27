"""pymakedumpfile: capture, filter and convert Linux kernel crash dumps.

A makedumpfile-compatible tool and library.  Start with :func:`open_dump`.

The names below are loaded on first use, so that the command line starts with no more than
it needs (and an interrupt while it starts is its own to report).
"""

from __future__ import annotations

from .core.hints import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.context import Attributes, Context
    from .core.errors import (
        AddressTranslationError,
        CorruptDumpError,
        DumpError,
        PageExcludedError,
        ReadError,
        ReleaseMismatchError,
        TruncatedDumpError,
        UnsupportedDumpError,
    )
    from .input import open_dump

__version__ = "0.1.0"

_WHERE = {
    "Attributes": "core.context",
    "Context": "core.context",
    "AddressTranslationError": "core.errors",
    "CorruptDumpError": "core.errors",
    "DumpError": "core.errors",
    "PageExcludedError": "core.errors",
    "ReadError": "core.errors",
    "ReleaseMismatchError": "core.errors",
    "TruncatedDumpError": "core.errors",
    "UnsupportedDumpError": "core.errors",
    "open_dump": "input",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'pymakedumpfile' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AddressTranslationError",
    "Attributes",
    "Context",
    "CorruptDumpError",
    "DumpError",
    "PageExcludedError",
    "ReadError",
    "ReleaseMismatchError",
    "TruncatedDumpError",
    "UnsupportedDumpError",
    "__version__",
    "open_dump",
]
