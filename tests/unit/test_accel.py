"""The compiled kernels and their pure-Python twins agree."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from needs import need_native

from pymakedumpfile import accel


def impl(name: str, backend: str):  # type: ignore[no-untyped-def]
    return accel.implementations(name)[backend]


def _pages(seed: int, n: int, ps: int = 4096) -> bytes:
    rnd = random.Random(seed)
    out = bytearray()
    for _ in range(n):
        kind = rnd.randrange(4)
        if kind == 0:
            out += bytes(ps)
        elif kind == 1:
            p = bytearray(ps)
            p[rnd.randrange(ps)] = rnd.randrange(1, 256)  # one non-zero byte anywhere
            out += p
        elif kind == 2:
            out += rnd.randbytes(ps)
        else:
            out += (b"kernel text " * 400)[:ps]
    return bytes(out)


@pytest.mark.parametrize("seed", range(5))
def test_zero_pages(backend: str, seed: int) -> None:
    buf = _pages(seed, 37)
    bitmap, count = impl("zero_pages", backend)(buf, 4096)
    want = [buf[i * 4096 : (i + 1) * 4096] == bytes(4096) for i in range(37)]
    assert count == sum(want)
    assert [bool(bitmap[i >> 3] >> (i & 7) & 1) for i in range(37)] == want
    assert len(bitmap) == (37 + 7) // 8


def test_zero_pages_rejects_partial_page(backend: str) -> None:
    with pytest.raises(ValueError):
        impl("zero_pages", backend)(bytes(4097), 4096)


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_is_zero_and_popcount_agree(data: bytes) -> None:
    for backend, fn in accel.implementations("is_zero").items():
        assert fn(data) == (data.count(0) == len(data)), backend
    want = sum(bin(b).count("1") for b in data)
    for backend, fn in accel.implementations("popcount").items():
        assert fn(data) == want, backend


@given(st.binary(max_size=20000))
@settings(max_examples=150, deadline=None)
def test_lzo_native_python_identical(data: bytes) -> None:
    impls = accel.implementations("lzo1x_1_compress")
    outs = {k: f(data) for k, f in impls.items()}
    assert len(set(outs.values())) == 1
    comp = next(iter(outs.values()))
    for backend, d in accel.implementations("lzo1x_decompress_safe").items():
        assert d(comp, len(data)) == data, backend


def test_native_releases_gil() -> None:
    """Four threads compressing at once finish, and give the same results as
    one thread (the native kernels release the GIL around their loops)."""
    need_native(accel.NATIVE_AVAILABLE, "native accel not built")
    pages = [_pages(s, 64) for s in range(8)]
    single = [accel.lzo1x_1_compress_native(p) for p in pages]  # type: ignore[attr-defined]
    with ThreadPoolExecutor(4) as ex:
        multi = list(ex.map(accel.lzo1x_1_compress_native, pages))  # type: ignore[attr-defined]
        zp = list(ex.map(lambda p: accel.zero_pages_native(p, 4096), pages))  # type: ignore[attr-defined]
    assert multi == single
    assert zp == [accel.zero_pages_python(p, 4096) for p in pages]


def test_policy_env_selects_backend() -> None:
    code = "from pymakedumpfile import accel; print(accel.BACKEND)"
    env = dict(os.environ, PYMAKEDUMPFILE_ACCEL="python")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "python"
    env["PYMAKEDUMPFILE_ACCEL"] = "bogus"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "PYMAKEDUMPFILE_ACCEL" in p.stderr


def _mixed_batch(rnd: random.Random, n: int, alphabet: str, ps: int = 4096) -> tuple[list[str], list[bytes], bytes]:
    """Kinds, pages and a skip bitmap (5 pages skipped) for the batch
    kernels: z zero, r random, t text, h half random and half zeros."""
    kinds = [rnd.choice(alphabet) for _ in range(n)]
    pages = [bytes(ps) if k == "z" else rnd.randbytes(ps) if k == "r"
             else rnd.randbytes(ps // 2) + bytes(ps // 2) if k == "h" else (b"text %d " % i * 600)[:ps]
             for i, k in enumerate(kinds)]
    skip = bytearray((n + 7) // 8)
    for i in rnd.sample(range(n), 5):
        skip[i >> 3] |= 1 << (i & 7)
    return kinds, pages, bytes(skip)


def _run_batch(fn: Any, pages: list[bytes], skip: bytes, *level: int) -> tuple[bytes, Any, Any, list[bytes | None]]:
    """Run batch kernel ``fn``; the data, sizes, flags and each page's
    bytes in the data (None for a skipped page, checked to be skipped)."""
    from array import array

    n, ps = len(pages), len(pages[0])
    sizes, flags = array("I", bytes(4 * n)), array("I", bytes(4 * n))
    data = fn(b"".join(pages), ps, skip, sizes, flags, *level)
    chunks: list[bytes | None] = []
    pos = 0
    for i in range(n):
        if skip[i >> 3] >> (i & 7) & 1:
            assert (sizes[i], flags[i]) == (0, accel.PAGE_SKIPPED)
            chunks.append(None)
            continue
        chunks.append(data[pos : pos + sizes[i]])
        pos += sizes[i]
    assert pos == len(data)
    return data, sizes, flags, chunks


@pytest.mark.parametrize("seed", range(4))
def test_zlib_pages_twins_and_compress2(backend: str, seed: int) -> None:
    """The -c batch kernel: the same bytes from C and Python, each page the
    stream zlib.compress(page, 1) gives (compress2 at Z_BEST_SPEED, as
    makedumpfile writes), raw when it does not shrink, skipped pages left
    out; zero pages (whose compressed form C copies) included."""
    import zlib
    from array import array

    if backend == "native" and "native" not in accel.implementations("zlib_pages"):
        if os.environ.get("PYMAKEDUMPFILE_FORCE_NATIVE") == "1":
            pytest.fail("the native module was built without zlib")
        pytest.skip("native module built without zlib headers")
    fn = accel.implementations("zlib_pages")[backend]
    rnd = random.Random(seed)
    ps, n = 4096, 37
    kinds, pages, skip = _mixed_batch(rnd, n, "zrtz")
    data, sizes, flags, chunks = _run_batch(fn, pages, skip, 1)
    for i, (p, chunk) in enumerate(zip(pages, chunks)):
        if chunk is None:
            continue
        want = zlib.compress(p, 1)
        if len(want) < ps:
            assert (flags[i], chunk) == (1, want)
        else:
            assert (flags[i], sizes[i], chunk) == (0, ps, p)
    other = accel.implementations("zlib_pages")["python"]
    s2, f2 = array("I", bytes(4 * n)), array("I", bytes(4 * n))
    assert other(b"".join(pages), ps, skip, s2, f2, 1) == data and (s2, f2) == (sizes, flags)


@pytest.mark.parametrize("seed", range(4))
def test_deflate_pages_twins(backend: str, seed: int) -> None:
    """The kernel -c uses (libdeflate in C when built with it, else
    compress2's; the standard library's zlib in the twin): every compressed
    page is one zlib stream that the standard library's zlib (the same
    inflate as makedumpfile, crash and libkdumpfile) turns back into the
    page, a page that does not shrink is raw, skipped pages are left out;
    both backends make the same decisions on these pages."""
    import zlib

    impls = accel.implementations("deflate_pages")
    if backend == "native" and "native" not in impls:
        if os.environ.get("PYMAKEDUMPFILE_FORCE_NATIVE") == "1":
            pytest.fail("the native module was built without libdeflate (libdeflate-dev)")
        pytest.skip("native module built without libdeflate.h")
    rnd = random.Random(seed)
    ps, n = 4096, 41
    kinds, pages, skip = _mixed_batch(rnd, n, "zrtzh")  # h: shrinks a little, the edge of "kept compressed"
    fn = impls[backend]
    _, sizes, flags, chunks = _run_batch(fn, pages, skip, 1)
    for i, (p, chunk) in enumerate(zip(pages, chunks)):
        if chunk is None:
            continue
        if flags[i] == 1:
            assert sizes[i] < ps and zlib.decompress(chunk) == p
            assert chunk[0] == 0x78  # a zlib header: deflate, 32 KiB window
        else:
            assert (flags[i], sizes[i], chunk) == (0, ps, p) and kinds[i] == "r"
    assert all(flags[i] == 1 for i in range(n) if kinds[i] != "r" and not skip[i >> 3] >> (i & 7) & 1)
    with pytest.raises(ValueError):
        fn(b"".join(pages), ps, skip, sizes, flags, 13)


def test_zlib_engine_is_libdeflate_when_built() -> None:
    """CI builds with libdeflate-dev: -c then writes with libdeflate."""
    if os.environ.get("PYMAKEDUMPFILE_FORCE_NATIVE") == "1" and accel.BACKEND == "native":
        assert accel.ZLIB_ENGINE == "libdeflate"
    elif accel.BACKEND == "python":
        assert accel.ZLIB_ENGINE == "python"
    else:
        assert accel.ZLIB_ENGINE in ("libdeflate", "zlib")


@pytest.mark.parametrize("seed", range(4))
def test_zstd_pages_twins(backend: str, seed: int) -> None:
    """The -z batch kernel (libzstd in C, python-zstandard in the twin): each
    compressed page is one zstd frame that decompresses to the page, a page
    that does not shrink is raw, skipped pages are left out; both backends
    make the same decisions (frames may differ: two libzstd versions)."""

    import zstandard

    if backend == "native" and "native" not in accel.implementations("zstd_pages"):
        if os.environ.get("PYMAKEDUMPFILE_FORCE_NATIVE") == "1":
            pytest.fail("the native module was built without libzstd")
        pytest.skip("native module built without zstd.h")
    rnd = random.Random(seed)
    ps, n = 4096, 41
    _, pages, skip = _mixed_batch(rnd, n, "zrtz")
    results = {}
    for name, fn in accel.implementations("zstd_pages").items():
        _, sizes, flags, chunks = _run_batch(fn, pages, skip, 1)
        d = zstandard.ZstdDecompressor()
        for i, (p, chunk) in enumerate(zip(pages, chunks)):
            if chunk is None:
                continue
            if flags[i] == 0x20:
                assert sizes[i] < ps and d.decompress(chunk) == p
            else:
                assert (flags[i], sizes[i], chunk) == (0, ps, p)
        results[name] = list(flags)
    assert len(set(map(tuple, results.values()))) == 1  # same raw / compressed / skipped decisions
