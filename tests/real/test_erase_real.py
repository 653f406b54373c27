"""--config on the real 6.1 dump with the kernel's -dbg vmlinux, against makedumpfile 1.7.2 with
the same configuration: the same bytes erased, every other byte equal, the same eraseinfo;
crash shows the record and reads the erased bytes as erased; libkdumpfile reads the pages we
wrote.

Both tools read the same vmcore, so nothing may differ between the two runs but pfn 0x9f
(a page the first PT_LOAD covers in part: makedumpfile 1.7.2 leaves it out, see
test_core_real).  What is erased depends on the guest (how many modules and file systems it
has, how long its command line is): the test compares the two tools, and checks that the
erasing is not empty, not the values themselves."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from util import RIG, lkdf, need, our_digests, run_cli

from pymakedumpfile import open_dump

PARTIAL_PFN = 0x9F

# a global structure's members, a string through a pointer, the kernel log with its size read
# from the dump, a pointer set to NULL, an array in a loop, a list through a member (via) and
# a list_head list (within), two erases in one loop
CONFIG = """\
[vmlinux]
erase init_uts_ns.name.nodename
erase init_uts_ns.name.domainname size 10
erase saved_command_line
erase log_buf size log_buf_len
erase init_task.comm size 8
erase init_task.stack nullify
for fs in file_systems via next
\terase fs.name
endfor
for h in hstates
\terase h.name
endfor
for m in modules.next within module:list
  erase m.name
  erase m.version
