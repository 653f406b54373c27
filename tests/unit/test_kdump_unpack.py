"""Reading a kdump file's pages in C (accel.kdump_unpack) and its pure-Python twin.

Files come from tests/gen/kdump.py (its own layouts and compressors: zlib, liblzo2, snappy,
zstd). Both implementations must give the generator's pages, stop at the same page when one is
damaged, and never take a page the reader's page-by-page path refuses: read_pages with the
kernel and without it (the path that names what is wrong) give the same bytes or the same
error.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from gen.compress import CompressorUnavailable, liblzo2_compressor
from gen.kdump import Page, build_kdump

from pymakedumpfile import accel, open_dump
from pymakedumpfile.core.errors import DumpError
from pymakedumpfile.input import kdump as kdump_mod

PS = 4096
CODECS = ("raw", "zlib", "lzo", "snappy", "zstd")
LENIENT = {"zlib", "zstd"}  # the page-by-page path reads a page followed by other bytes


def _lzo():  # type: ignore[no-untyped-def]
    try:
        return liblzo2_compressor()
    except CompressorUnavailable:
        return None


def _page(rnd: random.Random, i: int) -> bytes:
    kind = i % 4
    if kind == 0:
        return rnd.randbytes(PS)  # does not shrink: stored raw by every codec
    if kind == 1:
        return (f"page {i} ".encode() * 600)[:PS]
    if kind == 2:
        p = bytearray(PS)
        p[rnd.randrange(PS)] = 1 + i % 255
        return bytes(p)
    return bytes(rnd.randrange(4) for _ in range(PS))


def _pages(how: str, n: int, seed: int = 1, zero_every: int = 0) -> dict[int, Page]:
    rnd = random.Random(seed)
    out = {}
    for i in range(n):
        if zero_every and i % zero_every == 3:
            out[i] = Page.zero(PS)
        else:
            out[i] = Page(_page(rnd, i), how)
    return out


def _build(tmp_path: Path, pages: dict[int, Page], endian: str = "<", name: str = "k") -> Path:
    path = tmp_path / name
    lzo = _lzo()
    if lzo is None and any(p.how == "lzo" for p in pages.values()):
        pytest.skip("liblzo2 is not installed")
    build_kdump(path, pages, max_mapnr=max(pages) + 1, endian=endian, dump_level=0, lzo_compress=lzo)
    return path


def _descs(path: Path, n: int) -> tuple[bytes, int]:
    with open_dump(path) as ctx:
        pd = ctx.reader.pd_offset  # type: ignore[attr-defined]
    with open(path, "rb") as f:
        f.seek(pd)
        return f.read(24 * n), pd


def _both(path: Path, n: int, big: bool) -> dict[str, tuple[bytes, int]]:
    """(pages, count) of each implementation, read by descriptor; the same from the whole file
    given as a region, and from none (then the first window is asked for)."""
    descs, pd = _descs(path, n)
    whole = path.read_bytes()
    out = {}
    fd = os.open(path, os.O_RDONLY)
    try:
        for backend, fn in accel.implementations("kdump_unpack").items():
            data, count, need_off, need_len = fn(fd, descs, big, PS, pd, len(whole))
            assert (need_off, need_len) == (0, 0), backend
            assert fn(-1, descs, big, PS, pd, len(whole), [(0, whole)])[:2] == (data, count), backend
            first = fn(-1, descs, big, PS, pd, len(whole), [])
            assert first[:2] == (b"", 0) and (first[3] > 0 or count == 0), backend
            out[backend] = (data, count)
    finally:
        os.close(fd)
    return out


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("how", CODECS)
def test_every_codec_as_generated(tmp_path: Path, how: str, endian: str) -> None:
    # 700 pages: raw data of more than one 2 MiB window; every 7th a zero page (shared data)
    pages = _pages(how, 700, zero_every=7)
    path = _build(tmp_path, pages, endian)
    want = b"".join(p.data for p in pages.values())
    got = _both(path, len(pages), endian == ">")
    for backend, (data, count) in got.items():
        assert count == len(pages), backend
        assert data == want, backend
    with open_dump(path) as ctx:
        assert ctx.reader.read_pages(0, len(pages)) == want
        assert ctx.reader.read_pages(5, 300) == want[5 * PS : 305 * PS]


def _read_both_ways(path: Path, n: int, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """read_pages(0, n) with the kernel and with it taking nothing: bytes or the error."""
    results: list[object] = []
    for take in (True, False):
        with monkeypatch.context() as m:
            if not take:
                m.setattr(kdump_mod.accel, "kdump_unpack", lambda *a: (b"", 0, 0, 0))
            try:
                with open_dump(path) as ctx:
                    results.append(ctx.reader.read_pages(0, n))
            except DumpError as e:
                results.append(f"{type(e).__name__}: {e}")
    return results


# page 5 of 12 damaged, in each way the kernel must not take it
DAMAGE = {
    "offset 0": dict(desc_offset=0),
    "offset before the data": dict(desc_offset=64),
    "offset past the end": dict(desc_offset=1 << 40),
    "size 0": dict(desc_size=0),
    "size over a page": dict(desc_size=PS + 1),
    "unknown flags": dict(desc_flags=0x10),
    "two codecs": dict(desc_flags=0x3),
    "corrupt data": dict(stored=b"\x78\x9c" + bytes(range(200))),
    "trailing bytes": "trailing",
    "short data": "short",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("how", ["zlib", "lzo", "snappy", "zstd"])
def test_a_damaged_page_stops_both_and_the_reader_says_why(tmp_path: Path, how: str, damage: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pages = _pages(how, 12, seed=7)
    bad = pages[5] = Page((b"compressible " * 400)[:PS], how)
    d = DAMAGE[damage]
    if isinstance(d, dict):
        for k, v in d.items():
            setattr(bad, k, v)
    else:
        from gen.compress import snappy_compressor, zlib_compress, zstd_compressor

        comp = {"zlib": zlib_compress, "snappy": snappy_compressor(), "zstd": zstd_compressor()}.get(how) or _lzo()
        if comp is None:
            pytest.skip("liblzo2 is not installed")
        c = comp(bad.data)
        bad.stored = c + b"\0\0\0\0" if d == "trailing" else c[: len(c) // 2]
        bad.force_compressed = True
    path = _build(tmp_path, pages)
    for backend, (data, count) in _both(path, 12, False).items():
        assert count == 5, backend  # the pages before it, and not it
        assert data[: 5 * PS] == b"".join(pages[i].data for i in range(5)), backend
    with_kernel, without = _read_both_ways(path, 12, monkeypatch)
    assert with_kernel == without
    if damage == "trailing bytes" and how in LENIENT:
        # whole data, then bytes after the stream: taken as makedumpfile's uncompress() takes them
        assert without == b"".join(p.data for p in pages.values())
    else:
        assert isinstance(without, str), "the page-by-page path must refuse the damaged page too"


def test_truncated_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = _pages("zlib", 40, seed=3)
    path = _build(tmp_path, pages)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3 * PS)
    for backend, (_, count) in _both(path, 40, False).items():
        assert count < 40, backend
    with_kernel, without = _read_both_ways(path, 40, monkeypatch)
    assert with_kernel == without and isinstance(without, str)


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_flattened_stream_read_in_place(tmp_path: Path, shuffle: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source without a descriptor gives the kernel the pieces it asks for: the main run's data
    and the shared zero page beside it; the pages are those of the generator."""
    from gen.flat import flatten

    pages = _pages("zlib", 900, seed=5, zero_every=4)
    path = _build(tmp_path, pages)
    flat = tmp_path / "flat"
    flatten(path, flat, shuffle=shuffle, chunk=5000)
    want = b"".join(p.data for p in pages.values())
    calls = []
    real = kdump_mod.accel.kdump_unpack
    monkeypatch.setattr(kdump_mod.accel, "kdump_unpack", lambda *a: calls.append(a[6]) or real(*a))
    with open_dump(flat) as ctx:
        assert ctx.reader.read_pages(0, 900) == want
        assert ctx.reader.read_pages(17, 512) == want[17 * PS : 529 * PS]
    # a few pieces, not one per zero page: the zero page stays beside the run
    assert len(calls) < 20, len(calls)


