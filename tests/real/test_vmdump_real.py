"""A z/VM VMDUMP (format 64big) of the real s390x guest: the memory of QEMU's ELF file of the
stopped guest (tests/rig/qemu_rig.py, 512 MiB) written as VMDUMP by tests/gen (its program
headers read here with struct; pages of zeros are left out, as z/VM leaves them out).  The two
files hold the same memory, so pages, the kernel found and the pages kept at level 31 must agree
exactly.  (No reference reader of VMDUMP is packaged by Debian: s390-tools' zgetdump reads it,
on s390 only.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from util import RIG, need, our_digests, rig_release, run_cli, s390_ram

from pymakedumpfile import open_dump

RUN = Path(str(RIG) + "-s390x") / "dumps" / "mem512"
PS = 4096


@pytest.fixture(scope="module")
def vmdump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from gen.vmdump import build_vmdump

    need((RUN / "qemu-elf").exists(), f"no s390x rig run in {RUN} (tests/rig/make-dumps.sh makes it)")
    off, size = s390_ram(RUN / "qemu-elf")
    with open(RUN / "qemu-elf", "rb") as f:

        def page(p: int) -> bytes:
            f.seek(off + p * PS)
            return f.read(PS)

        path = tmp_path_factory.mktemp("vmdump") / "dump"
        build_vmdump(path, page, size)
    yield path
    path.unlink()


def test_pages_and_kernel(vmdump: Path) -> None:
    assert our_digests(vmdump) == our_digests(RUN / "qemu-elf")
    with open_dump(vmdump) as ctx:
        assert (ctx.attr["file.format"], ctx.attr["arch.name"]) == ("vmdump", "s390x")
        assert ctx.attr["linux.uts.release"] == rig_release(RUN)
    info = run_cli("--info", str(vmdump)).stdout
    assert "z/VM VMDUMP (64big) (vmdump)" in info and rig_release(RUN) in info


def test_level_31_as_from_the_elf(vmdump: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli("-l", "-d", "31", str(vmdump), str(a))
    run_cli("-l", "-d", "31", str(RUN / "qemu-elf"), str(b))
    assert our_digests(a) == our_digests(b)


def test_elf_d0_holds_every_page(vmdump: Path, tmp_path: Path) -> None:
    """-E -d 0: every page of the guest's storage, as QEMU's ELF dump holds it."""
    out = tmp_path / "d0.elf"
    run_cli("-E", "-d", "0", str(vmdump), str(out))
    assert our_digests(out) == our_digests(RUN / "qemu-elf")