endfor
"""


@pytest.fixture(scope="module")
def erased(mem512: Path, vmlinux: Path, makedumpfile: str, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("erase")
    conf = d / "erase.conf"
    conf.write_text(CONFIG)
    src = mem512 / "vmcore.elf"
    out = {"conf": conf, "src": src, "ours": d / "ours.l", "theirs": d / "theirs.l"}
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(conf), "-x", str(vmlinux), str(src),
            str(out["ours"]), timeout=600)
    p = subprocess.run([makedumpfile, "-l", "-d", "31", "--message-level", "0", "--config", str(conf), "-x",
                        str(vmlinux), str(src), str(out["theirs"])], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    return out


def eraseinfo(path: Path) -> bytes:
    with open_dump(path) as ctx:
        return bytes(ctx.attr.get("file.eraseinfo.raw", b""))


def test_same_bytes_erased_as_makedumpfile(erased: dict[str, Path]) -> None:
    ours, theirs = our_digests(erased["ours"]), our_digests(erased["theirs"])
    ours.pop(PARTIAL_PFN, None)
    theirs.pop(PARTIAL_PFN, None)
    assert ours == theirs
    info = eraseinfo(erased["ours"])
    assert info == eraseinfo(erased["theirs"])
    lines = info.decode().splitlines()
    # every command erased something, the loops once per element
    for expr in ("init_uts_ns.name.nodename size 65", "init_uts_ns.name.domainname size 10",
                 "init_task.comm size 8", "init_task.stack nullify"):
        assert f"erase {expr}" in lines
    assert re.search(r"^erase log_buf size \d{5,}$", info.decode(), re.M)
    assert sum(ln.startswith("erase fs.name size ") for ln in lines) >= 5
    assert sum(ln.startswith("erase m.name size 56") for ln in lines) >= 1


def test_only_erased_bytes_change(erased: dict[str, Path]) -> None:
    """Against the vmcore, our output differs only where the eraseinfo says: each changed byte
    is now 'X' (or 0 for the nullified pointer), and as many changed as were erased (less the
    bytes that already held the fill)."""
    changed = fills = 0
    with open_dump(erased["ours"]) as out, open_dump(erased["src"]) as src:
        ps = out.page_size
        for a, b in out.reader.pagemap.runs():
            for p in range(a, b):
                x, y = out.reader.read_page(p), src.reader.read_page(p)
                if x == y:
                    continue
                diff = [i for i in range(ps) if x[i] != y[i]]
                assert all(x[i] in (0x58, 0) for i in diff), hex(p)
                changed += len(diff)
    for ln in eraseinfo(erased["ours"]).decode().splitlines():
        fills += int(ln.rsplit(" ", 1)[1]) if " size " in ln else 8
    assert 100_000 < changed <= fills


def test_crash_shows_the_record_and_the_erased_bytes(erased: dict[str, Path], vmlinux: Path, crash: str) -> None:
    """crash with --no_modules: CONFIG erases every module's name (56 bytes, no NUL left), and crash
    8.0.2, loading the modules' symbols, reads past the names ("module name greater than
    MAX_MOD_NAME"); on the dump of a rig made afresh on a new machine it then spun for more than the
    10 minutes allowed here, on makedumpfile's file as on ours. The record and the erased bytes do
    not depend on the modules."""
    p = subprocess.run([crash, "--no_modules", "-s", str(vmlinux), str(erased["ours"])],
                       input="help -D\np init_uts_ns.name.nodename\n"
                       "p init_task.comm\nquit\n", capture_output=True, text=True, errors="replace", timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    n = len(eraseinfo(erased["ours"]))
    assert re.search(rf"size_eraseinfo: {n} ", p.stdout), p.stdout[-3000:]
    assert "erase init_uts_ns.name.nodename size 65" in p.stdout
    assert "Kernel data has been erased from this dumpfile" in p.stdout
    assert re.search(r'^\$1 = "X{65}"$', p.stdout, re.M), p.stdout[-3000:]  # the 65 bytes of nodename
    assert re.search(r'^\$2 = "XXXXXXXX[^X]', p.stdout, re.M), p.stdout[-3000:]  # comm's first 8 bytes


def test_libkdumpfile_reads_the_erased_pages(erased: dict[str, Path], libkdumpfile: str) -> None:
    theirs = lkdf(erased["ours"])["pages"]
    assert theirs == our_digests(erased["ours"])


def test_refilter_keeps_the_record(erased: dict[str, Path], tmp_path: Path) -> None:
    """A dump erased before keeps its eraseinfo through a refilter (makedumpfile copies it)."""
    out = tmp_path / "again.c"
    run_cli("-c", "-d", "31", "--message-level", "0", str(erased["ours"]), str(out))
    assert eraseinfo(out) == eraseinfo(erased["ours"]) != b""


@pytest.mark.parametrize("text, line, needle", [
    ("erase init_uts_ns.name.nodename\nerase no_such_symbol_here\n", 2, "no symbol 'no_such_symbol_here'"),
    ("erase init_uts_ns.name.nosuchmember\n", 1, "struct new_utsname ('init_uts_ns.name') has no member "
                                                 "'nosuchmember'"),
    ("\nerase init_uts_ns.name.nodename size 66\n", 2, "size 66 is past the end of 'init_uts_ns.name.nodename' "
                                                       "(65 bytes)"),
    ("for m in modules within module:list\n erase m.nosuch\nendfor\n", 2, "has no member 'nosuch'"),
    ("erase init_uts_ns.name.nodename nullify\n", 1, "is not a pointer"),
    ("[ext4]\nerase ext4_fs_type\n", 1, "[ext4]: no debug file ext4.ko in "),  # loaded, no debug file here
    ("[qemu_fw_cfg]\nerase fw_cfg_rev\nerase no_such_symbol\n", 3, "no symbol 'no_such_symbol' in "),
])
def test_bad_objects_are_one_line_and_write_nothing(text: str, line: int, needle: str, mem512: Path,
                                                    vmlinux: Path, tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    out = tmp_path / "out"
    p = run_cli("-l", "-d", "31", "--config", str(conf), "-x", str(vmlinux), str(mem512 / "vmcore.elf"), str(out),
                check=False, timeout=600)
    assert p.returncode == 1 and not out.exists()
    err = [ln for ln in p.stderr.splitlines() if ln.strip() and "Failed" not in ln]
    assert len(err) == 1 and err[0].startswith(f"pymakedumpfile: {conf}:{line}: ") and needle in err[0], p.stderr


def test_split_parts_record_their_own_and_reassemble_joins_them(erased: dict[str, Path], vmlinux: Path,
                                                               makedumpfile: str, tmp_path: Path) -> None:
    """--split: each part records what was erased in its pages; together they are the whole
    dump's record.  --reassemble joins them in part order, as makedumpfile's does."""
    parts = [tmp_path / f"part.{i}" for i in (1, 2, 3)]
    run_cli("--split", "-l", "-d", "31", "--message-level", "0", "--config", str(erased["conf"]), "-x", str(vmlinux),
            str(erased["src"]), *map(str, parts), timeout=600)
    each = [eraseinfo(p) for p in parts]
    assert sum(1 for e in each if e) >= 2  # the erased objects are spread over the parts
    assert sorted(b"".join(each).splitlines()) == sorted(eraseinfo(erased["ours"]).splitlines())
    ours, theirs = tmp_path / "joined.ours", tmp_path / "joined.theirs"
    run_cli("--reassemble", "--message-level", "0", *map(str, parts), str(ours))
    p = subprocess.run([makedumpfile, "--message-level", "0", "--reassemble", *map(str, parts), str(theirs)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert eraseinfo(ours) == eraseinfo(theirs) == b"".join(each)
    assert our_digests(ours) == our_digests(theirs)


def _loads(path: Path) -> list[tuple[int, int, int]]:
    """(file offset, physical address, file size) of each PT_LOAD."""
    p = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True, check=True)
    return [(int(f[1], 16), int(f[3], 16), int(f[4], 16)) for f in (ln.split() for ln in p.stdout.splitlines())
            if f and f[0] == "LOAD"]


def test_elf_output_and_where_makedumpfile_leaves_a_second_copy(erased: dict[str, Path], vmlinux: Path,
                                                                 makedumpfile: str, tmp_path: Path) -> None:
    """-E -d 1: the same file as makedumpfile's, header, ERASEINFO note and page data, except
    where makedumpfile is wrong.  The x86_64 vmcore maps the kernel image's physical pages
    twice, in the kernel text PT_LOAD and again in the direct map's.  makedumpfile erases a
    range once, in the first PT_LOAD that holds it, so the second copy of log_buf, the
    command line and the file system names stays in its output unerased.  We erase every copy.
    Every byte where the two files differ is in such a second copy, is erased in ours, and
    holds the vmcore's byte in theirs."""
    ours, theirs = tmp_path / "ours.elf", tmp_path / "theirs.elf"
    args = ["-E", "-d", "1", "--message-level", "0", "--config", str(erased["conf"]), "-x", str(vmlinux),
            str(erased["src"])]
    run_cli(*args, str(ours), timeout=600)
    p = subprocess.run([makedumpfile, *args, str(theirs)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    loads = _loads(theirs)
    assert loads == _loads(ours)
    a, b = ours.read_bytes(), theirs.read_bytes()
    assert len(a) == len(b)
    first = loads[0][0]
    assert a[:first] == b[:first]  # ELF header, program headers, notes with ERASEINFO
    assert b"ERASEINFO\0" in a[:first] and eraseinfo(erased["ours"]) in a[:first]
    src = open_dump(erased["src"])
    seen: list[tuple[int, int]] = []  # physical ranges of the PT_LOADs before
    second = 0
    try:
        for off, pa, size in loads:
            step = 1 << 20
            for i in range(0, size, step):
                x, y = a[off + i : off + min(i + step, size)], b[off + i : off + min(i + step, size)]
                if x == y:
                    continue
                for j in (k for k in range(len(x)) if x[k] != y[k]):
                    addr = pa + i + j
                    assert any(s <= addr < e for s, e in seen), f"{addr:#x} differs in its first copy"
                    assert x[j] in (0x58, 0) and bytes([y[j]]) == src.read_phys(addr, 1)
                    second += 1
            seen.append((pa, pa + size))
    finally:
        src.close()
    assert second > 1000  # log_buf alone is 128 KiB


HOOK = '''
def erase(obj):
    """Keep the name of the ext4 file system type, erase everything else."""
    if obj.expr == "fs.name":
        return obj.string() != "ext4"
    return True
'''


def test_filter_hook_decides_per_object(erased: dict[str, Path], vmlinux: Path, tmp_path: Path) -> None:
    """--filter-hook: the hook keeps one object (the string "ext4" behind one file_system_type's
    name); the output then differs from the one without the hook in those 4 bytes only, and its
    record has one line less."""
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    out = tmp_path / "hooked.l"
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(erased["conf"]), "--filter-hook", str(hook),
            "-x", str(vmlinux), str(erased["src"]), str(out), timeout=600)
    full = eraseinfo(erased["ours"]).decode().splitlines()
    mine = eraseinfo(out).decode().splitlines()
    assert len(mine) == len(full) - 1 and "erase fs.name size 4" in full
    changed = []
    with open_dump(out) as a, open_dump(erased["ours"]) as b:
        for s, e in a.reader.pagemap.runs():
            for p in range(s, e):
                x, y = a.reader.read_page(p), b.reader.read_page(p)
                if x != y:
                    changed += [(p, i) for i in range(len(x)) if x[i] != y[i]]
                    i = changed[0][1]
                    assert x[i : i + 4] == b"ext4" and y[i : i + 4] == b"XXXX"
    assert len(changed) == 4


def test_a_failing_hook_is_one_line_and_writes_nothing(erased: dict[str, Path], vmlinux: Path,
                                                       tmp_path: Path) -> None:
    hook = tmp_path / "bad.py"
    hook.write_text("def erase(obj):\n    return obj.nosuchattribute\n")
    out = tmp_path / "out"
    p = run_cli("-l", "-d", "31", "--config", str(erased["conf"]), "--filter-hook", str(hook), "-x", str(vmlinux),
                str(erased["src"]), str(out), check=False, timeout=600)
    assert p.returncode == 1 and not out.exists() and "Traceback" not in p.stderr
    err = [ln for ln in p.stderr.splitlines() if ln.strip() and "Failed" not in ln]
    assert len(err) == 1 and f"{hook}: the filter hook failed on init_uts_ns.name.nodename" in err[0], p.stderr
    assert "AttributeError" in err[0]


MODULE_CONFIG = """\
[vmlinux]
erase init_uts_ns.name.nodename
[qemu_fw_cfg]
erase fw_cfg_rev
for e in fw_cfg_entry_cache within fw_cfg_sysfs_entry:list
  erase e.name
endfor
[no_such_module_here]
erase whatever
"""


def test_a_module_section(mem512: Path, vmlinux: Path, crash: str, tmp_path: Path) -> None:
    """A [MODULE] section: the module's symbols come from the table the dump's kernel kept
    (where it loaded it), its types from its debug file beside the -x image (the -dbg
    package's lib/modules), read with its relocations.  crash, given the same debug file
    (`mod -s`), reads the module's objects as erased in our output and as they were in the
    vmcore.  A section of a module the machine did not load is skipped with a warning.
    (makedumpfile erases the wrong member for `e.name`: see the test after the next.)"""
    ko = next(iter(vmlinux.parent.parent.glob("lib/modules/*/kernel/drivers/firmware/qemu_fw_cfg.ko")), None)
    if ko is None:
        pytest.skip("no debug file of qemu_fw_cfg (tests/rig/make-dumps.sh extracts it)")
    conf = tmp_path / "m.conf"
    conf.write_text(MODULE_CONFIG)
    out = tmp_path / "m.l"
    p = run_cli("-l", "-d", "31", "--config", str(conf), "-x", str(vmlinux), str(mem512 / "vmcore.elf"), str(out),
                timeout=600)
    assert f"{conf}:8: [no_such_module_here] is not loaded in the dump: its commands are skipped" in p.stderr
    lines = eraseinfo(out).decode().splitlines()
    assert lines[:2] == ["erase init_uts_ns.name.nodename size 65", "erase fw_cfg_rev size 4"]
    names = lines[2:]
    assert len(names) >= 5 and set(names) == {"erase e.name size 56"}  # QEMU's fw_cfg files, 56-byte names
    script = (f"mod -s qemu_fw_cfg {ko}\np/x fw_cfg_rev\n"
              "list -H fw_cfg_entry_cache -o fw_cfg_sysfs_entry.list -s fw_cfg_sysfs_entry.name\nquit\n")
    seen = {}
    for name, dump in (("ours", out), ("vmcore", mem512 / "vmcore.elf")):
        r = subprocess.run([crash, "-s", str(vmlinux), str(dump)], input=script, capture_output=True, text=True,
                           errors="replace", timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        seen[name] = (re.findall(r"^\$1 = (0x[0-9a-f]+)$", r.stdout, re.M), re.findall(r'name = "([^"]*)"', r.stdout))
    assert seen["ours"][0] == ["0x58585858"] and seen["vmcore"][0] and seen["vmcore"][0] != ["0x58585858"]
    assert seen["ours"][1] == ["X" * 56] * len(names)
    assert len(seen["vmcore"][1]) == len(names) and "etc/vmcoreinfo" in {n.split("\\")[0] for n in seen["vmcore"][1]}


def run_mdf_with_module(makedumpfile: str, vmlinux: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """makedumpfile with the module qemu_fw_cfg's files where it looks for them (elfutils'
    offline kernel search): the module in /lib/modules/RELEASE and its debug file in
    /usr/lib/debug/lib/modules/RELEASE, the image in /usr/lib/debug/boot.  They are laid over
    /usr/lib with an overlay in a private mount namespace, so the machine is left as it was."""
    release = vmlinux.name.removeprefix("vmlinux-")
    rel = "kernel/drivers/firmware/qemu_fw_cfg.ko"
    stripped = vmlinux.parents[4].parent / "kernel" / "lib" / "modules" / release / rel
    debug = vmlinux.parent.parent / "lib" / "modules" / release / rel
    if not (stripped.exists() and debug.exists()):
        pytest.skip(f"no qemu_fw_cfg.ko ({stripped}, {debug}): tests/rig/make-dumps.sh")
    lib = Path(os.path.realpath("/lib"))
    up, work = tmp / "up", tmp / "work"
    for sub, src in ((f"modules/{release}/{rel}", stripped), (f"debug/lib/modules/{release}/{rel}", debug)):
        (up / sub).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, up / sub)
    (up / "debug" / "boot").mkdir(parents=True, exist_ok=True)
    (up / "debug" / "boot" / vmlinux.name).symlink_to(vmlinux)
    work.mkdir()
    cmd = " ".join(shlex.quote(a) for a in (makedumpfile, *args))
    p = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t overlay overlay -o lowerdir={lib},upperdir={up},"
                        f"workdir={work} {lib} && exec {cmd}"], capture_output=True, text=True, timeout=900)
    if p.returncode != 0 and "mount" in p.stderr and "makedumpfile" not in p.stderr:
        pytest.skip(f"cannot lay an overlay over {lib} here: {p.stderr.strip()[:200]}")
    return p


