"""The exceptions of pymakedumpfile.

Every failure the library reports derives from :class:`DumpError`.  The
subclasses follow libkdumpfile's status codes.  Messages read "Cannot ...:
cause"; :attr:`DumpError.path` names the file involved where there is one.
Only ``cli.py`` turns these into exit codes.
"""

from __future__ import annotations


class DumpError(Exception):
    """Root of all errors raised by pymakedumpfile."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class CorruptDumpError(DumpError):
    """The file contradicts its own format (bad field, offset past EOF ...)."""


class TruncatedDumpError(CorruptDumpError):
    """The file ends before data its headers promise."""


class ReadError(DumpError):
    """Reading the input failed below the format: an I/O error (EIO on a
    damaged disk, a page of ``/proc/vmcore`` the hardware cannot read)."""

    def __init__(self, message: str, path: str | None = None, errno: int | None = None) -> None:
        super().__init__(message, path)
        self.errno = errno


class UnsupportedDumpError(DumpError):
    """Not a format we read, or a feature of it we do not implement."""


class ReleaseMismatchError(UnsupportedDumpError):
    """A VMCOREINFO or kernel image given by the user is of another kernel release than the
    dump (makedumpfile exits 2 for it, its WRONG_RELEASE)."""

    exit_code = 2


class PageExcludedError(DumpError):
    """The page is not stored in the dump (filtered out, or a hole)."""

    def __init__(self, pfn: int, path: str | None = None, why: str = "page excluded") -> None:
        super().__init__(f"Cannot read pfn {pfn:#x}: {why}", path)
        self.pfn = pfn


class AddressTranslationError(DumpError):
    """A virtual address could not be translated."""

    def __init__(self, address: int, message: str, path: str | None = None) -> None:
        super().__init__(f"Cannot translate {address:#x}: {message}", path)
        self.address = address


class OutputError(DumpError):
    """Writing the output failed (refused overwrite, disk full, ...)."""


class UsageError(DumpError):
    """Options that contradict each other or are not supported yet."""


class StopWriting(OutputError):
    """Writing must stop now; what was written stays valid, marked incomplete."""


class OutOfSpaceError(StopWriting):
    """The output is full: the disk (ENOSPC) or the size limit (``-L``)."""


class WriteInterrupted(StopWriting):
    """SIGINT or SIGTERM arrived while writing."""
