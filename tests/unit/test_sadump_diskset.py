"""SADUMP disk sets: a dump spread over several disks (tests/gen/sadump.py, ``disks=``), read
as the single partition holding the same pages reads, the disks after the first in any order;
a set given wrong is refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gen.sadump import build_sadump

from pymakedumpfile import open_dump
from pymakedumpfile.core.errors import DumpError

PS = 4096
PAGES = {p: (b"page %05d " % p * PS)[:PS] for p in range(400) if p % 7}


@pytest.fixture
def disks(tmp_path: Path) -> list[str]:
    return build_sadump(tmp_path / "d", PAGES, max_mapnr=400, disks=4)


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *map(str, args)], capture_output=True, text=True)


def test_disk_set_reads_as_its_single_partition(disks: list[str], tmp_path: Path) -> None:
    build_sadump(tmp_path / "one", PAGES, max_mapnr=400)
    for order in (disks, [disks[0], disks[3], disks[1], disks[2]]):
        with open_dump(order) as a, open_dump(str(tmp_path / "one")) as b:
            assert a.attr["sadump.disks"] == 4
            assert list(a.pagemap.runs()) == list(b.pagemap.runs())
            assert all(a.read_pfn(p) == data for p, data in PAGES.items())
    r = run("--info", *(f"--diskset={d}" for d in disks))
    assert r.returncode == 0, r.stderr
    assert "SADUMP disk set (4 disks)" in r.stdout
    out = tmp_path / "out"
    r = run("-d", "0", *(f"--diskset={d}" for d in disks), out)
    assert r.returncode == 0, r.stderr
    with open_dump(str(out)) as c:
        assert all(c.read_pfn(p) == data for p, data in PAGES.items())


@pytest.mark.parametrize("case", ["missing", "second-first", "other-set", "twice", "one"])
def test_wrong_sets_are_refused(disks: list[str], tmp_path: Path, case: str) -> None:
    if case == "missing":
        given, words = disks[:3], ["4 disks, 3 given"]
    elif case == "second-first":
        given, words = [disks[1], disks[0], disks[2], disks[3]], ["disk 2 of a SADUMP disk set"]
    elif case == "other-set":
        other = build_sadump(tmp_path / "o", {p: bytes(PS) for p in range(8)}, max_mapnr=8, disks=4,
                             set_guid=b"\x42" * 16)
        # another dump's disk 3: the same machine, another disk set
        given, words = [disks[0], disks[1], other[2], disks[3]], ["a disk of another dump"]
    elif case == "twice":
        given, words = [disks[0], disks[1], disks[1], disks[3]], ["disk number 2", "twice"]
    else:
        given, words = [disks[0]], ["two disks at least"]
    r = run("-d", "0", *(f"--diskset={d}" for d in given), tmp_path / "out")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    if case != "one":
        with pytest.raises(DumpError):
            open_dump(given)


def test_elf_d0_of_a_disk_set(disks: list[str], tmp_path: Path) -> None:
    """-E -d 0 of a disk set: every page of RAM, the ones the firmware dumped as the builder gave
    them, the others (RAM not dumped) as zeros."""
    out = tmp_path / "d0.elf"
    r = run("-E", "-d", "0", *(f"--diskset={d}" for d in disks), out)
    assert r.returncode == 0, r.stderr
    with open_dump(str(out)) as c:
        assert {p for a, b in c.pagemap.runs() for p in range(a, b)} == set(range(400))
        assert all(c.read_pfn(p) == PAGES.get(p, bytes(PS)) for p in range(400))


def test_libkdumpfile_reads_the_set_alike(tmp_path: Path) -> None:
    """libkdumpfile, which reads disk sets too, agrees on every page (every other page dumped:
    libkdumpfile 0.5 reads the first page of a run for each page of it, docs/images.md).

    It numbers the disk set header's volume records from disk 1, where makedumpfile (and we)
    number them from disk 2 (its header has room for 15 records, one fewer than the disks a set
    may have): on the set makedumpfile reads, libkdumpfile finds a volume ID mismatch.  With one
    volume GUID on every disk both readers accept the set, and then the pages are compared."""
    import hashlib
    import json

    from tests.needs import need_libkdumpfile

    py = need_libkdumpfile()
    dumped = {p: (b"disk-set %05d " % p * PS)[:PS] for p in range(0, 120, 2)}
    tool = Path(__file__).parent.parent / "tools" / "lkdf_pages.py"
    files = build_sadump(tmp_path / "m", dumped, max_mapnr=120, ram=set(dumped), disks=3)
    r = subprocess.run([py, str(tool), *files, "--max-pfn", "120"], capture_output=True, text=True)
    assert r.returncode != 0 and "Disk #2 volume ID mismatch" in r.stderr, r.stderr
    files = build_sadump(tmp_path / "s", dumped, max_mapnr=120, ram=set(dumped), disks=3, one_volume_id=True)
    r = subprocess.run([py, str(tool), *files, "--max-pfn", "120"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    theirs = {int(p): d for p, d in json.loads(r.stdout)["pages"].items()}
    assert theirs == {p: hashlib.blake2b(d, digest_size=8).hexdigest() for p, d in dumped.items()}
    with open_dump(files) as c:
        assert all(c.read_pfn(p) == d for p, d in dumped.items())
