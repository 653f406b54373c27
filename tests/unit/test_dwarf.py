"""-g VMCOREINFO -x VMLINUX: our VMCOREINFO from a kernel image's DWARF
against makedumpfile -g on the same image.

The image is a small "kernel" compiled by gcc (tests/gen/vmlinux.py), in
DWARF 4 and 5, with and without compressed debug sections; the real Debian
vmlinux is tests/real/test_dwarf_real.py's."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from gen.vmlinux import build_vmlinux
from needs import need, need_native, need_tool

from pymakedumpfile.core.errors import CorruptDumpError, DumpError
from pymakedumpfile.input.dwarf import Dwarf, Elf, NoDebugInfoError, generate_vmcoreinfo

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


# ---- the unit index: accel/dwarf.c, its twin, and the walk it replaced ----

def _reference_index(dw: Dwarf) -> tuple[dict[tuple[int, str], list[int]], dict[str, int], dict[str, int]]:
    """The unit index as one pass over every DIE in Python makes it (how
    Dwarf built it before accel.dwarf_skip): every name kept."""
    from pymakedumpfile.input import dwarf as d

    types: dict[tuple[int, str], list[int]] = {}
    variables: dict[str, int] = {}
    enumerators: dict[str, int] = {}
    for cu, p in dw._unit_headers():
        table = dw.abbrevs.table(cu.abbrev_off)
        depth, enum_depth, str_base = 0, -1, 8 if cu.version >= 5 else 0
        while p < cu.end:
            off = p
            code, p = d.uleb(dw.info, p)
            if code == 0:
                depth -= 1
                if depth <= enum_depth:
                    enum_depth = -1
                continue
            tag, children, specs = table[code]
            attrs: dict[int, object] = {}
            for at, form, ic in specs:
                attrs[at], p = dw.forms.read(form, p, cu, ic, str_base)
            if depth == 0 and d.A_STR_OFFSETS_BASE in attrs:
                str_base = int(attrs[d.A_STR_OFFSETS_BASE])  # type: ignore[call-overload]
            name = attrs.get(d.A_NAME)
            if isinstance(name, str):
                if tag in (d.T_STRUCT, d.T_UNION, d.T_TYPEDEF, d.T_ENUM):
                    types.setdefault((tag, name), []).append(off)
                elif tag == d.T_VARIABLE and depth == 1:
                    if d.A_DECL not in attrs or name not in variables:
                        variables[name] = off
                elif tag == d.T_ENUMERATOR and enum_depth >= 0:
                    cv = attrs.get(d.A_CONST_VALUE)
                    if isinstance(cv, int):
                        enumerators.setdefault(name, cv)
            if children:
                if tag == d.T_ENUM and enum_depth < 0:
                    enum_depth = depth
                depth += 1
    return types, variables, enumerators


@pytest.mark.parametrize("backend", ["native", "python"])
@pytest.mark.parametrize("flags", [("-gdwarf-5",), ("-gdwarf-4",), ("-gdwarf-5", "-gz=zlib")],
                         ids=["dwarf5", "dwarf4", "dwarf5-compressed"])
def test_index_same_as_the_full_walk(tmp_path: Path, flags: tuple[str, ...], backend: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Dwarf's index (accel.dwarf_skip passing over what it cannot keep) is
    the one a decode of every DIE makes; with WANTED, its part of it."""
    from pymakedumpfile import accel
    from pymakedumpfile.input import dwarf as d

    impl = accel.implementations("dwarf_skip")
    need_native(backend in impl, "no native accel module")
    monkeypatch.setattr(d.accel, "dwarf_skip", impl[backend])
    monkeypatch.setattr(d.accel, "dwarf_layout", accel.implementations("dwarf_layout")[backend])
    vmlinux = build(tmp_path, *flags)
    full = Dwarf(Elf(str(vmlinux)))
    types, variables, enumerators = _reference_index(full)
    assert len(types) > 20 and variables and len(enumerators) > 10
    assert (full.types, full.variables, full.enumerators) == (types, variables, enumerators)
    part = Dwarf(Elf(str(vmlinux)), d.WANTED)
    assert part.types == {k: v for k, v in types.items() if k[1] in d.WANTED}
    assert part.variables == {k: v for k, v in variables.items() if k in d.WANTED}
    assert part.enumerators == {k: v for k, v in enumerators.items() if k in d.WANTED}
    assert part.declarations == {o for k, v in part.types.items() for o in v
                                 if d.A_DECL in part.die(o).attrs}


