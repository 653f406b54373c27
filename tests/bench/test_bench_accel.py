"""Opt-in micro-benchmarks of the accel kernels (pytest -m benchmark tests/bench).

Classification throughput is reported as GB/s of struct page data, on the
real mem_map of the rig's 512 MiB dump when it is there (else on a
synthetic array built from the same VMCOREINFO), for both backends.
"""

from __future__ import annotations

import ctypes
import os
import random
from array import array
from pathlib import Path

import pytest

from pymakedumpfile import accel
from pymakedumpfile.filter.params import Cnt

pytestmark = pytest.mark.benchmark
RIG = Path(os.environ.get("PMD_RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig"))


@pytest.fixture(scope="module")
def mem_map_data():  # type: ignore[no-untyped-def]
    """(struct pages, count, params, valid bitmap) from the real dump."""
    from pymakedumpfile import open_dump
    from pymakedumpfile.filter.memmap import find_mem_map
    from pymakedumpfile.filter.params import C, build_params

    vm = RIG / "dumps/mem512/vmcore.elf"
    if not vm.exists():
        pytest.skip("real dump missing (tests/rig/make-dumps.sh)")
    with open_dump(vm) as ctx:
        vi = ctx.reader.vmcoreinfo
        km = ctx.kernel_memory()
        params = build_params(vi, 31, 8, False)
        ranges = find_mem_map(vi, km, ctx.max_pfn, ctx.page_size, "x86_64")
        sz = params[C.SIZE_PAGE]
        data = b"".join(km.read(r.mem_map, (r.pfn_end - r.pfn_start) * sz) for r in ranges[:3])
        n = len(data) // sz
        valid = b"\xff" * ((n + 7) // 8)
        return data, n, params, valid


@pytest.mark.parametrize("backend", ["native", "python"])
def test_classify_throughput(benchmark, backend: str, mem_map_data) -> None:  # type: ignore[no-untyped-def]
    fns = accel.implementations("classify")
    if backend not in fns:
        pytest.skip("native accel not built")
    data, n, params, valid = mem_map_data
    fn = fns[backend]
    if backend == "python":
        n = min(n, 16384)
        data = data[: n * 64]
        valid = valid[: (n + 7) // 8]

    def run() -> None:
        keep = bytearray(b"\xff" * len(valid))
        fn(data, n, 0, n, 0, params, valid, keep, n, array("Q", [0] * Cnt.N))

    benchmark(run)
    gbps = n * 64 / benchmark.stats.stats.median / 1e9
    benchmark.extra_info["GB/s of struct page"] = round(gbps, 3)
    print(f"\nclassify[{backend}]: {gbps:.3f} GB/s of struct page data ({n} pages)")


@pytest.mark.parametrize("backend", ["native", "python"])
def test_zero_detection_throughput(benchmark, backend: str) -> None:  # type: ignore[no-untyped-def]
    fns = accel.implementations("zero_pages")
    if backend not in fns:
        pytest.skip("native accel not built")
    buf = bytearray(4096 * 2048)
    rnd = random.Random(0)
    for i in range(0, 2048, 2):  # half zero pages, half with one late non-zero byte
        buf[i * 4096 + rnd.randrange(2048, 4096)] = 1
    buf = bytes(buf)
    benchmark(fns[backend], buf, 4096)
    gbps = len(buf) / benchmark.stats.stats.median / 1e9
    benchmark.extra_info["GB/s"] = round(gbps, 3)
    print(f"\nzero_pages[{backend}]: {gbps:.2f} GB/s")


def _pages() -> bytes:
    rnd = random.Random(1)
    out = bytearray()
    libc = Path("/lib/x86_64-linux-gnu/libc.so.6").read_bytes()[: 256 * 4096]
    for i in range(256):
        k = i % 4
        if k == 0:
            out += bytes(4096)
        elif k == 1:
            out += libc[i * 4096 : (i + 1) * 4096]
        elif k == 2:
            out += (b"struct page %08x " % i * 300)[:4096]
        else:
            out += rnd.randbytes(4096)
    return bytes(out)


@pytest.mark.parametrize("impl", ["native", "liblzo2"])
def test_lzo_compress_throughput(benchmark, impl: str) -> None:  # type: ignore[no-untyped-def]
    data = _pages()
    pages = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    if impl == "native":
        if not accel.NATIVE_AVAILABLE:
            pytest.skip("native accel not built")
        fn = accel.lzo1x_1_compress_native  # type: ignore[attr-defined]

        def run() -> None:
            for p in pages:
                fn(p)
    else:
        try:
            lib = ctypes.CDLL("liblzo2.so.2")
        except OSError:
            pytest.skip("liblzo2 missing")
        wrk = ctypes.create_string_buffer(16384 * 8)
        out = ctypes.create_string_buffer(4096 + 4096 // 16 + 67)
        olen = ctypes.c_size_t()

        def run() -> None:
            for p in pages:
                lib.lzo1x_1_compress(p, ctypes.c_size_t(len(p)), out, ctypes.byref(olen), wrk)

    benchmark(run)
    mbps = len(data) / benchmark.stats.stats.median / 1e6
    benchmark.extra_info["MB/s"] = round(mbps, 1)
    print(f"\nlzo1x_1_compress[{impl}]: {mbps:.0f} MB/s")


@pytest.mark.parametrize("kernel", ["lzo_pages", "zlib_pages", "deflate_pages", "zstd_pages"])
def test_batch_compress_throughput(benchmark, kernel: str) -> None:  # type: ignore[no-untyped-def]
    """The writers' batch kernels on 256 mixed pages (MB/s of input): -l,
    -c with compress2 (makedumpfile's zlib) and with libdeflate (ours), -z."""
    fn = accel.implementations(kernel).get("native")
    if fn is None or (kernel == "deflate_pages" and accel.ZLIB_ENGINE != "libdeflate"):
        pytest.skip(f"native {kernel} not built")
    data = _pages()
    n = len(data) // 4096
    sizes, flags = array("I", bytes(4 * n)), array("I", bytes(4 * n))
    args = () if kernel == "lzo_pages" else (1,)
    benchmark(lambda: fn(data, 4096, None, sizes, flags, *args))
    mbps = len(data) / benchmark.stats.stats.median / 1e6
    benchmark.extra_info["MB/s"] = round(mbps, 1)
    print(f"\n{kernel}: {mbps:.0f} MB/s")
