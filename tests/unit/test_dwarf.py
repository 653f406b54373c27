"""-g VMCOREINFO -x VMLINUX: our VMCOREINFO from a kernel image's DWARF
against makedumpfile -g on the same image.

The image is a small "kernel" compiled by gcc (tests/gen/vmlinux.py), in
DWARF 4 and 5, with and without compressed debug sections; the real Debian
vmlinux is tests/real/test_dwarf_real.py's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gen.vmlinux import build_vmlinux
from needs import need, need_tool

from pymakedumpfile.input.dwarf import NoDebugInfoError, generate_vmcoreinfo

REPO = Path(__file__).resolve().parents[2]



def build(tmp: Path, *flags: str) -> Path:
    try:
        return build_vmlinux(tmp / ("vmlinux" + "".join(f.replace("-", "_").replace("=", "_") for f in flags)), *flags)
    except FileNotFoundError:
        need(False, "no C compiler")


def mdf_g(vmlinux: Path, tmp: Path) -> list[str]:
    mdf = need_tool("makedumpfile")
    out = tmp / "mdf.vmcoreinfo"
    p = subprocess.run([mdf, "-g", str(out), "-x", str(vmlinux)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return out.read_text().splitlines()


@pytest.mark.parametrize("flags", [("-gdwarf-5",), ("-gdwarf-4",), ("-gdwarf-5", "-gz=zlib")],
                         ids=["dwarf5", "dwarf4", "dwarf5-compressed"])
def test_same_lines_as_makedumpfile(tmp_path: Path, flags: tuple[str, ...]) -> None:
    vmlinux = build(tmp_path, *flags)
    ours = generate_vmcoreinfo(str(vmlinux), page_size=4096).decode().splitlines()
    theirs = mdf_g(vmlinux, tmp_path)
    assert len(theirs) > 60  # the structures above are found
    assert "OSRELEASE=6.1.0-dwarf-test" in ours
    # every line makedumpfile 1.7.2 writes, we write, in the same order; our
    # list is makedumpfile's current one, a few keys longer
    assert [ln for ln in ours if ln in theirs] == theirs, set(theirs) - set(ours)
    extra = {ln.split("=")[0] for ln in ours if ln not in theirs}
    # keys makedumpfile's current write_vmcoreinfo_data() has and 1.7.2 lacks
    assert extra <= {"OFFSET(folio._folio_dtor)", "OFFSET(folio._folio_order)", "SIZE(latched_seq)",
                     "OFFSET(latched_seq.val)", "OFFSET(printk_info.caller_id)", "SIZE(pageflags)"}, extra


def test_cli_g_and_x(tmp_path: Path) -> None:
    vmlinux = build(tmp_path, "-gdwarf-5")
    out = tmp_path / "vmcoreinfo"
    p = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-g", str(out), "-x", str(vmlinux)],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == generate_vmcoreinfo(str(vmlinux))
    assert (out.stat().st_mode & 0o777) == 0o600
    # an existing file is overwritten without -f, as makedumpfile's -g does (issue 15, point 8)
    out.write_bytes(b"old")
    again = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-g", str(out), "-x", str(vmlinux)],
                           capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0 and out.read_bytes() == generate_vmcoreinfo(str(vmlinux)), again.stderr
    mdf = need_tool("makedumpfile")
    theirs = tmp_path / "theirs"
    theirs.write_bytes(b"old")
    assert subprocess.run([mdf, "-g", str(theirs), "-x", str(vmlinux)], capture_output=True).returncode == 0
    assert theirs.read_bytes() != b"old"
    # an image that cannot be read leaves the file as it was (makedumpfile leaves it empty)
    bad = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-g", str(out), "-x", "/bin/true"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1 and out.read_bytes() == generate_vmcoreinfo(str(vmlinux))


def test_no_debug_info_is_one_line(tmp_path: Path) -> None:
    vmlinux = build(tmp_path, "-g0")
    with pytest.raises(NoDebugInfoError):
        generate_vmcoreinfo(str(vmlinux))
    out = tmp_path / "vmcoreinfo"
    p = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-g", str(out), "-x", str(vmlinux)],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("pymakedumpfile: ")]
    assert len(errors) == 1 and str(vmlinux) in errors[0] and "no debug information" in errors[0], p.stderr
    assert not out.exists()


def test_x_uses_the_images_vmcoreinfo(tmp_path: Path) -> None:
    """-x VMLINUX with a dump: an image of another kernel is refused in one
    line (the real image on the real dump: tests/real/test_dwarf_real.py)."""
    from gen import build_elf, make_note, prstatus_note, vmcoreinfo_text
    from gen.x86_64 import PAGE_OFFSET, x86_64_kernel

    vmlinux = build(tmp_path, "-gdwarf-5")
    kb = x86_64_kernel(first_pfn=1)
    mem = b"".join(kb.pages[p].data if p in kb.pages else bytes(4096) for p in range(8))
    dump = tmp_path / "vmcore"
    build_elf(dump, [(0, PAGE_OFFSET, mem)],
              notes=prstatus_note("x86_64") + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(kb.vmcoreinfo)))
    p = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-d", "31", "-x", str(vmlinux), str(dump),
                        str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "it is 6.1.0-dwarf-test, the dump is of 5.15.0-synthetic" in p.stderr, p.stderr
    assert not (tmp_path / "out").exists()


def test_damaged_debug_info_only_dump_errors(tmp_path: Path) -> None:
    """Random bytes over .debug_info, .debug_abbrev and the section headers:
    a DumpError or a result, nothing else."""
    import random

    from pymakedumpfile.core.errors import DumpError
    from pymakedumpfile.input.dwarf import Elf

    vmlinux = build(tmp_path, "-gdwarf-5")
    good = vmlinux.read_bytes()
    elf = Elf(str(vmlinux))
    spans = [(elf.sh[elf.sections[n]][4], elf.sh[elf.sections[n]][5]) for n in (".debug_info", ".debug_abbrev")]
    rnd = random.Random(1)
    bad = tmp_path / "bad"
    for i in range(150):
        data = bytearray(good)
        off, size = spans[i % 2]
        for _ in range(rnd.randint(1, 8)):
            data[off + rnd.randrange(size)] = rnd.randrange(256)
        bad.write_bytes(data)
        try:
            generate_vmcoreinfo(str(bad), page_size=4096)
        except DumpError:
            pass
