"""What a page codec is: :class:`Codec`, the declaration each codec module makes."""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import UnsupportedDumpError
from ..core.hints import Any, Optional
from ..core.record import dataclass

# (pages, page_size, skip bitmap or None, sizes out, flags out) -> the pages' data, laid out
# as accel.lzo_pages does: a whole batch in one call that releases the GIL
BatchKernel = Callable[[Any, int, Optional[bytes], Any, Any], bytes]


@dataclass(frozen=True)
class Codec:
    """One page codec.

    :param name: as ``file.compression`` says it ("zlib", "lzo", ...).
    :param flag: the page-descriptor flag of a page it compressed (``formats/diskdump.py``).
    :param option: makedumpfile's option letter.
    :param compressor: makes a thread-safe function compressing one page.
    :param decompressor: makes a function ``(data, page_size) -> page``; it raises ValueError
        (or the library's own error) on corrupt data.
    :param load: imports what the codec needs; raises :class:`UnsupportedDumpError` when the
        library is not installed.
    :param batch: a batch kernel, or None to compress page by page with ``compressor``.
    """

    name: str
    flag: int
    option: str
    compressor: Callable[[], Callable[[bytes], bytes]]
    decompressor: Callable[[], Callable[[bytes, int], bytes]]
    load: Callable[[], object] = lambda: None
    batch: BatchKernel | None = None


def library(module: str, package: str, codec: str) -> Any:
    """The third-party ``module`` a codec needs, imported on first use; when it is not
    installed, the error says which package to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnsupportedDumpError(f"{codec} pages need the {package} package") from None
