"""Where a dump is written: created safely, written with positioned writes.

A new dump is created with ``O_EXCL`` and mode 0600 and never through a
symlink.  With ``force`` an existing file is replaced only when the new one
is complete: the dump is written to a temporary file beside it and renamed
over it at the end, so a failure leaves the old file as it was.
"""

from __future__ import annotations

import errno
import os
import stat

from ..core.errors import OutOfSpaceError, OutputError
from ..core.hints import Protocol
from . import interrupt

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

WRITEBACK_BYTES = 16 << 20  # written between two requests to start writeback

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def check_target(path: str, force: bool) -> bool:
    """Raise :class:`OutputError` unless a dump may be written to ``path``.

    As makedumpfile: an existing file only with ``force``, and only one the user may write.
    We also never follow a symbolic link.

    :returns: True if an existing file will be replaced or written over.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise OutputError(f"Cannot create dump file: {e.strerror}", path) from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError("Cannot create dump file: it is a symbolic link (refusing to follow it)", path)
    if not force:
        raise OutputError("Cannot create dump file: it exists (use -f to overwrite)", path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise OutputError("Cannot overwrite: not a regular file or a device", path)
    if not os.access(path, os.W_OK):
        raise OutputError("Cannot overwrite: Permission denied", path)
    return True


def is_device(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def beside(path: str) -> str:
    """Where an incomplete dump goes when it must not replace a complete one at ``path``."""
    name = f"{path}.incomplete"
    return name if not os.path.lexists(name) else f"{name}-{os.getpid()}"


class WriteTarget(Protocol):
    """What a writer writes through: a :class:`Target` (a file), a flattened stream
    (:class:`~pymakedumpfile.output.flattened.FlatTarget`) or a file written through a
    compressed stream (:class:`~pymakedumpfile.output.stream.CompressedFileTarget`).
    ``write_dump`` calls :meth:`finish` after a writer returns, :meth:`remove` when it failed."""

    path: str
    written: int  # the end of the furthest write
    limit: int | None  # bytes that may be written (-L)

    def room(self, offset: int) -> int | None: ...

    def reserve(self, offset: int, size: int) -> None: ...

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int, *, patch: bool = False) -> None: ...

    def finish(self, complete: bool = True) -> str:
        """Flush and put the output in place; returns where it is (an incomplete dump does not
        replace an existing file)."""

    def remove(self) -> None:
        """Abort: delete what this run created (never a file it was to replace)."""


class Target:
    """An output file.

    :param path: the dump file name.
    :param force: replace an existing regular file (``-f``).
    """

    def __init__(self, path: str, force: bool = False, limit: int | None = None) -> None:
        self.path = path
        self.tmp: str | None = None
        self.written = 0
        self.limit = limit
        self._unflushed = 0  # bytes written since writeback was last started
        self.where = path  # where the output is once finished
        self.device = False
        old: os.stat_result | None = None
        if check_target(path, force):
            if is_device(path):  # /dev/null, a dump partition: written in place, as makedumpfile does
                self.device = True
                try:
                    self.fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
                except OSError as e:
                    raise OutputError(f"Cannot open the device: {e.strerror}", path) from None
                return
            # a regular file is replaced once the new dump is complete, keeping its mode and owner
            old = os.stat(path)
            d, base = os.path.split(path)
            self.tmp = os.path.join(d, f".{base}.pymakedumpfile-{os.getpid()}")
        try:
            self.fd = os.open(self.tmp or path, _FLAGS, 0o600)
        except OSError as e:
            raise OutputError(f"Cannot create dump file: {e.strerror}", path) from None
        if self.tmp:
            interrupt.on_hard_stop(self._hard_stop)
        if old is not None:
            try:
                os.fchmod(self.fd, stat.S_IMODE(old.st_mode))
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    os.fchown(self.fd, old.st_uid, old.st_gid)
            except OSError:
                pass  # not allowed to give it away: the new file is the user's, mode kept

    def room(self, offset: int) -> int | None:
        """Bytes that may still be written from ``offset`` under the limit."""
        return None if self.limit is None else max(self.limit - offset, 0)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int, *, patch: bool = False) -> None:
        """Write ``data`` at ``offset``.  :raises OutOfSpaceError: the write
        would pass the size limit (nothing is written then) or the disk is
        full.  ``patch`` rewrites bytes already counted (a header), ignoring
        the limit."""
        mv = memoryview(data)
        if not patch and self.limit is not None and offset + len(mv) > self.limit:
            raise OutOfSpaceError(f"Cannot write past the size limit of {self.limit} bytes (-L)", self.path)
        while mv:
            try:
                n = os.pwrite(self.fd, mv, offset)
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                if e.errno in FULL_ERRNOS:
                    raise OutOfSpaceError(f"Cannot write at {offset:#x}: {e.strerror}", self.path) from e
                raise OutputError(f"Cannot write at {offset:#x}: {e.strerror}", self.path) from e
            if n == 0:
                raise OutOfSpaceError(f"Cannot write at {offset:#x}: no space", self.path)
            mv = mv[n:]
            offset += n
        self.written = max(self.written, offset)
        self._unflushed += len(data)
        if self._unflushed >= WRITEBACK_BYTES:
            self._unflushed = 0
            self._start_writeback()

    def _start_writeback(self) -> None:
        """Have the kernel start writing what is written so far and drop the
        pages already on disk from the page cache (Linux: FADV_DONTNEED starts
        writeback of dirty pages without waiting).  The disk then works while
        we compress, the final fsync has little left to wait for, and a crash
        kernel's small memory does not fill with the dump's dirty pages."""
        try:
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except (OSError, AttributeError):  # not supported here: the final fsync does it all
            pass

    def reserve(self, offset: int, size: int) -> None:
        """Allocate [offset, offset + size) now, so later writes there cannot
        fail for lack of space (the page descriptor area)."""
        if size <= 0 or self.limit is not None and offset + size > self.limit:
            return
        try:
            os.posix_fallocate(self.fd, offset, size)
        except OSError as e:
            if e.errno in FULL_ERRNOS:
                raise OutOfSpaceError(f"Cannot allocate {size} bytes at {offset:#x}: {e.strerror}", self.path) from e
            # not supported by this filesystem: the writes will allocate

    def finish(self, complete: bool = True) -> str:
        """Flush, close and put the file in place; returns where it is.  An incomplete dump
        never replaces a file: the old one is kept and the new one goes :func:`beside` it."""
        try:
            os.fsync(self.fd)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EROFS):
                raise OutputError(f"Cannot flush: {e.strerror}", self.path) from e
        os.close(self.fd)
        self.fd = -1
        if self.tmp:
            self.where = self.path if complete else beside(self.path)
            os.replace(self.tmp, self.where)
            self.tmp = None
            interrupt.forget_hard_stop(self._hard_stop)
        return self.where

    def _hard_stop(self) -> str:
        """A second signal: remove the temporary file (the old dump stays); say what is left."""
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            return f"{self.path}: the previous dump is kept, the new one was removed"
        return ""

    def abort(self) -> None:
        """Close; remove a temporary file (a new file is left for the caller)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None
            interrupt.forget_hard_stop(self._hard_stop)

    def remove(self) -> None:
        """Abort and delete the file this run created (never a file it was
        to replace: that one is untouched until :meth:`finish`)."""
        replacing = self.tmp is not None
        self.abort()
        if replacing or self.device:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass


class NullTarget:
    """--dry-run: a writer writes as usual and nothing is kept; what it would have written is
    counted (makedumpfile's report gives those "Write bytes" in a dry run too)."""

    def __init__(self, path: str, limit: int | None = None) -> None:
        self.path = path
        self.written = 0
        self.limit = limit

    def room(self, offset: int) -> int | None:
        return None if self.limit is None else max(self.limit - offset, 0)

    def reserve(self, offset: int, size: int) -> None:
        pass

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int, *, patch: bool = False) -> None:
        if not patch and self.limit is not None and offset + len(data) > self.limit:
            raise OutOfSpaceError(f"Cannot write past the size limit of {self.limit} bytes (-L)", self.path)
        self.written = max(self.written, offset + len(data))

    def finish(self, complete: bool = True) -> str:
        return self.path

    def remove(self) -> None:
        pass


def write_file(path: str, data: bytes, force: bool = False) -> int:
    """Write ``data`` to ``path`` as a dump is written (mode 0600, ``O_EXCL``, never through a
    symlink; ``force`` replaces a regular file once the new one is complete): a LOGFILE, a
    VMCOREINFO file.  Returns the bytes written."""
    target = Target(path, force)
    try:
        target.pwrite(data, 0)
        target.finish()
    except BaseException:
        target.remove()
        raise
    return len(data)
