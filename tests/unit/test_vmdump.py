"""z/VM VMDUMP (format 64big): the files are tests/gen/vmdump.py's.  Storage pages of zeros are
not stored and read as zeros; the registers of each CPU come from the dump file information
records; a file of another format or cut short is refused by name.  (A real s390x kernel in a
VMDUMP: tests/real/test_vmdump_real.py.)"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from gen.vmdump import build_vmdump

from pymakedumpfile import open_dump
from pymakedumpfile.core.errors import CorruptDumpError, UnsupportedDumpError

PS = 4096
TOTAL = 3 * 4096 * 8 * 4096 // 4096 // 8 + 777  # pages: more than one bitmap block, a partial last one
PAGES = {p: (b"page %07d " % p * PS)[:PS] for p in range(0, TOTAL, 5)}
PAGES.update({p: bytes(PS) for p in range(1, TOTAL, 50)})  # zero pages given: not stored either


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def vmd(tmp_path: Path) -> Path:
    p = tmp_path / "vmdump"
    build_vmdump(p, PAGES, TOTAL * PS, cpus=3)
    return p


def test_pages(vmd: Path) -> None:
    stored = sum(1 for d in PAGES.values() if any(d))
    assert vmd.stat().st_size < (stored + 64) * PS  # the zeros are not in the file
    with open_dump(str(vmd)) as c:
        assert (c.attr["file.format"], c.attr["arch.name"], c.max_pfn) == ("vmdump", "s390x", TOTAL)
        assert c.pagemap.count() == TOTAL  # every page of storage reads: zeros where nothing is stored
        for p in list(range(0, 40)) + list(range(TOTAL - 40, TOTAL)) + list(range(4090, 4200)):
            assert c.read_pfn(p) == PAGES.get(p, bytes(PS)), p
        assert c.reader.read_pages(4094, 8) == b"".join(PAGES.get(p, bytes(PS)) for p in range(4094, 4102))


def test_registers_and_time(vmd: Path) -> None:
    r = run("--info", "--json", vmd)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["format"] == "vmdump"
    cpus = info["registers"]
    assert [c["cpu"] for c in cpus] == [0, 1, 2]
    for c in cpus:  # the builder's registers: CPU n's register i is n * 0x100 + i
        assert [c["regs"][f"r{i}"] for i in range(16)] == [c["cpu"] * 0x100 + i for i in range(16)]
        assert c["regs"]["psw_addr"] == 0x1000 + c["cpu"]
    with open_dump(str(vmd)) as ctx:
        # TOD 0xde00 0000 0000 0000: (0xde00... - TOD at 1970) >> 12 microseconds
        assert ctx.attr["linux.crashtime"] == ((0xDE00_0000_0000_0000 - 0x7D91_048B_CA00_0000) >> 12) // 10**6


def test_ranges_give_the_size(tmp_path: Path) -> None:
    p = tmp_path / "v"
    build_vmdump(p, {0: b"x" * PS}, 64 * PS, ranges=[(0, 16 * PS - 1), (32 * PS, 48 * PS - 1)])
    with open_dump(str(p)) as c:
        assert c.max_pfn == 48  # the last range's last byte, plus one, as zgetdump takes it


def test_refused(tmp_path: Path, vmd: Path) -> None:
    old = tmp_path / "esame"
    build_vmdump(old, {0: b"x" * PS}, 16 * PS, fmt=0x82)
    with pytest.raises(UnsupportedDumpError, match="format 0x82: only 64big"):
        open_dump(str(old))
    cut = tmp_path / "cut"
    cut.write_bytes(vmd.read_bytes()[: vmd.stat().st_size - PS])
    with pytest.raises(CorruptDumpError, match="run past the end of the file"):
        open_dump(str(cut))
    bad = bytearray(vmd.read_bytes())
    struct.pack_into(">8s", bad, PS * 8, b"XXXXXXXX")  # the address space record
    (tmp_path / "bad").write_bytes(bad)
    r = run("--info", tmp_path / "bad")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "ASIZBK" in r.stderr