def both_with_module(text: str, mem512: Path, vmlinux: Path, makedumpfile: str, tmp: Path) -> tuple[Path, Path]:
    """Our -l -d 31 output and makedumpfile's (run_mdf_with_module) with the configuration ``text``."""
    conf = tmp / "m.conf"
    conf.write_text(text)
    ours, theirs = tmp / "ours.l", tmp / "theirs.l"
    args = ["-l", "-d", "31", "--message-level", "0", "--config", str(conf), "-x", str(vmlinux),
            str(mem512 / "vmcore.elf")]
    p = run_mdf_with_module(makedumpfile, vmlinux, tmp, *args, str(theirs))
    assert p.returncode == 0, p.stderr[-2000:]
    run_cli(*args, str(ours), timeout=600)
    return ours, theirs


MODULE_CONFIG_BOTH = """\
[qemu_fw_cfg]
erase fw_cfg_rev
for e in fw_cfg_entry_cache within fw_cfg_sysfs_entry:list
  erase e.select
  erase e.size
endfor
"""


def test_a_module_section_against_makedumpfile(mem512: Path, vmlinux: Path, makedumpfile: str,
                                                tmp_path: Path) -> None:
    """With the module's files where makedumpfile looks for them, a [qemu_fw_cfg] section
    erases the same bytes and writes the same record in both tools."""
    ours, theirs = both_with_module(MODULE_CONFIG_BOTH, mem512, vmlinux, makedumpfile, tmp_path)
    info = eraseinfo(ours)
    assert info == eraseinfo(theirs)
    lines = info.decode().splitlines()
    assert lines[0] == "erase fw_cfg_rev size 4" and lines.count("erase e.select size 2") >= 5
    a, b = our_digests(ours), our_digests(theirs)
    a.pop(PARTIAL_PFN, None)
    b.pop(PARTIAL_PFN, None)
    assert a == b