@pytest.mark.parametrize("how", ["zlib", "lzo", "snappy", "zstd"])
def test_mutated_files_native_and_twin_agree(tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes flipped in the descriptors and the page data: the two implementations stop at the
    same page with the same pages before it, and the reader gives what its page-by-page path gives."""
    pages = _pages(how, 16, seed=11, zero_every=5)
    path = _build(tmp_path, pages)
    orig = path.read_bytes()
    descs, pd = _descs(path, 16)
    rnd = random.Random(how)
    for _ in range(60):
        buf = bytearray(orig)
        for _ in range(rnd.randrange(1, 6)):
            at = rnd.randrange(pd, len(buf))
            buf[at] = rnd.randrange(256) if rnd.random() < 0.5 else buf[at] ^ (1 << rnd.randrange(8))
        path.write_bytes(buf)
        both = _both(path, 16, False)
        if "native" in both:
            assert both["native"] == both["python"]
        with_kernel, without = _read_both_ways(path, 16, monkeypatch)
        assert with_kernel == without


def test_mutated_pages_native_and_twin_agree() -> None:
    """One page of each codec, its compressed bytes changed, cut or grown: the native kernel
    (its own snappy decoder among them) takes exactly what the twin takes, and the same page."""
    impls = accel.implementations("kdump_unpack")
    if "native" not in impls:
        pytest.skip("the native module is not built")
    import struct
    import zlib

    from gen.compress import snappy_compressor, zstd_compressor

    comp = {0x1: zlib.compress, 0x2: _lzo(), 0x4: snappy_compressor(), 0x20: zstd_compressor()}
    rnd = random.Random(9)
    for it in range(800):
        flag = (0x1, 0x2, 0x4, 0x4, 0x20)[it % 5]
        if comp[flag] is None:
            continue
        c = bytearray(comp[flag](_page(rnd, it)))
        for _ in range(rnd.randrange(0, 4)):
            at = rnd.randrange(len(c))
            r = rnd.random()
            if r < 0.5:
                c[at] = rnd.randrange(256)
            elif r < 0.7:
                del c[at : at + rnd.randrange(1, 8)]
            else:
                c[at:at] = rnd.randbytes(rnd.randrange(1, 8))
        blob = bytes(64) + bytes(c)
        descs = struct.pack("<qIIQ", 64, max(len(c), 1), flag, 0)
        got = {b: fn(-1, descs, False, PS, 64, len(blob), [(0, blob)]) for b, fn in impls.items()}
        assert got["native"] == got["python"], (it, flag)
