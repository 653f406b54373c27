"""pymakedumpfile: capture, filter and convert Linux kernel crash dumps.

A makedumpfile-compatible tool and library.  Start with :func:`open_dump`.
"""

from __future__ import annotations

from .core.context import Attributes, Context
from .core.errors import (
    AddressTranslationError,
    CorruptDumpError,
    DumpError,
    PageExcludedError,
    ReadError,
    TruncatedDumpError,
    UnsupportedDumpError,
)
from .input import open_dump

__version__ = "0.1.0"

__all__ = [
    "AddressTranslationError",
    "Attributes",
    "Context",
    "CorruptDumpError",
    "DumpError",
    "PageExcludedError",
    "ReadError",
    "TruncatedDumpError",
    "UnsupportedDumpError",
    "__version__",
    "open_dump",
]
