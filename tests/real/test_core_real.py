"""Core issue acceptance on the real 512 MiB dump of the rig (Debian 6.1
kernel, captured by a real kexec panic) and QEMU's dumps of the same guest."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from util import ZERO_DIGEST, assert_same_pages, diff_pages, lkdf, our_digests, run_cli

from pymakedumpfile import open_dump
from pymakedumpfile.input import open_reader

PARTIAL_PFN = 0x9F  # the page the PT_LOAD ending at 0x9fc00 (QEMU pc + SeaBIOS) covers in part

# (name, CLI options): every output we write, from the real /proc/vmcore
OUTPUTS = [
    ("kdump-none-d0", ["-d", "0"]),
    ("kdump-zlib-d0", ["-c", "-d", "0"]),
    ("kdump-lzo-d1", ["-l", "-d", "1"]),
    ("kdump-snappy-d1", ["-p", "-d", "1"]),
    ("kdump-zstd-d1", ["-z", "-d", "1"]),
    ("elf-d0", ["-E", "-d", "0"]),
    ("elf-d1", ["-E", "-d", "1"]),
]


@pytest.fixture(scope="session")
def source(mem512: Path) -> Path:
    return mem512 / "vmcore.elf"


@pytest.fixture(scope="session")
def source_pages(source: Path, libkdumpfile: str) -> dict[int, str]:
    """The source's pages as libkdumpfile (not our reader) reads them."""
    return lkdf(source)["pages"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def outputs(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("outputs")
    out = {}
    for name, opts in OUTPUTS:
        run_cli(*opts, "--message-level", "0", str(source), str(d / name))
        out[name] = d / name
    return out


def test_source_read_by_us_equals_libkdumpfile(source: Path, source_pages: dict[int, str]) -> None:
    ours = our_digests(source)
    assert set(ours) <= set(source_pages)
    extra = set(source_pages) - set(ours)
    # libkdumpfile reads 4 unbacked pages at PT_LOAD edges as zeros; we call them holes
    assert len(extra) <= 4 and all(source_pages[p] == ZERO_DIGEST for p in extra)
    assert_same_pages(ours, source_pages)


@pytest.mark.parametrize("name", [n for n, _ in OUTPUTS])
def test_output_pages_equal_source(name: str, outputs: dict[str, Path], source: Path, source_pages: dict[int, str],
                                   release: str) -> None:
    """Every page the source holds reads back byte-identical from our output,
    through libkdumpfile; only zero pages are missing at -d 1 (ELF)."""
    out = lkdf(outputs[name])
    pages: dict[int, str] = out["pages"]  # type: ignore[assignment]
    assert_same_pages(pages, source_pages)
    # every non-zero page is there; zero pages are there unless -E -d 1 removed them
    nonzero = {p for p, h in source_pages.items() if h != ZERO_DIGEST}
    assert nonzero <= set(pages)
    assert out["release"] == release
    assert {"OSRELEASE", "PAGESIZE", "SYMBOL(swapper_pg_dir)", "NUMBER(phys_base)", "KERNELOFFSET", "CRASHTIME"} <= set(
        out["vmcoreinfo_keys"]  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("name", [n for n, _ in OUTPUTS])
def test_crash_opens_output(name: str, outputs: dict[str, Path], crash: str, release: str) -> None:
    p = subprocess.run([crash, "--osrelease", str(outputs[name])], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == release, p.stdout + p.stderr


@pytest.mark.parametrize("name", ["kdump-none-d0", "kdump-zlib-d0", "kdump-lzo-d1"])
def test_makedumpfile_rereads_output(name: str, outputs: dict[str, Path], makedumpfile: str, tmp_path: Path,
                                     source_pages: dict[int, str], libkdumpfile: str) -> None:
    """makedumpfile refilters our file at -d 0 (it cannot convert kdump to
    -E) and every page of its result equals the source.  Debian's 1.7.2 has
    no snappy/zstd, so those outputs are checked by crash and libkdumpfile."""
    dst = tmp_path / "refiltered"
    p = subprocess.run([makedumpfile, "-d", "0", str(outputs[name]), str(dst)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    pages: dict[int, str] = lkdf(dst)["pages"]  # type: ignore[assignment]
    assert_same_pages(pages, source_pages)
    assert {p for p, h in source_pages.items() if h != ZERO_DIGEST} <= set(pages)


# ---- every file the rig made reads the same through us as through an independent reader ----
RIG_FILES = [
    # (file we read, file libkdumpfile reads for the reference)
    ("vmcore.elf", "vmcore.elf"),
    ("qemu-elf", "qemu-elf"),
    ("qemu-kdump.zlib", "qemu-kdump.zlib.rearranged"),  # QEMU 7.2 writes kdump flattened
    ("mdf-ref/dump.c.d31", "mdf-ref/dump.c.d31"),
    ("mdf-ref/dump.l.d31", "mdf-ref/dump.l.d31"),
    ("mdf-ref/dump.l.d1", "mdf-ref/dump.l.d1"),
    ("mdf-ref/dump.none.d31", "mdf-ref/dump.none.d31"),
    ("mdf-ref/dump.elf.d31", "mdf-ref/dump.elf.d31"),
    ("mdf-ref/flat.l.d31", "mdf-ref/dump.l.d31.fromflat"),  # makedumpfile -F, and its -R
    ("mdf-ref/flat.elf.d31", "mdf-ref/dump.elf.d31.fromflat"),
]


@pytest.mark.parametrize(("ours", "ref"), RIG_FILES)
def test_rig_file_pages(ours: str, ref: str, mem512: Path, libkdumpfile: str) -> None:
    mine = our_digests(mem512 / ours)
    theirs: dict[int, str] = lkdf(mem512 / ref)["pages"]  # type: ignore[assignment]
    if "elf" in ref:  # libkdumpfile zero-fills around ELF segments
        assert_same_pages(mine, theirs)
        assert set(mine) <= set(theirs)
    else:
        assert mine == theirs, diff_pages(mine, theirs)


def test_rig_split_set_pages(mem512: Path, libkdumpfile: str) -> None:
    """makedumpfile's --split parts, opened as one set in any order, hold
    the pages of its --reassemble result."""
    parts = [str(mem512 / f"mdf-ref/split.l.d31.{i}") for i in (3, 1, 2)]
    mine = our_digests(parts)
    theirs: dict[int, str] = lkdf(mem512 / "mdf-ref/dump.l.d31.reassembled")["pages"]  # type: ignore[assignment]
    assert mine == theirs, diff_pages(mine, theirs)


def test_d1_zero_pages_match_makedumpfile(outputs: dict[str, Path], mem512: Path) -> None:
    """-d 1 excludes exactly the zero pages makedumpfile's -d 1 excludes.

    In the kdump format a zero page keeps its bit in bitmap 2 and points at
    the shared zero page, so we compare both bitmaps and the set of pfns
    whose descriptor is the zero page.  The one difference is pfn 0x9f, which
    the PT_LOAD ending at 0x9fc00 covers in part: makedumpfile leaves it out
    of both bitmaps in cyclic mode (every release; in non-cyclic mode 1.7.6+
    keeps it, commit f2c5f76); we keep it, so its data is not lost.
    """
    ref = open_reader(mem512 / "mdf-ref/dump.l.d1")
    ours = open_reader(outputs["kdump-lzo-d1"])
    assert ours.header == ref.header
    assert ours.sub == ref.sub
    for bm in ("memmap", "pagemap_full"):
        a, b = getattr(ours, bm).buf, getattr(ref, bm).buf
        diff = [i * 8 + j for i in range(len(a)) for j in range(8) if (a[i] ^ b[i]) >> j & 1]
        assert diff == [PARTIAL_PFN], (bm, diff[:10])
    assert _zero_desc_pfns(ours) - {PARTIAL_PFN} == _zero_desc_pfns(ref)
    assert len(_zero_desc_pfns(ref)) == _mdf_stat(mem512, "l-d1", "zero")  # its "Pages filled with zero"


def test_d0_bitmaps_match_makedumpfile(outputs: dict[str, Path], mem512: Path) -> None:
    ref = open_reader(mem512 / "mdf-ref/dump.c.d0") if (mem512 / "mdf-ref/dump.c.d0").exists() else None
    if ref is None:
        pytest.skip("no makedumpfile -c -d 0 reference")
    ours = open_reader(outputs["kdump-zlib-d0"])
    assert ours.header == ref.header and ours.sub == ref.sub
    for bm in ("memmap", "pagemap_full"):
        a, b = getattr(ours, bm).buf, getattr(ref, bm).buf
        diff = [i * 8 + j for i in range(len(a)) for j in range(8) if (a[i] ^ b[i]) >> j & 1]
        assert diff == [PARTIAL_PFN], (bm, diff[:10])


def test_api_read_and_attributes(source: Path, release: str) -> None:
    with open_dump(source) as ctx:
        a = ctx.attr
        assert a["file.format"] == "elf" and a["arch.name"] == "x86_64" and a["arch.page_size"] == 4096
        assert a["linux.uts.release"] == release
        assert a["linux.vmcoreinfo.lines.OSRELEASE"] == release
        assert a["cpu.number"] == 2 and len(a["cpu.0.PRSTATUS"]) > 0
        # init_uts_ns read by physical address holds the release
        va = a["linux.vmcoreinfo.SYMBOL.init_uts_ns"]
        pa = va - 0xFFFFFFFF80000000 + a["linux.phys_base"]
        assert (ctx.read_phys(pa + a["linux.vmcoreinfo.OFFSET.uts_namespace.name"] + 130, 65).rstrip(b"\0")
                == release.encode())
        clone = ctx.clone()
        clone.attr["file.format"] = "kdump"
        assert ctx.attr["file.format"] == "elf" and clone.attr["file.format"] == "kdump"


def test_elf_d1_byte_identical_to_makedumpfile(outputs: dict[str, Path], source: Path, makedumpfile: str,
                                               tmp_path: Path) -> None:
    """-E -d 1: same program headers, notes and segment data as makedumpfile,
    to the byte (the partial page 0x9f is a zero page, so both drop it)."""
    ref = tmp_path / "mdf.elf.d1"
    p = subprocess.run([makedumpfile, "-E", "-d", "1", str(source), str(ref)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert _same_file(ref, outputs["elf-d1"])


def test_elf_d0_segments_match_makedumpfile(outputs: dict[str, Path], mem512: Path) -> None:
    """-E -d 0: the same segments as makedumpfile's, except that the PT_LOAD
    ending at 0x9fc00 keeps its partial last page (1.7.2 drops it, 1.7.8
    keeps it); the file offsets after it shift by that page's 0xc00 bytes."""
    src = [ph for ph in open_reader(mem512 / "vmcore.elf").phdrs if ph.p_type == 1]
    partial = [ph for ph in src if (ph.p_paddr + ph.p_memsz) % 4096]
    assert [(ph.p_paddr + ph.p_memsz) // 4096 for ph in partial] == [PARTIAL_PFN]
    mine = [(ph.p_paddr, ph.p_vaddr, ph.p_filesz, ph.p_memsz) for ph in open_reader(outputs["elf-d0"]).phdrs]
    ref = [(ph.p_paddr, ph.p_vaddr, ph.p_filesz, ph.p_memsz)
           for ph in open_reader(mem512 / "mdf-ref/dump.elf.d0").phdrs]
    assert len(mine) == len(ref)
    diffs = [(m, r) for m, r in zip(mine, ref) if m != r]
    ph = partial[0]
    whole = ph.p_memsz - (ph.p_paddr + ph.p_memsz) % 4096
    assert diffs == [((ph.p_paddr, ph.p_vaddr, ph.p_memsz, ph.p_memsz), (ph.p_paddr, ph.p_vaddr, whole, ph.p_memsz))]


def _mdf_stat(mem512: Path, case: str, key: str) -> int:
    import json

    rows = json.loads((mem512 / "mdf-ref/summary.json").read_text())["cases"]
    return int(next(r for r in rows if r["case"] == case)["stats"][key])


def _same_file(a: Path, b: Path) -> bool:
    import filecmp

    return filecmp.cmp(a, b, shallow=False)


def _zero_desc_pfns(r: object) -> set[int]:
    zero_off = r.pd_offset + 24 * r.num_dumpable  # type: ignore[attr-defined]
    out = set()
    for a, b in r.pagemap.runs():  # type: ignore[attr-defined]
        for i, d in enumerate(r.raw_descriptors(a, b - a)):  # type: ignore[attr-defined]
            if d[0] == zero_off:
                out.add(a + i)
    return out
