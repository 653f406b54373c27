"""Adding an architecture is one module (an ArchInfo and its Translator) and one register()
line (docs/architecture.md): a toy big-endian architecture, defined here as a reader of that
page would, is found from its dumps' ELF machine number, its kernel addresses translate,
typed reads of its memory follow its byte order, --vtop prints its walk, and its dump converts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from gen import build_elf, make_note, vmcoreinfo_text

from pymakedumpfile import AddressTranslationError, open_dump, translate
from pymakedumpfile.cli import main
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import ArchInfo, ByteOrder, KernelMemory, ReadPhys, Step, register

TOY_EM = 0x7A7A  # an e_machine no real architecture uses
KERNEL_BASE = 0xC000_0000_0000_0000
PAGE = 4096


class ToyTranslator:
    """The toy kernel maps all of RAM linearly at KERNEL_BASE, in 2 MiB blocks."""

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self.read_phys = read_phys

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        if vaddr < KERNEL_BASE:
            raise AddressTranslationError(vaddr, "not a toy kernel address")
        return vaddr - KERNEL_BASE, [Step("LIN", 0, vaddr - KERNEL_BASE)]

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        pa = self.vtop(vaddr)
        return pa, (1 << 21) - (pa & ((1 << 21) - 1))


TOY = ArchInfo("toy", ("toy64",), 8, PAGE, "big", elf_machine=TOY_EM, translator=ToyTranslator)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> ArchInfo:
    """The toy registered for one test: the one line an architecture module adds is
    ``register(TOY)`` (the registry is swapped for a copy, so the test leaves no trace)."""
    monkeypatch.setattr(translate, "ARCHES", dict(translate.ARCHES))
    return register(TOY)


def toy_dump(path: Path) -> bytes:
    """A big-endian ELF64 dump of the toy: 4 pages at physical 0x200000, the second one
    holding a u32, a u64 and a pointer in big-endian order."""
    pages = bytearray(4 * PAGE)
    struct.pack_into(">IQQ", pages, PAGE, 0xDEADBEEF, 0x0102030405060708, KERNEL_BASE + 0x200000)
    vmci = vmcoreinfo_text(OSRELEASE="1.0-toy")
    build_elf(path, [(0x200000, KERNEL_BASE + 0x200000, bytes(pages))], endian=">", machine=TOY_EM,
              notes=make_note(b"VMCOREINFO", 0, vmci, endian=">"))
    return bytes(pages)


def test_registered_architecture_reads_its_dump(toy: ArchInfo, tmp_path: Path) -> None:
    pages = toy_dump(tmp_path / "vmcore")
    with open_dump(tmp_path / "vmcore") as ctx:
        assert ctx.attr["arch.name"] == "toy" and ctx.attr["arch.byte_order"] == "big"
        km = ctx.kernel_memory()
        assert isinstance(km, KernelMemory) and km.byte_order == "big"
        va = KERNEL_BASE + 0x200000 + PAGE
        assert km.u32(va) == 0xDEADBEEF
        assert km.u64(va + 4) == 0x0102030405060708
        assert km.ptr(va + 12) == KERNEL_BASE + 0x200000
        assert ctx.read_virt(KERNEL_BASE + 0x200000, 3 * PAGE) == pages[: 3 * PAGE]


def test_vtop_and_conversion_of_a_registered_architecture(toy: ArchInfo, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    pages = toy_dump(tmp_path / "vmcore")
    assert main(["--vtop", hex(KERNEL_BASE + 0x201234), str(tmp_path / "vmcore")]) == 0
    out = capsys.readouterr()
    assert f"{KERNEL_BASE + 0x201234:16x}  201234" in out.out + out.err
    assert main(["-l", "-d", "1", "--message-level", "0", str(tmp_path / "vmcore"), str(tmp_path / "out")]) == 0
    with open_dump(tmp_path / "out") as ctx:
        assert ctx.attr["arch.name"] == "toy"
        assert ctx.read_phys(0x200000 + PAGE, PAGE) == pages[PAGE : 2 * PAGE]


def test_unregistered_machine_is_unknown(tmp_path: Path) -> None:
    toy_dump(tmp_path / "vmcore")
    with open_dump(tmp_path / "vmcore") as ctx:
        assert ctx.attr.get("arch.name") in (None, "")


def test_readme_and_help_tables_are_the_registry() -> None:
    """The README's architecture table is translate/support.py's, row for row; --help names every
    registered architecture; each with page tables has a row that says on what it was proven."""
    from pymakedumpfile.translate import support

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- arch-table")
    body = readme[readme.index("\n", start) + 1 : readme.index("<!-- /arch-table -->")]
    assert body == support.markdown()
    rows = support.rows()
    assert [r[0] for r in rows] == list(translate.ARCHES)
    for r in rows:
        assert (r[2] == "yes") == (r[6].startswith(("real:", "synthetic:"))), r
    from pymakedumpfile.cli.clicked import HELP

    assert all(name in HELP for name in translate.ARCHES)
    assert all(f"  {r[0]:<12} {r[6].split(': ', 1)[1]}" in HELP for r in rows if r[2] == "yes")
    # a synthetic row says so where --help lists it
    synthetic = HELP.index("proven on synthetic machines only")
    assert all(HELP.index(f"  {r[0]:<12} ") > synthetic for r in rows if r[6].startswith("synthetic:"))
