"""BTF and kallsyms: the readers on blobs and tables our own generator writes (tests/gen/btf.py,
tests/gen/kallsyms.py, declared from the format, not from the package), and --config with no
kernel image on a synthetic kernel whose memory holds its kallsyms and a BTF with global
variables (the real kernels: tests/real/test_erase_real.py)."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from gen import build_elf, make_note, prstatus_note, vmcoreinfo_text
from gen.btf import BtfWriter
from gen.kallsyms import kallsyms_tables, place_kallsyms
from gen.x86_64 import PAGE_OFFSET, START_KERNEL_MAP, x86_64_kernel

from pymakedumpfile.core.errors import CorruptDumpError, DumpError, UnsupportedDumpError
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.input.btf import Btf
from pymakedumpfile.input.ktypes import ARRAY, BASE, LIST_HEAD, PTR, STRUCT, BtfTypes
from pymakedumpfile.translate.kallsyms import Kallsyms

PROG = "pymakedumpfile"


def small_types(endian: str = "<") -> tuple[BtfWriter, dict[str, int]]:
    w = BtfWriter(endian)
    ids: dict[str, int] = {}
    ids["int"] = w.int_("int", 4, signed=True)
    ids["uint"] = w.int_("unsigned int", 4)
    ids["long"] = w.int_("long", 8, signed=True)
    ids["ulong"] = w.int_("long unsigned int", 8)
    ids["char"] = w.int_("char", 1)
    ids["charp"] = w.ptr(ids["char"])
    ids["voidp"] = w.ptr(0)
    ids["cvoidp"] = w.ptr(w.const(0))
    ids["list_head"] = lh = w.placeholder()
    lhp = w.ptr(lh)
    w.fill(lh, "list_head", 16, [("next", lhp, 0), ("prev", lhp, 64)])
    ids["item"] = item = w.placeholder()
    ids["fwd_item"] = w.fwd("item")
    itemp = w.ptr(item)
    ids["char8"] = w.array(ids["char"], ids["int"], 8)
    ids["char4"] = w.array(ids["char"], ids["int"], 4)
    w.fill(item, "item", 40, [("next", itemp, 0), ("tag", ids["char8"], 64), ("link", lh, 128),
                              ("pin", ids["char4"], 256)])
    anon = w.struct("", 8, [("a", ids["long"], 0), ("b", ids["ulong"], 0)], union=True)
    ids["char16"] = w.array(ids["char"], ids["int"], 16)
    ids["u32_t"] = w.typedef("u32_t", w.volatile(ids["uint"]))
    ids["secret_cfg"] = w.struct("secret_cfg", 80, [
        ("id", ids["u32_t"], 0), ("key", ids["char16"], 32), ("owner", ids["charp"], 192),
        ("first", w.ptr(ids["fwd_item"]), 256), ("", anon, 320),
        ("mode", ids["uint"], (3 << 24) | 384), ("flags", ids["uint"], (5 << 24) | 387),
        ("items", lh, 448), ("hook", ids["voidp"], 576)], bitfields=True)
    ids["names"] = w.array(ids["charp"], ids["int"], 3)
    ids["nsp"] = w.struct("new_utsname", 390, [
        (f, w.array(ids["char"], ids["int"], 65), 65 * 8 * i)
        for i, f in enumerate(("sysname", "nodename", "release", "version", "machine", "domainname"))])
    ids["uts"] = w.struct("uts_namespace", 396, [("kref", ids["int"], 0), ("name", ids["nsp"], 32)])
    return w, ids


def test_btf_types_follow_makedumpfiles_model() -> None:
    w, ids = small_types()
    for name, what in (("secret", "secret_cfg"), ("names", "names"), ("counter", "int"), ("init_uts_ns", "uts")):
        w.var(name, ids[what])
    w.var("percpu_thing", ids["int"], linkage=0)
    t = BtfTypes(Btf(w.blob(), "mem"), {}, "mem")
    s = t.variable("secret")
    assert s is not None and (s.flags, s.name, s.size) == (STRUCT, "secret_cfg", 80)
    assert t.member(s, "key") == (4, (ARRAY | BASE, "char", 1, 16, ids["char"]))
    off, owner = t.member(s, "owner")  # type: ignore[misc]
    assert off == 24 and (owner.flags, owner.name, owner.size) == (PTR | BASE, "char", 1)
    off, a = t.member(s, "b")  # type: ignore[misc]  # through the anonymous union
    assert off == 40 and (a.flags, a.name, a.size) == (BASE, "long unsigned int", 8)
    assert t.member(s, "mode")[0] == 48 and t.member(s, "flags")[0] == 48  # type: ignore[index]  # bits 384, 387
    idt = t.member(s, "id")[1]  # type: ignore[index]  # through a typedef and a qualifier
    assert (idt.flags, idt.name, idt.size) == (BASE, "unsigned int", 4)
    first = t.member(s, "first")[1]  # type: ignore[index]  # a pointer to a declaration
    assert (first.flags, first.name) == (PTR | STRUCT, "item") and t.member(first, "pin")[0] == 32  # type: ignore[index]
    items = t.member(s, "items")[1]  # type: ignore[index]
    assert items.flags == STRUCT | LIST_HEAD and t.member(items, "prev")[0] == 8  # type: ignore[index]
    hook = t.member(s, "hook")[1]  # type: ignore[index]
    assert (hook.flags, hook.name, hook.size) == (PTR, "void", 8)
    n = t.variable("names")
    assert n is not None and (n.flags, n.name, n.length) == (ARRAY | PTR | BASE, "char", 3)
    assert t.member(s, "nosuch") is None and t.variable("nosuch") is None
    assert t.struct("item").size == 40  # type: ignore[union-attr]
    assert t.btf.global_variables()


def test_only_per_cpu_variables_is_said() -> None:
    w, ids = small_types()
    v = w.var("runqueues", ids["int"], linkage=1)
    w.datasec(".data..percpu", 4, [(v, 0, 4)])
    t = BtfTypes(Btf(w.blob(), "mem"), {"init_uts_ns": 1}, "the dump")
    assert t.variable("init_uts_ns") is None and "only per-CPU variables" in t.untyped("init_uts_ns")
    w2, ids2 = small_types()
    v = w2.var("counter", ids2["int"])
    w2.datasec(".data", 4, [(v, 0, 4)])
    assert "no variable 'x'" in BtfTypes(Btf(w2.blob(), "m"), {}, "m").untyped("x")


def test_split_blob_and_big_endian() -> None:
    w, ids = small_types(">")
    base = Btf(w.blob(), "vmlinux")
    m = BtfWriter(">", base=w)
    mod = m.struct("fw_entry", 24, [("name", ids["charp"], 0), ("list", ids["list_head"], 64)])
    m.var("fw_rev", ids["uint"])
    b = Btf(m.blob(), "mod", base=base)
    assert b.first_id == mod and b.struct("fw_entry") == mod and b.struct("item") == ids["item"]
    t = BtfTypes(b, {}, "mod")
    assert t.member(t.struct("fw_entry"), "list")[0] == 8  # type: ignore[arg-type,index]
    assert t.member(t.struct("item"), "link")[0] == 16  # type: ignore[arg-type,index]  # a base type's members
    assert t.variable("fw_rev").name == "unsigned int"  # type: ignore[union-attr]


def test_damaged_blobs_are_dump_errors() -> None:
    w, ids = small_types()
    w.var("secret", ids["secret_cfg"])
    good = w.blob()
    with pytest.raises(UnsupportedDumpError):
        Btf(b"\x00\x00" + good[2:], "x")
    with pytest.raises(CorruptDumpError):
        Btf(good[:20], "x")
    with pytest.raises(CorruptDumpError):  # the sections run past the end
        Btf(good[:-10], "x")
    bad = bytearray(good)
    struct.pack_into("<I", bad, 24 + 4, 30 << 24)  # type 1's kind
    with pytest.raises(CorruptDumpError, match="unknown kind 30"):
        Btf(bytes(bad), "x")
    rnd = random.Random(7)
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(24, len(b))] = rnd.randrange(256)
        try:
            t = BtfTypes(Btf(bytes(b), "x"), {}, "x")
            s = t.variable("secret")
            if s is not None:
                for m in ("key", "owner", "b", "items", "first", "hook"):
                    t.member(s, m)
        except DumpError:
            pass


class Mem:
    """Kernel memory of a table: address -> bytes."""

    byte_order, ptr_size = "little", 8

    def __init__(self, regions: dict[int, bytes]) -> None:
        self.regions = regions

    def read(self, addr: int, n: int) -> bytes:
        for a, b in self.regions.items():
            if a <= addr and addr + n <= a + len(b):
                return b[addr - a : addr - a + n]
        raise DumpError(f"{addr:#x}+{n} is not in memory")

    def u32(self, addr: int) -> int:
        return int(struct.unpack("<I", self.read(addr, 4))[0])

    def ptr(self, addr: int) -> int:
        return int(struct.unpack("<Q", self.read(addr, 8))[0])


def Info(lines: dict[str, str]) -> VmcoreInfo:  # noqa: N802
    """VMCOREINFO of these lines."""
    return VmcoreInfo("".join(f"{k}={v}\n" for k, v in lines.items()).encode())


SYMS = [("T", "_stext", 0xFFFFFFFF81000000), ("t", "helper", 0xFFFFFFFF81000100),
        ("D", "init_uts_ns", 0xFFFFFFFF82000000), ("d", "secret", 0xFFFFFFFF82000100),
        ("D", "secret", 0xFFFFFFFF82000200), ("d", "helper", 0xFFFFFFFF82000300),
        ("b", "l" + "o" * 200 + "ng", 0xFFFFFFFF82000400)]


@pytest.mark.parametrize("mode", ["absolute_percpu", "relative", "place_relative", "addresses"])
def test_kallsyms_modes(mode: str) -> None:
    syms = [("A", "fixed_percpu_data", 0), *SYMS] if mode == "absolute_percpu" else SYMS
    k = kallsyms_tables(syms, mode=mode, percpu=frozenset({"fixed_percpu_data"}), offsets_at=0xFFFFFFFF83040000)
    at = {"names": 0xFFFFFFFF83000000, "token_table": 0xFFFFFFFF83010000, "token_index": 0xFFFFFFFF83020000,
          "num_syms": 0xFFFFFFFF83030000, "offsets": 0xFFFFFFFF83040000, "relative_base": 0xFFFFFFFF83050000}
    mem = Mem({at[f]: getattr(k, f) + bytes(64) for f in at})
    lines = {f"SYMBOL(kallsyms_{f})": f"{a:x}" for f, a in at.items() if f not in ("offsets", "relative_base")}
    if mode == "addresses":
        lines["SYMBOL(kallsyms_addresses)"] = f"{at['offsets']:x}"
    else:
        lines["SYMBOL(kallsyms_offsets)"] = f"{at['offsets']:x}"
    if mode in ("relative", "absolute_percpu"):
        lines["SYMBOL(kallsyms_relative_base)"] = f"{at['relative_base']:x}"
    lines["SYMBOL(_stext)"] = "ffffffff81000000"
    got = Kallsyms(mem, Info(lines), "dump")
    assert got.count == len(syms)
    assert got.symbols["_stext"] == 0xFFFFFFFF81000000 and got.symbols["init_uts_ns"] == 0xFFFFFFFF82000000
    assert got.symbols["secret"] == 0xFFFFFFFF82000200  # the global one
    assert got.symbols["helper"] == 0xFFFFFFFF81000100  # two statics: the lower address
    assert got.symbols["l" + "o" * 200 + "ng"] == 0xFFFFFFFF82000400  # a two-byte length
    if mode == "absolute_percpu":
        assert got.symbols["fixed_percpu_data"] == 0
    lines["SYMBOL(_stext)"] = "ffffffff81000040"  # neither reading gives it: not this kernel's table
    if mode != "addresses":
        with pytest.raises(CorruptDumpError, match="_stext"):
            Kallsyms(mem, Info(lines), "dump")
    del lines["SYMBOL(kallsyms_token_table)"]
    with pytest.raises(UnsupportedDumpError, match="does not say where kallsyms is"):
        Kallsyms(mem, Info(lines), "dump")


# --- a synthetic kernel with kallsyms and BTF in its memory -------------------------------------

P_VARS, P_OBJS, P_KSYMS, P_BTF = 0x8000, 0x9000, 0xA000, 0x10000


def va(phys: int) -> int:
    return START_KERNEL_MAP + phys


def btf_kernel(tmp_path: Path, global_vars: bool = True, name: str = "vmcore", kallsyms: bool = True
               ) -> tuple[Path, bytes]:
    """An ELF dump of 32 pages: x86_64_kernel's page tables and init_uts_ns, the variables of
    small_types() at P_VARS (their objects and strings at P_OBJS), kallsyms at P_KSYMS and
    the BTF at P_BTF.  Returns the file and its memory."""
    kb = x86_64_kernel(first_pfn=1)
    mem = bytearray(32 * 4096)
    for pfn, pg in kb.pages.items():
        mem[pfn * 4096 : pfn * 4096 + 4096] = pg.data
    # secret: id, key, owner -> "alice-owner", first -> item0, union, bitfields, items, hook
    items = [P_OBJS + 0x100 + 0x40 * i for i in range(3)]
    struct.pack_into("<I16s", mem, P_VARS, 0x1234, b"0123456789abcdef")
    struct.pack_into("<QQq", mem, P_VARS + 24, va(P_OBJS), va(items[0]), -2)
    struct.pack_into("<I", mem, P_VARS + 48, 0xFF)
    struct.pack_into("<QQQ", mem, P_VARS + 56, va(items[0] + 16), va(items[2] + 16), va(P_OBJS + 0x80))
    mem[P_OBJS : P_OBJS + 12] = b"alice-owner\0"
    for i, it in enumerate(items):
        nxt = va(items[i + 1]) if i + 1 < len(items) else 0
        link_next = va(items[i + 1] + 16) if i + 1 < len(items) else va(P_VARS + 56)
        link_prev = va(items[i - 1] + 16) if i else va(P_VARS + 56)
        struct.pack_into("<Q8sQQ4s", mem, it, nxt, f"tag-{i}".encode(), link_next, link_prev, f"p{i}".encode())
    # names: two strings and a NULL; counter
    mem[P_OBJS + 0x40 : P_OBJS + 0x50] = b"n0\0\0name-one\0\0\0\0"
    struct.pack_into("<QQQ", mem, P_VARS + 0x100, va(P_OBJS + 0x40), va(P_OBJS + 0x44), 0)
    struct.pack_into("<i", mem, P_VARS + 0x200, 77)
    w, ids = small_types()
    vars_ = [("secret", "secret_cfg", P_VARS), ("names", "names", P_VARS + 0x100), ("counter", "int", P_VARS + 0x200),
             ("init_uts_ns", "uts", kb.symbols["init_uts_ns"] - START_KERNEL_MAP)]
    pc = w.var("runqueues", ids["int"])
    w.datasec(".data..percpu", 4, [(pc, 0, 4)])
    if global_vars:
        entries = [(w.var(n, ids[t]), p, 8) for n, t, p in vars_]
        w.datasec(".data", 0x1000, entries)
    blob = w.blob()
    mem[P_BTF : P_BTF + len(blob)] = blob
    syms = sorted([("T", "_stext", va(0x1000)), ("D", "__start_BTF", va(P_BTF)),
                   ("D", "__stop_BTF", va(P_BTF + len(blob))),
                   *[("D", n, va(p)) for n, _, p in vars_]], key=lambda s: s[2])
    k = kallsyms_tables([("A", "fixed_percpu_data", 0), *syms], percpu=frozenset({"fixed_percpu_data"}))
    where = place_kallsyms(mem, k, P_KSYMS, START_KERNEL_MAP)
    vi = dict(kb.vmcoreinfo)
    if kallsyms:
        vi.update(where)
    vi["SYMBOL(_stext)"] = va(0x1000)
    vi["SIZE(list_head)"] = 16
    vi["OFFSET(list_head.next)"] = 0
    dump = tmp_path / name
    build_elf(dump, [(0, PAGE_OFFSET, bytes(mem))],
              notes=prstatus_note("x86_64") + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(vi)))
    return dump, bytes(mem)


CONF = """\
[vmlinux]
erase secret.key
erase secret.owner
erase secret.a size 4
erase secret.id
erase secret.hook nullify
for it in secret.first via next
  erase it.tag
