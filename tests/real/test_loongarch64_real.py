"""A real loongarch64 dump: Debian sid's kernel (16 KiB pages, three levels, SPARSEMEM_VMEMMAP) in
a 1 GiB guest of bookworm-backports' qemu-system-loongarch64 ``-M virt`` booted by trixie's EDK II,
captured by a real crash kernel (``kexec -p`` of sid's kexec-tools, a panic, /proc/vmcore copied
to a disk) by tests/rig/make-dumps.sh (tests/rig/qemu_rig.py, arch ``loong64``).

Debian builds no makedumpfile for loong64 and libkdumpfile does not know the architecture, so
the references are the guest itself: its /proc/kpageflags read twice just before the panic (the
classes of every level: tests/real/test_612_truth.py, run ``loongarch64``), its kernel log and
its /proc/vmallocinfo, whose ioremap'ed areas name their physical addresses; and the PRSTATUS
notes read here with struct.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from util import RIG, ioremaps, log_begins_with, need, our_digests, prstatus_notes, rig_release, run_cli

from pymakedumpfile import open_dump
from pymakedumpfile.tools.dmesg import dump_dmesg

L = Path(str(RIG) + "-loong64")


@pytest.fixture(scope="module")
def la() -> Path:
    d = L / "dumps" / "mem1024"
    need((d / "vmcore.elf").exists() and (d / "guest-vmallocinfo.txt").exists(),
         f"no loongarch64 rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


def test_the_dump_and_its_layout(la: Path) -> None:
    """The architecture, the release from init_uts_ns (read through the direct window), 16 KiB
    pages and three levels, as the kernel's configuration says."""
    config = next((L / "kernel").glob("usr/lib/modules/*/config")).read_text()
    assert "CONFIG_PAGE_SIZE_16KB=y" in config and "CONFIG_PGTABLE_LEVELS=3" in config
    with open_dump(la / "vmcore.elf") as ctx:
        assert ctx.attr["arch.name"] == "loongarch64" and ctx.page_size == 16384
        assert ctx.attr["linux.uts.release"] == rig_release(la)
        x = ctx.kernel_memory().xlat
        assert [lv[0] for lv in x.levels] == ["PGD", "PMD", "PTE"]
        assert len(ctx.kernel_memory().walk(ioremaps(la)[0][0])[1]) == 3


def test_vtop_of_ioremapped_areas(la: Path) -> None:
    """--vtop of each area the guest's vmallocinfo lists with its physical address: that address
    (a walk of all three levels); and the kernel image's symbols through the direct window."""
    io = ioremaps(la)
    assert len(io) >= 3
    for va, pa in io:
        out = run_cli("--vtop", hex(va + 0x123), str(la / "vmcore.elf")).stdout
        assert f"{pa + 0x123:x}" in out.split(), (hex(va), out)
    with open_dump(la / "vmcore.elf") as ctx:
        vi, km = ctx.reader.vmcoreinfo, ctx.kernel_memory()
        for sym in ("swapper_pg_dir", "init_uts_ns", "prb"):
            assert km.vtop(vi.SYMBOL[sym]) == vi.SYMBOL[sym] & ((1 << 48) - 1)


def test_dmesg(la: Path) -> None:
    """--dump-dmesg: the guest's own dmesg, taken before the panic, begins it, and the panic ends
    it."""
    with open_dump(la / "vmcore.elf") as ctx:
        plain = dump_dmesg(ctx, caller_id=False).decode("utf-8", "replace").splitlines()
    guest = (la / "guest-dmesg.txt").read_text().splitlines()
    assert len(guest) > 100 and log_begins_with(plain, guest)
    assert any("Kernel panic - not syncing: sysrq triggered crash" in ln for ln in plain[len(guest):])


def test_info_registers(la: Path) -> None:
    """--info: each CPU's pid and its registers (r0..r31, orig_a0, era, badv) as the PRSTATUS notes
    hold them, read here with struct; the panicking CPU's era in the kernel's direct window."""
    notes = prstatus_notes(la / "vmcore.elf", 35)
    mine = json.loads(run_cli("--info", "--json", str(la / "vmcore.elf")).stdout)["registers"]
    assert len(mine) == len(notes) == 2
    for m, (pid, regs) in zip(mine, notes):
        assert m["pid"] == pid and list(m["regs"].values()) == regs
        assert list(m["regs"])[-3:] == ["orig_a0", "era", "badv"]
    assert any(m["regs"]["era"] >> 60 == 9 for m in mine)


@pytest.mark.parametrize("fmt", ["-l", "-E"])
def test_our_files_read_back(la: Path, fmt: str, tmp_path: Path) -> None:
    """Our -d 31 kdump and ELF files: each page equal to the vmcore's, and fewer pages than it
    holds (the levels' classes are checked against the guest by test_612_truth)."""
    out = tmp_path / "out"
    run_cli(fmt, "-d", "31", "--message-level", "0", str(la / "vmcore.elf"), str(out))
    got, src = our_digests(out), our_digests(la / "vmcore.elf")
    assert 1000 < len(got) < len(src) and all(src[p] == h for p, h in got.items())
