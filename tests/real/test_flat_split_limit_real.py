"""Flattened streams, split dumps, size limits and full disks on the real
dump (issue: flattened streams, split dumps, size limits and incomplete dumps)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from util import REPO, ZERO_DIGEST, assert_same_pages, lkdf, need, our_digests, run_cli

from pymakedumpfile import open_dump
from pymakedumpfile.input import open_reader


@pytest.fixture(scope="module")
def vmcore(mem512: Path) -> Path:
    return mem512 / "vmcore.elf"


@pytest.fixture(scope="module")
def direct(vmcore: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("direct")
    out = {}
    for name, opts in (("l31", ["-l", "-d", "31"]), ("elf31", ["-E", "-d", "31"])):
        run_cli(*opts, "--message-level", "0", str(vmcore), str(d / name))
        out[name] = d / name
    return out


def flatten_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pymakedumpfile", *args]


@pytest.mark.parametrize(("name", "opts"), [("l31", ["-l", "-d", "31"]), ("elf31", ["-E", "-d", "31"])])
def test_flatten_then_rearrange(name: str, opts: list[str], vmcore: Path, direct: dict[str, Path], tmp_path: Path,
                                makedumpfile: str) -> None:
    """-F | -R (ours and makedumpfile's) rebuilds the very file written directly."""
    flat = tmp_path / "flat"
    with open(flat, "wb") as f:
        p = subprocess.run(flatten_cmd("-F", *opts, "--message-level", "7", str(vmcore)), stdout=f,
                           stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    assert flat.read_bytes()[:12] == b"makedumpfile"
    with open(flat, "rb") as f:
        p = subprocess.run(flatten_cmd("-R", str(tmp_path / "ours")), stdin=f, capture_output=True, text=True,
                           cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    assert filecmp.cmp(tmp_path / "ours", direct[name], shallow=False)
    with open(flat, "rb") as f:
        p = subprocess.run([makedumpfile, "-R", str(tmp_path / "theirs")], stdin=f, capture_output=True, timeout=300)
    assert p.returncode == 0
    assert filecmp.cmp(tmp_path / "theirs", direct[name], shallow=False)
    # and our reader reads the stream in place
    assert our_digests(flat) == our_digests(direct[name])


def test_rearrange_refuses_garbage_and_truncation(tmp_path: Path, direct: dict[str, Path]) -> None:
    for data, needle in ((b"not a stream at all" * 300, "not a flattened stream"), (b"", "no data")):
        p = subprocess.run(flatten_cmd("-R", str(tmp_path / "x")), input=data, capture_output=True, cwd=REPO)
        assert p.returncode == 1 and needle in p.stderr.decode() and not (tmp_path / "x").exists()
    good = subprocess.run(flatten_cmd("-F", "-d", "0", "--message-level", "0", str(direct["l31"])),
                          capture_output=True, cwd=REPO).stdout
    p = subprocess.run(flatten_cmd("-R", str(tmp_path / "y")), input=good[: len(good) // 2], capture_output=True,
                       cwd=REPO)
    assert p.returncode == 1 and b"ends inside" in p.stderr and not (tmp_path / "y").exists()


def division(names: list[str]) -> tuple[list[tuple[int, int]], list[int]]:
    """The pfn range of each part of a split dump (its header) and the pages it holds."""
    readers = [open_reader(n) for n in names]
    ranges = [(r.start_pfn, r.end_pfn) for r in readers]
    return ranges, [r.pagemap.count(a, b) if b > a else 0 for r, (a, b) in zip(readers, ranges)]


def mdf_division(makedumpfile: str, vmcore: Path, parts: int, tmp: Path,
                 *opts: str) -> tuple[list[tuple[int, int]], list[int]]:
    """makedumpfile's own --split of ``vmcore``: :func:`division` of its parts."""
    names = [str(tmp / f"mdf{i}") for i in range(parts)]
    p = subprocess.run([makedumpfile, "--split", *opts, str(vmcore), *names], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    out = division(names)
    for n in names:
        os.unlink(n)
    return out


def check_division(ours: list[tuple[int, int]], pages: list[int], theirs: list[tuple[int, int]],
                   their_pages: list[int], stderr: str) -> None:
    """Our division is makedumpfile's; or, where makedumpfile leaves a part without pages, we
    used a smaller split block, said so, and every part holds pages, the largest at most twice
    the smallest."""
    if all(their_pages):
        assert ours == theirs
        assert "using split blocks of" not in stderr
    else:
        assert all(pages) and max(pages) <= 2 * min(pages), (ours, pages)
        assert f"{their_pages.count(0)} of the {len(ours)} parts would hold no page" in stderr
        assert ours[0][0] == theirs[0][0] and ours[-1][1] == theirs[-1][1]  # the whole dump, nothing lost


@pytest.mark.parametrize("dump", ["mem512", "mem512-la57", "bullseye"])
@pytest.mark.parametrize("block", ["65536", None], ids=["64MiB", "default"])
@pytest.mark.parametrize("parts", [2, 3, 8])
def test_split_division(dump: str, block: str | None, parts: int, mem512: Path, makedumpfile: str,
                        tmp_path: Path) -> None:
    """The division of each real vmcore at -d 31 into 2, 3 and 8 parts, with 64 MiB and the
    default 1 GiB split blocks, against makedumpfile's division of the same vmcore (on these
    kernels its level-31 bitmap equals ours: tests/real/test_levels_real.py).  Which parts
    makedumpfile leaves empty depends on where KASLR put the kernel in that boot, so both
    branches of check_division run, depending on the dump."""
    vmcore = (Path(str(mem512.parent.parent) + "-bullseye") / "dumps" / "mem512" if dump == "bullseye"
              else mem512.parent / dump) / "vmcore.elf"
    need(vmcore.exists(), f"no real vmcore {vmcore}")
    opts = ["-l", "-d", "31", *(["--splitblock-size", block] if block else [])]
    theirs, their_pages = mdf_division(makedumpfile, vmcore, parts, tmp_path, *opts)
    names = [str(tmp_path / f"part{i}") for i in range(parts)]
    p = run_cli("--split", *opts, str(vmcore), *names)
    ours, pages = division(names)
    # the same pages, divided; but pfn 0x9f, which a PT_LOAD covers in part: makedumpfile leaves
    # it out in cyclic mode, we keep it (tests/real/test_core_real.py, PARTIAL_PFN)
    partial = any(open_reader(n).pagemap.test(0x9F) for n in names)
    assert sum(pages) == sum(their_pages) + partial
    check_division(ours, pages, theirs, their_pages, p.stdout)  # messages on stdout, as makedumpfile's


@pytest.mark.parametrize("parts", [2, 3, 8])
def test_split_and_reassemble(parts: int, vmcore: Path, direct: dict[str, Path], tmp_path: Path, makedumpfile: str,
                              crash: str, libkdumpfile: str, mem512: Path, release: str) -> None:
    names = [str(tmp_path / f"part{i}") for i in range(parts)]
    # 64 MiB splitblocks, so a 512 MiB guest really splits
    run_cli("--split", "-l", "-d", "31", "--splitblock-size", "65536", "--message-level", "0", str(vmcore), *names)
    readers = [open_reader(n) for n in names]
    ranges = [(r.start_pfn, r.end_pfn) for r in readers]
    assert all(b > a for a, b in ranges), ranges  # every part holds pages (a smaller split block where needed)
    assert all(r.pagemap.count(a, b) for r, (a, b) in zip(readers, ranges))
    heads = {open(n, "rb").read(464) for n in names}
    assert len(heads) == 1  # main headers byte-identical (crash compares them)
    want = our_digests(direct["l31"])
    for order in (names, names[::-1]):
        assert our_digests(order) == want
    # crash on each part and on the whole set
    for args in [[n] for n in names] + [names]:
        p = subprocess.run([crash, "--osrelease", *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and p.stdout.strip() == release, (args, p.stdout, p.stderr)
    # libkdumpfile reads every page of the set
    ref = lkdf(direct["l31"])["pages"]
    got = lkdf(*names, max_pfn=readers[0].max_pfn)["pages"]
    assert got == ref
    # makedumpfile --reassemble of our parts gives our unsplit file, byte for byte
    mre = tmp_path / "mdf-reassembled"
    p = subprocess.run([makedumpfile, "--reassemble", *names, str(mre)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert filecmp.cmp(mre, direct["l31"], shallow=False)
    # our --reassemble of makedumpfile's parts gives pages equal to its unsplit dump
    theirs = [str(mem512 / f"mdf-ref/split.l.d31.{i}") for i in (1, 2, 3)]
    ours = tmp_path / "ours-reassembled"
    run_cli("--reassemble", *theirs, str(ours), "--message-level", "0")
    assert our_digests(ours) == our_digests(mem512 / "mdf-ref/dump.l.d31")
    assert open_reader(ours).sub.split == 0


def _check_incomplete(path: Path, complete: Path, crash: str, libkdumpfile: str, release: str) -> None:
    """Marked incomplete; crash and libkdumpfile open it; every page present
    reads correctly; the rest read as lost."""
    with open_dump(path) as c:
        assert c.attr["file.incomplete"] is True
    p = subprocess.run([crash, "--osrelease", str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == release, p.stdout + p.stderr
    mine = our_digests_lenient(path)
    full = our_digests(complete)
    assert 0 < len(mine) < len(full)
    assert all(full[p] == h for p, h in mine.items())
    theirs: dict[int, str] = lkdf(path)["pages"]  # type: ignore[assignment]
    # libkdumpfile agrees on every page it could read.  It zero-fills ELF gaps, and in an
    # incomplete ELF file the segments never written (p_filesz 0) too: a page of one reads as
    # zeros there though the complete file has its data, and it cannot tell such a lost page
    # from a page of zeros; our reader calls it lost (not in ``mine``).  Which kept pages fall in
    # such segments depends on where the cut and KASLR's kernel-text segment fall.
    lost_as_zeros = {p for p, h in theirs.items() if h == ZERO_DIGEST and p not in mine}
    read = {p: h for p, h in theirs.items() if p not in lost_as_zeros}
    assert_same_pages(read, {p: h for p, h in full.items() if p in read})
    assert len(set(theirs) & set(mine)) >= len(mine) - 1


def our_digests_lenient(path: Path) -> dict[int, str]:
    import hashlib

    from pymakedumpfile import PageExcludedError

    out = {}
    with open_dump(path) as c:
        for a, b in c.pagemap.runs():
            for pfn in range(a, b):
                try:
                    out[pfn] = hashlib.blake2b(c.read_pfn(pfn), digest_size=8).hexdigest()
                except PageExcludedError:
                    pass
    return out


@pytest.mark.parametrize("fmt", ["kdump", "elf"])
def test_size_limit_marks_incomplete(fmt: str, vmcore: Path, direct: dict[str, Path], tmp_path: Path, crash: str,
                                     libkdumpfile: str, release: str) -> None:
    full = direct["l31" if fmt == "kdump" else "elf31"]
    half = os.path.getsize(full) // 2
    out = tmp_path / "cut"
    opts = ["-l", "-d", "31"] if fmt == "kdump" else ["-E", "-d", "31"]
    p = run_cli(*opts, "-L", str(half), str(vmcore), str(out), check=False)
    assert p.returncode == 1 and "incomplete" in p.stderr
    assert os.path.getsize(out) <= half
    _check_incomplete(out, full, crash, libkdumpfile, release)


def test_retry_list_completes_at_next_level(vmcore: Path, direct: dict[str, Path], tmp_path: Path) -> None:
    limit = os.path.getsize(direct["l31"]) + 4096  # too small for -d 11, enough for -d 31
    out = tmp_path / "retried"
    p = run_cli("-l", "-d", "11,31", "-L", str(limit), str(vmcore), str(out))
    assert "retrying with dump level 31" in p.stdout
    assert filecmp.cmp(out, direct["l31"], shallow=False)


@pytest.fixture
def small_fs(tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A real filesystem (tmpfs, 16 MiB unless the test says) that fills up."""
    size = getattr(request, "param", "16m")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if (os.geteuid() != 0
            or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)]).returncode):
        need(False, "cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", str(mnt)])


def test_full_disk_marks_incomplete(small_fs: Path, vmcore: Path, direct: dict[str, Path], crash: str,
                                    libkdumpfile: str, tmp_path: Path, release: str) -> None:
    out = small_fs / "dump"
    p = run_cli("-l", "-d", "31", str(vmcore), str(out), check=False)
    assert p.returncode == 1 and "No space left" in p.stderr and "Traceback" not in p.stderr
    keep = tmp_path / "kept"
    shutil.copy(out, keep)
    _check_incomplete(keep, direct["l31"], crash, libkdumpfile, release)


@pytest.mark.parametrize("small_fs", ["22m"], indirect=True)
def test_full_disk_retry_fits_at_31(small_fs: Path, vmcore: Path, tmp_path: Path) -> None:
    """-d 1,31 on a disk too small for level 1 (150 MB) but big enough for 31 (18 MB with zlib)."""
    out = small_fs / "dump"
    p = run_cli("-c", "-d", "1,31", str(vmcore), str(out), check=False)
    assert p.returncode == 0, p.stderr
    assert "retrying with dump level 31" in p.stdout
    with open_dump(out) as c:
        assert c.attr["file.incomplete"] is False and c.attr["kdump.dump_level"] == 31


@pytest.mark.parametrize("kind", ["zstd", "lz4"])
def test_stream_compressed_elf_round_trip(kind: str, vmcore: Path, direct: dict[str, Path], tmp_path: Path) -> None:
    """--stream-compress: a compressed ELF reads back (by magic) to the same
    pages as the plain ELF, and is much smaller."""
    out = tmp_path / f"elf.{kind}"
    run_cli("-E", "-d", "31", "--stream-compress", kind, "--message-level", "0", str(vmcore), str(out))
    assert out.read_bytes()[:4] in (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18")
    assert os.path.getsize(out) < os.path.getsize(direct["elf31"]) // 2
    assert our_digests(out) == our_digests(direct["elf31"])
    with open_dump(out) as a, open_dump(direct["elf31"]) as b:
        assert [p for p in a.reader.phdrs] == [p for p in b.reader.phdrs]


def test_stream_compressed_flattened_rearranges(vmcore: Path, direct: dict[str, Path], tmp_path: Path) -> None:
    flat = tmp_path / "flat.zst"
    with open(flat, "wb") as f:
        p = subprocess.run(flatten_cmd("-F", "-l", "-d", "31", "--stream-compress", "zstd", "--message-level", "0",
                                       str(vmcore)), stdout=f, cwd=REPO, timeout=300)
    assert p.returncode == 0
    with open(flat, "rb") as f:
        p = subprocess.run(flatten_cmd("-R", str(tmp_path / "rebuilt")), stdin=f, capture_output=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert filecmp.cmp(tmp_path / "rebuilt", direct["l31"], shallow=False)
    assert our_digests(flat) == our_digests(direct["l31"])
