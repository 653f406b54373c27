"""An s390 stand-alone dump (S390DUMP) of the real s390x guest: the memory of QEMU's ELF file of
the stopped guest (tests/rig/qemu_rig.py, 512 MiB) written as S390DUMP by tests/gen (its program
headers read here with struct).  The two files hold the same bytes, so pages, the kernel found and
the pages kept at level 31 must agree exactly; libkdumpfile, which reads S390DUMP, must agree on
every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from util import RIG, lkdf, need, our_digests, rig_release, run_cli, s390_ram

from pymakedumpfile import open_dump

RUN = Path(str(RIG) + "-s390x") / "dumps" / "mem512"


@pytest.fixture(scope="module")
def s390dump(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from gen.s390dump import build_s390dump

    need((RUN / "qemu-elf").exists(), f"no s390x rig run in {RUN} (tests/rig/make-dumps.sh makes it)")
    off, size = s390_ram(RUN / "qemu-elf")
    with open(RUN / "qemu-elf", "rb") as f:

        def chunks() -> Iterator[bytes]:
            f.seek(off)
            left = size
            while left:
                c = f.read(min(left, 16 << 20))
                left -= len(c)
                yield c

        path = tmp_path_factory.mktemp("s390dump") / "dump"
        build_s390dump(path, chunks(), size)
    yield path
    path.unlink()


def test_pages_and_kernel(s390dump: Path) -> None:
    assert our_digests(s390dump) == our_digests(RUN / "qemu-elf")
    with open_dump(s390dump) as ctx:
        assert (ctx.attr["file.format"], ctx.attr["arch.name"]) == ("s390dump", "s390x")
        assert ctx.attr["linux.uts.release"] == rig_release(RUN)
    info = run_cli("--info", str(s390dump)).stdout
    assert "S390 stand-alone dump (s390dump)" in info and rig_release(RUN) in info


def test_libkdumpfile_agrees(s390dump: Path, libkdumpfile: str) -> None:
    theirs = lkdf(s390dump)
    assert theirs["format"] == "s390dump" and theirs["release"] == rig_release(RUN)
    assert theirs["pages"] == our_digests(s390dump)


def test_level_31_as_from_the_elf(s390dump: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli("-l", "-d", "31", str(s390dump), str(a))
    run_cli("-l", "-d", "31", str(RUN / "qemu-elf"), str(b))
    assert our_digests(a) == our_digests(b)