endfor
for l in secret.items within item:link
  erase l.pin
endfor
for n in names
  erase n
endfor
erase counter
erase init_uts_ns.name.nodename
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", PROG, *args], capture_output=True, text=True, timeout=120)


def one_error(*args: str) -> str:
    """The one error line of a run that must fail with exit 1 and write nothing (the last
    argument is the output)."""
    r = cli(*args)
    err = [ln for ln in r.stderr.splitlines() if ln.strip() and "Failed" not in ln]
    assert r.returncode == 1 and not Path(args[-1]).exists() and len(err) == 1, r.stderr
    return err[0]


def test_config_without_a_kernel_image(tmp_path: Path) -> None:
    """kallsyms and BTF from the dump's memory: every object erased where the generator put
    it, nothing else changed, and the record lists each object."""
    from pymakedumpfile.input import open_dump

    dump, mem = btf_kernel(tmp_path)
    conf = tmp_path / "f.conf"
    conf.write_text(CONF)
    out = tmp_path / "out"
    r = cli("-d", "0", "--config", str(conf), str(dump), str(out))
    assert r.returncode == 0, r.stderr
    want = bytearray(mem)
    items = [P_OBJS + 0x100 + 0x40 * i for i in range(3)]
    uts = 3 * 4096
    spans = [(P_VARS + 4, 16), (P_OBJS, 11), (P_VARS + 40, 4), (P_VARS, 4),
             *[(it + 8, 8) for it in items], *[(it + 32, 4) for it in items],
             (P_OBJS + 0x40, 2), (P_OBJS + 0x44, 8), (P_VARS + 0x200, 4), (uts + 4 + 65, 65)]
    for a, n in spans:
        want[a : a + n] = b"X" * n
    want[P_VARS + 72 : P_VARS + 80] = bytes(8)  # hook, nullified
    with open_dump(out) as o:
        got = b"".join(o.reader.read_page(p) for p in range(32))
        info = bytes(o.attr.get("file.eraseinfo.raw", b"")).decode()
    assert got == bytes(want)
    assert info.splitlines() == [
        "erase secret.key size 16", "erase secret.owner size 11", "erase secret.a size 4", "erase secret.id size 4",
        "erase secret.hook nullify", *["erase it.tag size 8"] * 3, *["erase l.pin size 4"] * 3,
        "erase n size 2", "erase n size 8", "erase counter size 4", "erase init_uts_ns.name.nodename size 65"]