def test_makedumpfile_erases_the_wrong_member_of_a_module_structure(mem512: Path, vmlinux: Path, makedumpfile: str,
                                                                     crash: str, tmp_path: Path) -> None:
    """`erase e.name` over struct fw_cfg_sysfs_entry, whose `name` is a char[56]: makedumpfile
    looks for a member by name depth-first through the structures inside, and finds the
    `name` of the struct kobject that comes first (a pointer to a string like "25"), so it
    erases those strings and leaves the file names, which the configuration asked to erase,
    in its output.  We erase the member the structure has."""
    ours, theirs = both_with_module("[qemu_fw_cfg]\nfor e in fw_cfg_entry_cache within fw_cfg_sysfs_entry:list\n"
                                    "  erase e.name\nendfor\n", mem512, vmlinux, makedumpfile, tmp_path)
    mine, their = eraseinfo(ours).decode().splitlines(), eraseinfo(theirs).decode().splitlines()
    assert len(mine) == len(their) >= 5
    assert set(mine) == {"erase e.name size 56"}
    assert all(int(ln.rsplit(" ", 1)[1]) < 56 for ln in their)  # the kobjects' names
    ko = vmlinux.parent.parent / "lib" / "modules" / vmlinux.name.removeprefix("vmlinux-") / \
        "kernel/drivers/firmware/qemu_fw_cfg.ko"
    script = (f"mod -s qemu_fw_cfg {ko}\n"
              "list -H fw_cfg_entry_cache -o fw_cfg_sysfs_entry.list -s fw_cfg_sysfs_entry.name\n")
    names = {}
    for who, dump in (("ours", ours), ("theirs", theirs)):
        r = subprocess.run([crash, "-s", str(vmlinux), str(dump)], input=script + "quit\n", capture_output=True,
                           text=True, errors="replace", timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        names[who] = re.findall(r'name = "([^"\\]*)', r.stdout)
    assert names["ours"] == ["X" * 56] * len(mine)
    assert "etc/vmcoreinfo" in names["theirs"]  # left in makedumpfile's output


# --- the same without DWARF: symbols from kallsyms, types from BTF ------------------------------
#
# Debian's kernels carry their BTF in memory and kallsyms in VMCOREINFO (the 6.1 kernel has both), but
# their BTF describes only per-CPU variables: pahole's global_var is off when Debian builds
# them.  The rig makes the BTF such a kernel would carry, from the same -dbg files with sid's
# pahole and global_var (tests/rig/make-dumps.sh: btf-global/vmlinux and btf-global/qemu_fw_cfg).

@pytest.fixture(scope="module")
def btf_global(vmlinux: Path) -> Path:
    d = RIG / "btf-global"
    need((d / "vmlinux").exists() and (d / "qemu_fw_cfg").exists(),
         f"no BTF with global variables in {d} (tests/rig/make-dumps.sh makes it with sid's pahole)")
    return d


def test_kallsyms_are_the_images_symbols(mem512: Path, vmlinux: Path) -> None:
    """Every symbol of the image's .symtab inside the kernel image, with a name it has once,
    is where the dump's kallsyms says (plus the KASLR offset); a name it has several times
    (static symbols of several files) is the global one when there is one."""
    from pymakedumpfile.formats.elf import Sym
    from pymakedumpfile.input.vmlinux import Elf, cstr
    from pymakedumpfile.translate.kallsyms import Kallsyms

    with open_dump(mem512 / "vmcore.elf") as ctx:
        ks = Kallsyms(ctx.kernel_memory(), ctx.reader.vmcoreinfo, ctx.name)
        kaslr = ctx.reader.vmcoreinfo.get_int("KERNELOFFSET") or 0
    elf = Elf(str(vmlinux))
    tab, strs = elf.section(".symtab"), elf._raw(elf.shdrs[elf.sections[".symtab"]].sh_link)
    every: dict[str, list[tuple[int, bool]]] = {}
    for off in range(24, len(tab) - 23, 24):
        s = Sym.unpack(tab, off, "<", 64)
        if s.st_name:
            every.setdefault(cstr(strs, s.st_name), []).append((s.st_value, s.st_info >> 4 == 1))
    lo, hi = every["_text"][0][0], every["_end"][0][0]
    once = {n: v[0][0] for n, v in every.items() if len(v) == 1 and lo <= v[0][0] <= hi and n in ks.symbols}
    assert len(once) > 50_000
    assert {n: a + kaslr for n, a in once.items()} == {n: ks.symbols[n] for n in once}
    glob = {n: [a for a, g in v if g] for n, v in every.items() if len(v) > 1 and n in ks.symbols}
    glob = {n: a for n, a in glob.items() if len(a) == 1 and lo <= a[0] <= hi}
    assert glob and all(ks.symbols[n] == a[0] + kaslr for n, a in glob.items())


def test_btf_without_the_image_erases_what_dwarf_erases(erased: dict[str, Path], btf_global: Path,
                                                        vmlinux: Path, tmp_path: Path) -> None:
    """No -x: the dump's kallsyms and the BTF give the same output, byte for byte, as the
    -dbg image's DWARF (whose erasing equals makedumpfile's: the tests above).  With -x and
    --btf (symbols from the image, types from the BTF) too."""
    out = tmp_path / "btf.l"
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(erased["conf"]), "--btf",
            str(btf_global / "vmlinux"), str(erased["src"]), str(out), timeout=600)
    assert out.read_bytes() == erased["ours"].read_bytes()
    out2 = tmp_path / "btf-x.l"
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(erased["conf"]), "-x", str(vmlinux),
            "--btf", str(btf_global / "vmlinux"), str(erased["src"]), str(out2), timeout=600)
    assert out2.read_bytes() == erased["ours"].read_bytes()


