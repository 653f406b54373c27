"""Dump levels 0-31 on real dumps: our dumped-pages bitmap and per-category
counts equal makedumpfile's for the same vmcore and level (translation
issue, acceptance 1 and 2)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from util import zero_pages_written

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.input import open_reader

PARTIAL_PFN = 0x9F  # see test_core_real: makedumpfile 1.7.2 drops the partial page, 1.7.8 and we keep it

STAT_KEYS = {
    "Pages filled with zero": "zero",
    "Non-private cache pages": "cache",
    "Private cache pages": "cache_private",
    "User process data pages": "user",
    "Free pages": "free",
    "Hwpoison pages": "hwpoison",
    "Offline pages": "offline",
}


def mdf_stats(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*([A-Za-z][A-Za-z -]+?)\s*:\s*(0x[0-9a-f]+)", line)
        if m and m.group(1) in STAT_KEYS:
            out[STAT_KEYS[m.group(1)]] = int(m.group(2), 16)
    return out


class MdfLevels:
    """makedumpfile's ``-l -d LEVEL --message-level 31`` of one vmcore, run once a level: its
    page statistics and its bitmap 2 are kept, the file only for level 31 (the low levels'
    files are nearly as large as the dump, and a module asks for 32 of them)."""

    def __init__(self, cmd: list[str], vmcore: Path, folder: Path) -> None:
        self.cmd, self.vmcore, self.folder = cmd, vmcore, folder
        self.cache: dict[int, tuple[Path, dict[str, int], bytes]] = {}

    def __call__(self, level: int) -> tuple[Path, dict[str, int], bytes]:
        """(the file, or where it was; its statistics; its bitmap 2)."""
        if level not in self.cache:
            out = self.folder / f"d{level}"
            p = subprocess.run([*self.cmd, "-l", "-d", str(level), "--message-level", "31", str(self.vmcore), str(out)],
                               capture_output=True, text=True, timeout=300)
            assert p.returncode == 0, p.stdout + p.stderr
            bitmap = bytes(open_reader(out).pagemap_full.buf)
            if level != 31:
                out.unlink()
            self.cache[level] = (out, mdf_stats(p.stdout + p.stderr), bitmap)
        return self.cache[level]


def bitmap_diff(a: bytes, b: bytes) -> list[int]:
    return [i * 8 + j for i in range(min(len(a), len(b))) for j in range(8) if (a[i] ^ b[i]) >> j & 1]


@pytest.fixture(scope="module", params=["mem512", "mem512-la57", "bullseye"])
def vmcore(request: pytest.FixtureRequest, mem512: Path) -> Path:
    """The 6.1 dumps (4- and 5-level paging) and Debian 11's 5.10 kernel."""
    d = mem512.parent / request.param
    if request.param == "bullseye":
        d = Path(str(mem512.parent.parent) + "-bullseye") / "dumps" / "mem512"
    if not (d / "vmcore.elf").exists():
        from util import need

        need(False, f"no real dump {d} (tests/rig/make-dumps.sh)")
    return d / "vmcore.elf"


@pytest.fixture(scope="module")
def reference(vmcore: Path, makedumpfile: str, tmp_path_factory: pytest.TempPathFactory) -> MdfLevels:
    """makedumpfile -l -d LEVEL --message-level 31 for each level, made once."""
    return MdfLevels([makedumpfile], vmcore, tmp_path_factory.mktemp("mdf"))


def _twin_subset(level: int) -> None:
    """The pure-Python twin is as exact but slow: under PYMAKEDUMPFILE_ACCEL=python
    it is checked on a representative subset of levels (every level natively)."""
    from pymakedumpfile import accel

    if accel.BACKEND == "python" and level not in (0, 1, 2, 4, 8, 16, 31):
        pytest.skip("pure-Python twin: subset of levels")


@pytest.mark.parametrize("level", range(32))
def test_bitmap_and_counts_equal_makedumpfile(level: int, vmcore: Path, reference: MdfLevels, tmp_path: Path) -> None:
    _twin_subset(level)
    _, ref_stats, ref_bitmap = reference(level)
    with open_dump(vmcore) as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        mine = w.pagemap.to_bytes(0, w.max_pfn)
        st = w.attr["filter.stats"]
        assert bitmap_diff(mine, ref_bitmap) == [PARTIAL_PFN]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])
        if level & 1:
            assert zero_pages_written(w, tmp_path) == ref_stats["zero"] + (1 if _is_zero(src, PARTIAL_PFN) else 0)