def test_kernel_btf_with_per_cpu_variables_only(tmp_path: Path) -> None:
    """As Debian's kernels are built: the BTF has no global variable, and the error says what
    to give instead; with --btf a blob that has them is used (only its types: the symbols
    stay the dump's)."""
    dump, _ = btf_kernel(tmp_path, global_vars=False)
    conf = tmp_path / "f.conf"
    conf.write_text(CONF)
    out = tmp_path / "out"
    err = one_error("-d", "0", "--config", str(conf), str(dump), str(out))
    assert err.startswith(f"{PROG}: {conf}:2: 'secret' has no type: the BTF of {dump}") and "per-CPU" in err
    w, ids = small_types()
    for n, t in (("secret", "secret_cfg"), ("names", "names"), ("counter", "int"), ("init_uts_ns", "uts")):
        w.var(n, ids[t])
    (tmp_path / "global.btf").write_bytes(w.blob())
    r = cli("-d", "0", "--config", str(conf), "--btf", str(tmp_path / "global.btf"), str(dump), str(out))
    assert r.returncode == 0 and out.exists(), r.stderr


def test_btf_of_another_kernel_is_refused(tmp_path: Path) -> None:
    """VMCOREINFO's sizes and offsets must be what the BTF says: a list_head of 24 bytes is
    another kernel's."""
    dump, _ = btf_kernel(tmp_path)
    w = BtfWriter()
    p = w.placeholder()
    w.fill(p, "list_head", 24, [("next", w.ptr(p), 0), ("prev", w.ptr(p), 64)])
    (tmp_path / "other.btf").write_bytes(w.blob())
    conf = tmp_path / "f.conf"
    conf.write_text(CONF)
    out = tmp_path / "out"
    err = one_error("-d", "0", "--config", str(conf), "--btf", str(tmp_path / "other.btf"), str(dump), str(out))
    assert "it is not the dump's kernel's (SIZE(list_head) is 24 in it, 16 in the dump)" in err


def test_no_kallsyms_and_no_image(tmp_path: Path) -> None:
    """A dump whose VMCOREINFO does not say where kallsyms is (before Linux 6.0) and no -x:
    one line asking for -x, and nothing written."""
    dump, _ = btf_kernel(tmp_path, kallsyms=False)
    conf = tmp_path / "f.conf"
    conf.write_text(CONF)
    err = one_error("-d", "0", "--config", str(conf), str(dump), str(tmp_path / "out"))
    assert err.startswith(f"{PROG}: {dump}: Cannot find the kernel's symbols: the dump does not say where they are")
    assert err.endswith("give -x VMLINUX")