def test_a_module_section_from_btf(mem512: Path, vmlinux: Path, btf_global: Path, tmp_path: Path) -> None:
    """--btf DIR, laid out as /sys/kernel/btf (vmlinux and one file per module): the module's
    split BTF on the kernel's, its symbols from the table the kernel kept; the output equals
    the DWARF run's with the module's debug file."""
    if not next(iter(vmlinux.parent.parent.glob("lib/modules/*/kernel/drivers/firmware/qemu_fw_cfg.ko")), None):
        pytest.skip("no debug file of qemu_fw_cfg (tests/rig/make-dumps.sh extracts it)")
    conf = tmp_path / "m.conf"
    conf.write_text(MODULE_CONFIG)
    src = str(mem512 / "vmcore.elf")
    dwarf, btf = tmp_path / "dwarf.l", tmp_path / "btf.l"
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(conf), "-x", str(vmlinux), src, str(dwarf),
            timeout=600)
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(conf), "--btf", str(btf_global), src, str(btf),
            timeout=600)
    assert btf.read_bytes() == dwarf.read_bytes()
    assert eraseinfo(btf).decode().splitlines()[1] == "erase fw_cfg_rev size 4"
    # a file, not a directory: the module section says where its BTF would be
    p = run_cli("-l", "-d", "31", "--config", str(conf), "--btf", str(btf_global / "vmlinux"), src,
                str(tmp_path / "x.l"), check=False, timeout=600)
    err = [ln for ln in p.stderr.splitlines() if ln.strip() and "Failed" not in ln]
    assert p.returncode == 1 and len(err) == 1 and f"{conf}:3: [qemu_fw_cfg]: no BTF for this module" in err[0]
    assert not (tmp_path / "x.l").exists()


