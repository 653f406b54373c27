"""The architectures proven on synthetic machines (tests/gen/machines.py): loongarch64, mips64el,
mips, ppc (32-bit) and s390 (31-bit).  Each machine's page tables, mem_map, kernel log and
registers are built from the architecture's manual and the kernel's headers by the builder, which
shares nothing with the package; every expected value below is the builder's: the addresses it
mapped, the kinds of page it planted, the messages it logged.

For each: ``--vtop`` of the addresses it mapped (a vmalloc page, a huge block where the
architecture has them, the direct windows) gives the physical address it mapped them to, and an
address it left unmapped is an error naming it; every dump level keeps exactly the pages that
the planted kinds say it keeps; ``--dump-dmesg`` prints the log; ``--info`` names the
architecture and the registers the PRSTATUS note holds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gen.machines import LOG, MACHINES, REG_BASE, Machine, build, kept

from pymakedumpfile import open_dump
from pymakedumpfile.cli import main
from pymakedumpfile.translate import get_arch

ARCHES = sorted(MACHINES)
LEVELS = (0, 1, 2, 4, 8, 16, 31)


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Machine, Path]]:
    d = tmp_path_factory.mktemp("machines")
    return {a: (build(a, d / f"{a}.vmcore"), d / f"{a}.vmcore") for a in ARCHES}


@pytest.mark.parametrize("arch", ARCHES)
def test_the_dump_is_named_and_its_kernel_read(arch: str, machines: dict[str, tuple[Machine, Path]]) -> None:
    m, path = machines[arch]
    with open_dump(path) as ctx:
        assert ctx.attr["arch.name"] == arch
        assert ctx.attr["arch.byte_order"] == ("little" if m.endian == "<" else "big")
        # the utsname comes from init_uts_ns, read through the architecture's translation
        assert ctx.attr["linux.uts.release"] == m.release
        assert ctx.attr["linux.uts.nodename"] == "synthetic-" + arch


@pytest.mark.parametrize("arch", ARCHES)
def test_vtop_gives_what_the_tables_map(arch: str, machines: dict[str, tuple[Machine, Path]],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    m, path = machines[arch]
    with open_dump(path) as ctx:
        km = ctx.kernel_memory()
        for va, pa in m.vtop.items():
            assert km.vtop(va) == pa, f"{va:#x}"
            assert ctx.read_virt(va, 8) == bytes(m.mem[pa:pa + 8])
    for va, pa in m.vtop.items():
        assert main(["--vtop", hex(va), str(path)]) == 0
        out = capsys.readouterr()
        assert f"{pa:x}" in (out.out + out.err).split(), (hex(va), out.out)
    for va in m.unmapped:
        assert main(["--vtop", hex(va), str(path)]) != 0
        out = capsys.readouterr()
        assert f"{va:x}" in out.err and "Traceback" not in out.err


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("level", LEVELS)
def test_levels_keep_what_the_planted_pages_say(arch: str, level: int, machines: dict[str, tuple[Machine, Path]],
                                                tmp_path: Path) -> None:
    m, path = machines[arch]
    out = tmp_path / "out"
    assert main(["-l", "-d", str(level), "--message-level", "0", str(path), str(out)]) == 0
    with open_dump(out) as ctx:
        # a kdump file keeps a zero page in its bitmap, as makedumpfile does, with the descriptor
        # of the one shared zero page (pfn 0 is zero on every machine)
        got = {pfn for pfn in range(m.npages) if ctx.pagemap.test(pfn)}
        if level & 1:
            zero = ctx.reader.raw_descriptors(0, 1)[0][0]
            got = {pfn for pfn in got if ctx.reader.raw_descriptors(pfn, 1)[0][0] != zero}
        assert got == kept(m, level), sorted(got ^ kept(m, level))[:20]
        for pfn in sorted(got)[::97]:  # pages read back are the machine's
            ps = m.page_size
            assert ctx.read_pfn(pfn) == bytes(m.mem[pfn * ps:(pfn + 1) * ps])


def test_the_builder_plants_every_kind(machines: dict[str, tuple[Machine, Path]]) -> None:
    """What the level test rests on: each machine holds pages of every kind, so each level bit
    has pages to drop, and the levels differ from each other."""
    for m, _ in machines.values():
        kinds = set(m.kinds.values())
        assert {"zero", "cache", "cache_private", "anon", "free", "slab", "kernel"} <= kinds
        assert len({frozenset(kept(m, lv)) for lv in LEVELS}) == len(LEVELS)


@pytest.mark.parametrize("arch", ARCHES)
def test_dump_dmesg(arch: str, machines: dict[str, tuple[Machine, Path]], tmp_path: Path) -> None:
    _, path = machines[arch]
    out = tmp_path / "dmesg"
    assert main(["--dump-dmesg", "--message-level", "0", str(path), str(out)]) == 0
    # the builder's time stamps (record i at i + 1 ms) and, where the records have one (the
    # lockless ring), its caller id: task 1
    caller = b"" if arch in ("s390", "ia64") else b"[      T1] "
    assert out.read_bytes().splitlines() == [b"[    0.%03d000] %s%s" % (i + 1, caller, t) for i, t in enumerate(LOG)]


@pytest.mark.parametrize("arch", ARCHES)
def test_info_names_the_registers(arch: str, machines: dict[str, tuple[Machine, Path]]) -> None:
    _, path = machines[arch]
    names = get_arch(arch).registers  # type: ignore[union-attr]
    with open_dump(path) as ctx:
        regs = ctx.regs(0)
    assert list(regs) == list(names)
    assert [regs[n] for n in names] == [REG_BASE + i for i in range(len(names))]
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert arch in r.stdout and names[-1] in r.stdout
