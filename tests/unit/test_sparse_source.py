"""Reading a sparse dump file: FileSource reads the data extents of a large read and gives its
holes as zeros (lseek SEEK_DATA/SEEK_HOLE).  The bytes must be those a plain read gives, at
every boundary, and a file that shrinks or ends inside a read must read short, not as zeros."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from pymakedumpfile.input import source as src_mod
from pymakedumpfile.input.source import HOLE_MIN_READ, FileSource

MB = 1 << 20


def _sparse_file(path: Path, size: int, extents: list[tuple[int, int]], seed: int = 0) -> bytes:
    """A file of ``size`` bytes, holes but for ``extents`` (offset, length) of random bytes;
    returns its content."""
    rng = random.Random(seed)
    content = bytearray(size)
    with open(path, "wb") as f:
        f.truncate(size)
        for off, n in extents:
            data = bytes(rng.getrandbits(8) for _ in range(min(n, 4096))) * (-(-n // 4096))
            data = data[: min(n, size - off)]
            f.seek(off)
            f.write(data)
            content[off : off + len(data)] = data
    return bytes(content)


def _holes_supported(path: Path) -> bool:
    st = os.stat(path)
    if not 0 < st.st_blocks * 512 < st.st_size:
        return False
    with open(path, "rb") as f:
        try:
            return os.lseek(f.fileno(), 0, os.SEEK_DATA) > 0  # the file starts with a hole
        except OSError:
            return False


@pytest.fixture()
def sparse(tmp_path: Path) -> tuple[Path, bytes]:
    p = tmp_path / "sparse.elf"
    content = _sparse_file(p, 32 * MB, [(1 * MB, 64 << 10), (5 * MB + 4096, 3 * MB), (20 * MB - 1, 2),
                                        (31 * MB, MB)])
    if not _holes_supported(p):
        pytest.skip("this file system does not keep holes or has no SEEK_DATA")
    return p, content


def test_sparse_reads_equal_plain_reads(sparse: tuple[Path, bytes]) -> None:
    path, content = sparse
    s = FileSource(path)
    try:
        assert s.sparse
        rng = random.Random(5)
        cases = [(0, 32 * MB), (0, HOLE_MIN_READ), (MB - 1, HOLE_MIN_READ), (5 * MB, 4 * MB),
                 (5 * MB + 4096, 3 * MB), (20 * MB - 2, 4 * MB), (30 * MB, 4 * MB), (31 * MB + 1, MB),
                 (8 * MB + 7, 2 * MB)]  # all hole
        cases += [(rng.randrange(32 * MB), rng.randrange(HOLE_MIN_READ, 6 * MB)) for _ in range(200)]
        for off, n in cases:
            assert s.pread(off, n) == content[off : off + n], (off, n)
    finally:
        s.close()


def test_a_dense_file_is_read_as_it_is(tmp_path: Path) -> None:
    p = tmp_path / "dense"
    p.write_bytes(os.urandom(2 * MB))
    s = FileSource(p)
    try:
        assert not s.sparse
        assert s.pread(100, MB) == p.read_bytes()[100 : 100 + MB]
    finally:
        s.close()


def test_a_file_that_shrinks_reads_short_not_as_zeros(sparse: tuple[Path, bytes]) -> None:
    path, content = sparse
    s = FileSource(path)
    try:
        os.truncate(path, 10 * MB)  # after the source was opened: it still believes 32 MiB
        assert s.pread(9 * MB, 4 * MB) == content[9 * MB : 10 * MB]  # a hole, then the end
        assert s.pread(12 * MB, 4 * MB) == b""
        os.truncate(path, 6 * MB)  # now the file ends inside a data extent
        assert s.pread(5 * MB, 4 * MB) == content[5 * MB : 6 * MB]
    finally:
        s.close()


def test_no_seek_data_falls_back_to_plain_reads(sparse: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    path, content = sparse
    real = os.lseek

    def lseek(fd: int, pos: int, how: int) -> int:
        if how in (os.SEEK_DATA, os.SEEK_HOLE):
            raise OSError(22, "Invalid argument")
        return real(fd, pos, how)

    monkeypatch.setattr(src_mod.os, "lseek", lseek)
    s = FileSource(path)
    try:
        assert s.pread(0, 8 * MB) == content[: 8 * MB]
        assert not s.sparse  # given up after the first refusal
        assert s.pread(4 * MB, 8 * MB) == content[4 * MB : 12 * MB]
    finally:
        s.close()
