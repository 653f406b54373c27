"""--vtop agrees with makedumpfile's --vtop on kernel symbols from VMCOREINFO
(text, data and direct-map addresses; 4- and 5-level paging)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from util import run_cli

from pymakedumpfile import open_dump

SYMBOLS = ["init_uts_ns", "swapper_pg_dir", "_stext", "mem_section", "node_data", "prb", "vmap_area_list"]


def vtop_block(text: str) -> list[str]:
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("Translating virtual address"))
    j = next(j for j in range(i, len(lines)) if lines[j].startswith("VIRTUAL"))
    return lines[i : j + 2]


@pytest.mark.parametrize("dump", ["mem512", "mem512-la57"])
def test_vtop_matches_makedumpfile(dump: str, mem512: Path, makedumpfile: str, tmp_path: Path) -> None:
    vmcore = mem512.parent / dump / "vmcore.elf"
    if not vmcore.exists():
        pytest.skip(f"no {vmcore}")
    with open_dump(vmcore) as ctx:
        syms = {s: ctx.attr[f"linux.vmcoreinfo.SYMBOL.{s}"] for s in SYMBOLS
                if f"linux.vmcoreinfo.SYMBOL.{s}" in ctx.attr}
    assert len(syms) >= 5
    for name, va in syms.items():
        out = tmp_path / name
        ref = subprocess.run([makedumpfile, "--vtop", hex(va), "-d", "31", str(vmcore), str(out)],
                             capture_output=True, text=True, timeout=300)
        assert ref.returncode == 0, ref.stderr
        out.unlink(missing_ok=True)  # the -d 31 dump makedumpfile wrote too
        mine = run_cli("--vtop", hex(va), str(vmcore))
        assert vtop_block(mine.stdout) == vtop_block(ref.stdout), name  # on stdout in both