def _is_zero(ctx, pfn: int) -> bool:  # type: ignore[no-untyped-def]
    return ctx.read_pfn(pfn) == bytes(ctx.page_size)


@pytest.fixture(scope="module")
def qemu_elf(mem512: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """QEMU's dump-guest-memory ELF of the running guest, and the same file
    laid out the way makedumpfile 1.7.2 reads (it takes program headers from
    offset 64, QEMU puts them after the section headers): our -E -d 0 copy,
    whose pages the core tests show equal to QEMU's."""
    from util import run_cli

    q = mem512 / "qemu-elf"
    relaid = tmp_path_factory.mktemp("qemu") / "qemu-relaid.elf"
    run_cli("-E", "-d", "0", "--message-level", "0", str(q), str(relaid))
    return q, relaid


@pytest.mark.parametrize("level", range(32))
def test_qemu_elf_bitmap_equals_makedumpfile(level: int, qemu_elf: tuple[Path, Path], makedumpfile: str,
                                            tmp_path: Path) -> None:
    """A second, independent path to the same kernel state: QEMU's own dump
    of the guest (no kexec, no /proc/vmcore).  No partial pages here, so
    the bitmaps must be identical."""
    _twin_subset(level)
    q, relaid = qemu_elf
    out = tmp_path / "ref"
    p = subprocess.run([makedumpfile, "-l", "-d", str(level), "--message-level", "31", str(relaid), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref_stats = mdf_stats(p.stdout + p.stderr)
    ref = open_reader(out)
    with open_dump(q) as src:
        w = make_write_context(src, format="kdump", compression="lzo", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), bytes(ref.pagemap_full.buf)) == []
        assert bitmap_diff(w.attr["memory.pagemap"].to_bytes(0, w.max_pfn), bytes(ref.memmap.buf)) == []
        st = w.attr["filter.stats"]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])


@pytest.mark.parametrize("level", [2, 8, 16, 31])
def test_multi_cycle_dump_equals_makedumpfile(level: int, mem512: Path, makedumpfile: str, tmp_path: Path) -> None:
    """The 4 GiB guest (max_pfn 0x140000) spans two classification cycles
    (filter.CYCLE_PFNS): the cyclic page map, the whole map made from the same
    cycles, and makedumpfile's bitmap agree.  The dump is made by hand
    (tests/rig/make-dumps.sh makes it with PMD_RIG_BIG=1)."""
    from pymakedumpfile.core.pagemap import CyclicMap
    from pymakedumpfile.filter import CYCLE_PFNS

    vmcore = mem512.parent / "mem4096" / "vmcore.elf"
    if not vmcore.exists():
        pytest.skip("no 4 GiB real dump (PMD_RIG_BIG=1 tests/rig/make-dumps.sh)")
    out = tmp_path / "ref"
    p = subprocess.run([makedumpfile, "-l", "-d", str(level), "--message-level", "31", str(vmcore), str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    ref_stats = mdf_stats(p.stdout + p.stderr)
    ref = open_reader(out)
    with open_dump(vmcore) as src:
        assert src.max_pfn > CYCLE_PFNS
        cyc = make_write_context(src, format="kdump", dump_level=level)
        whole = make_write_context(src, format="kdump", dump_level=level, cyclic=False)
        assert isinstance(cyc.pagemap, CyclicMap) and not isinstance(whole.pagemap, CyclicMap)
        mine = cyc.pagemap.to_bytes(0, cyc.max_pfn)
        assert mine == whole.pagemap.to_bytes(0, whole.max_pfn)
        assert bitmap_diff(mine, bytes(ref.pagemap_full.buf)) == [PARTIAL_PFN]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(cyc.attr["filter.stats"], k) == ref_stats[k], k
            assert getattr(whole.attr["filter.stats"], k) == ref_stats[k], k