# every structure and member the configurations above go through
MEMBERS = {"uts_namespace": ["name"], "new_utsname": ["nodename", "domainname"], "task_struct": ["comm", "stack"],
           "file_system_type": ["name", "next"], "hstate": ["name"], "module": ["list", "name", "version", "kallsyms"],
           "list_head": ["next", "prev"], "mod_kallsyms": ["symtab", "num_symtab", "strtab"]}


def test_the_kernels_own_btf(erased: dict[str, Path], btf_global: Path, vmlinux: Path, tmp_path: Path) -> None:
    """The BTF in the dump's memory (no -x, no --btf): it has no global variable, so the run
    stops at the first symbol with a line that says so, and writes nothing.  It is the image's
    .BTF section byte for byte (what /sys/kernel/btf/vmlinux gives on the machine), and --btf
    with the image, or -x with the image stripped of DWARF, stop the same way.  Its types are
    the ones the rig's BTF has: each structure and member the configuration goes through has the
    same size and offset in both,
    so a kernel built with global variables in its BTF would erase the same bytes with nothing
    but the dump."""
    from pymakedumpfile.input.btf import Btf, btf_of_elf, read_btf_file
    from pymakedumpfile.input.ktypes import BtfTypes
    from pymakedumpfile.translate.kallsyms import Kallsyms

    out = tmp_path / "own.l"
    p = run_cli("-l", "-d", "31", "--config", str(erased["conf"]), str(erased["src"]), str(out), check=False,
                timeout=600)
    err = [ln for ln in p.stderr.splitlines() if ln.strip() and "Failed" not in ln]
    assert p.returncode == 1 and not out.exists() and len(err) == 1, p.stderr
    assert f"{erased['conf']}:2: 'init_uts_ns' has no type" in err[0] and "only per-CPU variables" in err[0]
    p = run_cli("-l", "-d", "31", "--config", str(erased["conf"]), "--btf", str(vmlinux), str(erased["src"]),
                str(out), check=False, timeout=600)
    assert p.returncode == 1 and not out.exists() and "only per-CPU variables" in p.stderr, p.stderr
    # -x with the image stripped of its DWARF (a few MB of .BTF and .symtab): the same stop,
    # and with --btf global variables the DWARF run's bytes
    stripped = tmp_path / "vmlinux-stripped"
    subprocess.run(["objcopy", "--strip-debug", str(vmlinux), str(stripped)], check=True, timeout=300)
    p = run_cli("-l", "-d", "31", "--config", str(erased["conf"]), "-x", str(stripped), str(erased["src"]),
                str(out), check=False, timeout=600)
    assert p.returncode == 1 and not out.exists() and f"the BTF of {stripped} describes only per-CPU" in p.stderr
    run_cli("-l", "-d", "31", "--message-level", "0", "--config", str(erased["conf"]), "-x", str(stripped), "--btf",
            str(btf_global / "vmlinux"), str(erased["src"]), str(out), timeout=600)
    assert out.read_bytes() == erased["ours"].read_bytes()
    with open_dump(erased["src"]) as ctx:
        mem = ctx.kernel_memory()
        syms = Kallsyms(mem, ctx.reader.vmcoreinfo, ctx.name).symbols
        lo, hi = syms["__start_BTF"], syms["__stop_BTF"]
        blob = mem.read(lo, hi - lo)
        own = BtfTypes(Btf(blob, "dump"), syms, "dump")
    assert blob == btf_of_elf(str(vmlinux))
    rig = BtfTypes(read_btf_file(str(btf_global / "vmlinux")), syms, "rig")
    assert not own.btf.global_variables() and rig.btf.global_variables()
    for s, members in MEMBERS.items():
        a, b = own.struct(s), rig.struct(s)
        assert a is not None and b is not None and a.size == b.size > 0, s
        for m in members:
            ma, mb = own.member(a, m), rig.member(b, m)
            assert ma is not None and mb is not None, (s, m)
            assert (ma[0], ma[1][:4]) == (mb[0], mb[1][:4]), (s, m)


def test_btf_of_another_kernel_is_refused(btf_global: Path, tmp_path: Path) -> None:
    """The 6.1 kernel's BTF given for the 6.12 dump: VMCOREINFO's sizes and offsets are not
    what it says, and nothing is written."""
    src = Path(str(RIG) + "-trixie") / "dumps" / "mem512" / "vmcore.elf"
    if not src.exists():
        pytest.skip(f"no 6.12 dump {src} (tests/rig/make-dumps.sh makes it)")
    conf = tmp_path / "c.conf"
    conf.write_text("erase init_uts_ns.name.nodename\n")
    out = tmp_path / "x.l"
    p = run_cli("-l", "-d", "31", "--config", str(conf), "--btf", str(btf_global / "vmlinux"), str(src), str(out),
                check=False, timeout=600)
    err = [ln for ln in p.stderr.splitlines() if ln.strip() and "Failed" not in ln]
    assert p.returncode == 1 and not out.exists() and len(err) == 1, p.stderr
    assert "Cannot use this BTF: it is not the dump's kernel's" in err[0]