def _stops(dw: Dwarf, skip: Callable[..., tuple[int, int, int]], layout_of: Callable[..., bytes | None],
           names: bytes | None) -> list[tuple[int, ...]]:
    """Every stop of ``skip`` over the units of ``dw``, stepping over the DIE
    it stops at as the index does (a unit whose DIE cannot be decoded ends
    there)."""
    from pymakedumpfile.input import dwarf as d

    out: list[tuple[int, ...]] = []
    for cu, p in dw._unit_headers():
        layout = layout_of(dw.abbrev, cu.abbrev_off)
        out.append((-1, 0 if layout is None else len(layout), hash(layout)))
        layout = d._NO_LAYOUT if layout is None else layout
        depth, enum_depth = 0, -1
        while p < cu.end:
            p, depth, enum_depth = skip(dw.info, p, cu.end, depth, enum_depth, layout, names, dw.str,
                                        dw.line_str, dw.str_offsets, 8 if cu.version >= 5 else 0,
                                        cu.offset_size, cu.addr_size, cu.version, dw.e == ">")
            out.append((p, depth, enum_depth))
            if p >= cu.end:
                break
            try:
                code, p = d.uleb(dw.info, p)
                if code == 0:
                    depth -= 1
                    enum_depth = -1 if depth <= enum_depth else enum_depth
                    continue
                tag, children, specs = dw.abbrevs.table(cu.abbrev_off)[code]
                for _at, form, ic in specs:
                    _, p = dw.forms.read(form, p, cu, ic, 8 if cu.version >= 5 else 0)
            except (IndexError, KeyError, ValueError, struct.error, DumpError):
                break
            if children:
                enum_depth = depth if tag == d.T_ENUM and enum_depth < 0 else enum_depth
                depth += 1
    return out


def test_dwarf_skip_and_layout_twins_agree(tmp_path: Path) -> None:
    """accel/dwarf.c and its pure-Python twin stop at the same DIEs, and lay
    out the abbreviations alike, on a real image and on damaged copies of
    its .debug_info and .debug_abbrev."""
    import random

    from pymakedumpfile import accel
    from pymakedumpfile.input import dwarf as d

    skips, layouts = accel.implementations("dwarf_skip"), accel.implementations("dwarf_layout")
    need_native("native" in skips and "native" in layouts, "no native accel module")
    blob = d.Dwarf(Elf(str(build(tmp_path, "-gdwarf-4"))), d.WANTED)._names_blob
    rnd = random.Random(7)
    for flags in (("-gdwarf-5",), ("-gdwarf-4",)):
        dw = Dwarf(Elf(str(build(tmp_path, *flags))))
        info, abbrev = bytes(dw.info), bytes(dw.abbrev)
        for trial in range(40):
            dw.info, dw.abbrev = bytearray(info), bytearray(abbrev)
            if trial:
                target = dw.info if trial % 2 else dw.abbrev
                for _ in range(rnd.randint(1, 6)):
                    target[rnd.randrange(len(target))] = rnd.randrange(256)
            dw.info, dw.abbrev = bytes(dw.info), bytes(dw.abbrev)
            dw.abbrevs = d.Abbrevs(dw.abbrev)
            dw.forms.info = dw.info
            for names in (blob, None):
                try:
                    want = _stops(dw, skips["python"], layouts["python"], names)
                except (CorruptDumpError, IndexError, struct.error):
                    continue  # the unit headers themselves are damaged
                assert _stops(dw, skips["native"], layouts["native"], names) == want, (flags, trial)
