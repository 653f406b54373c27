"""-X: the crash dump of a Xen host filtered to the hypervisor and dom0.

The dumps are tests/gen/xen.py's ``build_xen_host``: an x86_64 Xen 4.17 machine of 32 MiB whose
every frame's owner and state the builder chose (dom0, two other domains, dom_xen, Xen's heap and
image, free, offlined, broken, being offlined, a frame-table page left unmapped), so the frames
-X keeps are known without reading the dump back.  makedumpfile 1.7.2, which Debian builds with
its Xen code, is the second opinion where it can be one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gen.xen import XEN_SYMS_LAYOUT, XenHost, build_xen_host, build_xen_syms

from pymakedumpfile import open_dump
from tests.needs import need, need_tool

PS = 4096


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, XenHost]:
    path = tmp_path_factory.mktemp("xen") / "xen.elf"
    return path, build_xen_host(path)


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *map(str, args)], capture_output=True, text=True)


def kept(path: Path) -> set[int]:
    with open_dump(str(path)) as c:
        return {p for a, b in c.pagemap.runs() for p in range(a, b)}


def zero(h: XenHost) -> set[int]:
    return {f for f, d in h.pages.items() if d == bytes(PS)}


def one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, r.stderr
    for w in words:
        assert w in err[0], err[0]


def test_the_builder_made_every_kind(host: tuple[Path, XenHost]) -> None:
    """The machine has every case the rule distinguishes, each kept or not as it says."""
    _, h = host
    kinds = set(h.kind.values())
    assert kinds == {"xen", "heap", "dom0", "dom1", "dom2", "domxen", "anon", "inuse", "free", "offlined", "broken",
                     "offlining0", "offlining1", "noinfo"}
    for f, k in h.kind.items():
        assert (f in h.keep) == (k in ("xen", "heap", "dom0", "anon", "inuse", "offlining0")), (f, k)
    assert zero(h) & h.keep and zero(h) - h.keep  # zero frames among kept and dropped ones


@pytest.mark.parametrize("level", [0, 1])
@pytest.mark.parametrize("fmt", ["-c", "-l", ""])
def test_x_keeps_the_hypervisor_and_dom0(host: tuple[Path, XenHost], tmp_path: Path, fmt: str, level: int) -> None:
    src, h = host
    out = tmp_path / "out"
    r = run(*([fmt] if fmt else []), "-X", "-d", level, src, out)
    assert r.returncode == 0, r.stderr
    # a kdump file keeps zero pages in its bitmap (they point at one shared zero page)
    assert kept(out) == h.keep
    with open_dump(str(out)) as c:
        for f in sorted(h.keep):
            assert c.read_pfn(f) == h.pages[f], f


@pytest.mark.parametrize("level", [0, 1])
def test_x_page_map_of_elf_output(host: tuple[Path, XenHost], level: int) -> None:
    """ELF output: the page map leaves out the zero pages too at level 1.  (In the file, runs
    of fewer than 256 excluded pages between kept ones are written all the same, as makedumpfile
    writes them: the next test.)"""
    from pymakedumpfile.filter import make_write_context
    from pymakedumpfile.filter.xen import XenOptions

    src, h = host
    with open_dump(str(src)) as c:
        w = make_write_context(c, format="elf", dump_level=level, xen=XenOptions())
        got = {p for a, b in w.pagemap.runs() for p in range(a, b)}
        assert got == (h.keep - zero(h) if level else h.keep)
        assert w.attr["filter.stats"].xen == len(h.pages) - len(h.keep)


@pytest.mark.parametrize("level", [0, 1])
def test_x_output_is_makedumpfiles(host: tuple[Path, XenHost], tmp_path: Path, level: int) -> None:
    """ELF and uncompressed kdump files are makedumpfile's byte for byte (a kdump header's
    utsname empty: the machine ran Xen, and no Linux VMCOREINFO says more).  Compressed with
    zlib, the same pages and map (the pages themselves are compressed by libdeflate, not zlib:
    other bytes)."""
    mdf = need_tool("makedumpfile")
    src, _ = host
    for opt in (["-E"], [], ["-c"]):
        theirs, ours = tmp_path / f"m{opt}", tmp_path / f"o{opt}"
        subprocess.run([mdf, *opt, "-X", "-d", str(level), str(src), str(theirs)], check=True, capture_output=True)
        r = run(*opt, "-X", "-d", level, src, ours)
        assert r.returncode == 0, r.stderr
        if opt != ["-c"]:
            assert ours.read_bytes() == theirs.read_bytes(), opt
        else:
            assert kept(ours) == kept(theirs)
            with open_dump(str(ours)) as a, open_dump(str(theirs)) as b:
                assert all(a.read_pfn(f) == b.read_pfn(f) for f in kept(ours))


def test_page_info_that_straddles_pages(tmp_path: Path) -> None:
    """A ``struct page_info`` of 40 bytes does not tile a page: entries straddle two pages of the
    frame table and are read field by field (Xen's 32 bytes are read a table page at a time)."""
    src, out = tmp_path / "h40.elf", tmp_path / "out"
    layout = {"SIZE(page_info)": 40, "OFFSET(page_info.count_info)": 8, "OFFSET(page_info._domain)": 36}
    h = build_xen_host(src, layout=layout)
    assert any(k == "noinfo" for k in h.kind.values())
    r = run("-X", "-d", "0", src, out)
    assert r.returncode == 0, r.stderr
    assert kept(out) == h.keep
    mdf = need_tool("makedumpfile")
    theirs = tmp_path / "m"
    subprocess.run([mdf, "-X", "-d", "0", str(src), str(theirs)], check=True, capture_output=True)
    assert out.read_bytes() == theirs.read_bytes()


def test_crash_info_without_phys_start(tmp_path: Path) -> None:
    """A crash-info note of version 1 does not say where Xen's image is: --xen_phys_start must."""
    src, out = tmp_path / "v1.elf", tmp_path / "out"
    h = build_xen_host(src, crash_info=1)
    one_line_error(run("-X", "-d", "1", src, out), str(src), "--xen_phys_start")
    assert not out.exists()
    r = run("-X", "-d", "0", "--xen_phys_start", hex(h.xen_phys_start), src, out)
    assert r.returncode == 0, r.stderr
    assert kept(out) == h.keep
    mdf = need_tool("makedumpfile")
    theirs = tmp_path / "m"
    subprocess.run([mdf, "-X", "-d", "0", "--xen_phys_start", hex(h.xen_phys_start), str(src), str(theirs)],
                   check=True, capture_output=True)
    assert out.read_bytes() == theirs.read_bytes()


def test_vmcoreinfo_from_a_file(tmp_path: Path) -> None:
    """Without a VMCOREINFO_XEN note, --xen-vmcoreinfo gives it."""
    src, out, vi = tmp_path / "nonote.elf", tmp_path / "out", tmp_path / "vmcoreinfo"
    h = build_xen_host(src, vmcoreinfo_note=False)
    one_line_error(run("-X", "-d", "0", src, out), str(src), "--xen-vmcoreinfo")
    vi.write_bytes(h.vmcoreinfo)
    r = run("-X", "-d", "0", "--xen-vmcoreinfo", vi, src, out)
    assert r.returncode == 0, r.stderr
    assert kept(out) == h.keep


def test_xen_syms(tmp_path: Path) -> None:
    """--xen-syms: the variables and members read from a compiled xen-syms's symbols and DWARF,
    at a layout other than the builder's own; -g --xen-syms writes what makedumpfile writes."""
    try:
        syms_file = tmp_path / "xen-syms"
        syms = build_xen_syms(syms_file)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        need(False, f"cannot build a xen-syms: {e}")
        return
    src, out = tmp_path / "host.elf", tmp_path / "out"
    h = build_xen_host(src, vmcoreinfo_note=False, symbols=syms, layout=XEN_SYMS_LAYOUT)
    r = run("-X", "-d", "0", "--xen-syms", syms_file, src, out)
    assert r.returncode == 0, r.stderr
    assert kept(out) == h.keep
    ours = tmp_path / "vi.ours"
    r = run("-g", ours, "--xen-syms", syms_file)
    assert r.returncode == 0, r.stderr
    lines = set(ours.read_text().splitlines())
    assert {f"{k}={v}" for k, v in XEN_SYMS_LAYOUT.items()} <= lines
    assert {f"SYMBOL({k})={v:x}" for k, v in syms.items()} <= lines
    out2 = tmp_path / "out2"
    r = run("-X", "-d", "0", "--xen-vmcoreinfo", ours, src, out2)
    assert r.returncode == 0, r.stderr
    assert out2.read_bytes() == out.read_bytes()
    mdf = need_tool("makedumpfile")
    theirs = tmp_path / "vi.theirs"
    subprocess.run([mdf, "-g", str(theirs), "--xen-syms", str(syms_file)], check=True, capture_output=True)
    assert ours.read_text() == theirs.read_text()


def test_refused(tmp_path: Path, host: tuple[Path, XenHost]) -> None:
    src, _ = host
    out = tmp_path / "out"
    one_line_error(run("-X", "-d", "31", src, out), str(src), "dump level 31")
    plain = tmp_path / "plain.elf"
    build_xen_host(plain, crash_info=-1)  # no crash-info note: any ELF dump
    one_line_error(run("-X", "-d", "0", plain, out), str(plain), "Xen")
    old = tmp_path / "xen3.elf"
    build_xen_host(old, version=(3, 4))
    one_line_error(run("-X", "-d", "0", old, out), str(old), "Xen 4")
    assert not out.exists()
    r = run("-d", "0", "--xen_phys_start", "0x400000", src, out)
    assert r.returncode == 0 and "ignored without -X" in r.stderr


def test_info_names_the_xen_version(host: tuple[Path, XenHost], tmp_path: Path) -> None:
    import json

    src, h = host
    r = run("--info", "--json", src)
    assert r.returncode == 0, r.stderr
    x = json.loads(r.stdout)["xen"]
    assert (x["type"], x["version"], x["phys_start"]) == ("hypervisor", "4.17", h.xen_phys_start)
    assert x["domains"] == [0, 1, 2, 0x7FF2, 0x7FF1]  # domain_list, then dom_xen and dom_io
    r = run("--info", src)
    assert "Xen 4.17, image at 0x400000; domains 0, 1, 2, 0x7ff2, 0x7ff1" in r.stdout
    bare = tmp_path / "nonote.elf"
    build_xen_host(bare, vmcoreinfo_note=False)
    r = run("--info", "--json", bare)
    assert r.returncode == 0 and json.loads(r.stdout)["xen"]["domains"] is None
