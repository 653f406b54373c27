"""--config: the filter configuration's language (makedumpfile.conf(5)), the errors a bad one
gives (one line naming the file and line, exit 1, no dump written), and the page patching
that erases what it names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pymakedumpfile.filter.config import ConfigError, Erase, Loop, parse_config
from pymakedumpfile.filter.erase import FILL, EraseSet, ErasingReader, Piece, Target

GOOD = """\
# the man page's examples, in one file
erase top_level_first          # before any header: the kernel's
[vmlinux]
erase array_var
erase mystruct1.buffer size 25
erase mystruct1.name
erase mystruct1.addr1 nullify
erase mystruct1.addr2 size 1K
erase mystruct2.addr size mystruct2.addr_size
erase a->b->c size 2m
for mys1 in mystruct1 via next
\terase mys1.private
\terase mys1.key size mys1.key_size
endfor
for mys1 in s1_list_head.next within s1:list
    erase mys1.private
endfor
for e in myarray
endfor
for e in other_list within s2
    erase e nullify
endfor
[mymodule]
erase module_secret
"""


def test_parses_the_languages_forms(tmp_path: Path) -> None:
    c = parse_config("f.conf", GOOD)
    assert [s.name for s in c.sections] == ["vmlinux", "vmlinux", "mymodule"]
    first, kernel, module = c.sections
    assert first.commands == (Erase(("top_level_first",), "top_level_first", None, False, 2),)
    cmds = kernel.commands
    assert cmds[0] == Erase(("array_var",), "array_var", None, False, 4)
    assert cmds[1].size == 25 and cmds[1].expr == ("mystruct1", "buffer")
    assert cmds[3].nullify and cmds[3].size is None
    assert cmds[4].size == 1024
    assert cmds[5].size == ("mystruct2", "addr_size")
    assert cmds[6].expr == ("a", "b", "c") and cmds[6].size == 2 << 20 and cmds[6].text == "a->b->c"
    via = cmds[7]
    assert isinstance(via, Loop) and via.var == "mys1" and via.via == "next" and via.within is None
    assert [e.text for e in via.body] == ["mys1.private", "mys1.key"] and via.body[1].size == ("mys1", "key_size")
    assert cmds[8].expr == ("s1_list_head", "next") and cmds[8].within == ("s1", "list")
    assert cmds[9].body == () and cmds[9].via is None
    assert cmds[10].within == ("s2", "list")  # the member is "list" when left out, as in makedumpfile
    assert module.commands[0].expr == ("module_secret",) and module.line == 23
    # what the type index must hold: symbols and structures, not loop variables; the kernel's
    # and each module's apart (their types come from different files)
    assert c.names() == {"top_level_first", "array_var", "mystruct1", "mystruct2", "a", "s1_list_head", "s1",
                         "myarray", "other_list", "s2"}
    assert module.names() == {"module_secret"}


@pytest.mark.parametrize("text, line, needle", [
    ("erase\n", 1, "expected a symbol after 'erase', found the end of the file"),
    ("erase size 10\n", 1, "expected a symbol after 'erase', found 'size'"),
    ("erase a size\n", 1, "expected a size after 'size'"),
    ("erase a size 0x10\n", 1, "not a size"),
    ("erase a size -5\n", 1, "not a size"),
    ("erase a size 0\n", 1, "must be positive"),
    ("erase a nullify size 4\n", 1, "takes one of 'size' and 'nullify'"),
    ("\n\nerasee a\n", 3, "expected 'erase' or 'for', found 'erasee'"),
    ("for x in a\n  erase x.b\n", 1, "'for x' has no 'endfor' before the end of the file"),
    ("for x in a\n  erase x.b\n[mod]\nendfor\n", 1, "no 'endfor' before section [mod]"),
    ("for x in a\n for y in b\n endfor\nendfor\n", 2, "loops do not nest"),
    ("for x in a\n  erase y.b\nendfor\n", 2, "an erase in a loop starts with 'x'"),
    ("for x.y in a\nendfor\n", 1, "a name without '.'"),
    ("for x a\nendfor\n", 1, "expected 'in' after 'for x'"),
    ("for x in a within s:\nendfor\n", 1, "write STRUCT:MEMBER"),
    ("endfor\n", 1, "'endfor' without 'for'"),
    ("[vmlinux\nerase a\n", 1, "section header without ']'"),
    ("erase a-b\n", 1, "is not a C name"),
])
def test_mistakes_name_the_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config("bad.conf", text)
    assert e.value.line == line and needle in str(e.value), str(e.value)
    assert str(e.value).startswith(f"bad.conf:{line}: ")


@pytest.fixture
def small_elf(tmp_path: Path) -> Path:
    """A file standing for the dump and the kernel image: the configuration is read before
    either is opened, so its mistakes are found first."""
    p = tmp_path / "vmcore"
    p.write_bytes(b"\x7fELF" + bytes(60))
    return p


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *args], capture_output=True, text=True, timeout=120)


def test_a_bad_config_is_one_line_and_writes_nothing(small_elf: Path, tmp_path: Path) -> None:
    conf = tmp_path / "f.conf"
    conf.write_text("erase init_uts_ns.name.nodename\nfor m in modules.next within module:list\n  erase m.name\n")
    out = tmp_path / "out"
    r = cli("-l", "-d", "31", "--config", str(conf), "-x", str(small_elf), str(small_elf), str(out))
    assert r.returncode == 1 and not out.exists()
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines[0] == f"{PROG}: {conf}:2: 'for m' has no 'endfor' before the end of the file", r.stderr
    assert "Traceback" not in r.stderr
    # --check-params reads the configuration too
    r = cli("--check-params", "-l", "-d", "31", "--config", str(conf), "-x", str(small_elf), str(small_elf), str(out))
    assert r.returncode == 1 and f"{conf}:2:" in r.stderr


def test_config_needs_a_readable_file(small_elf: Path, tmp_path: Path) -> None:
    """(A dump without kallsyms and no -x: tests/unit/test_btf.py.)"""
    out = tmp_path / "out"
    conf = tmp_path / "f.conf"
    conf.write_text("erase a\n")
    r = cli("-l", "--config", str(conf), "--btf", str(tmp_path / "none.btf"), str(small_elf), str(out))
    assert r.returncode == 1 and "--btf " in r.stderr and "no such file" in r.stderr and not out.exists()
    r = cli("-l", "--config", str(tmp_path / "none.conf"), "-x", str(small_elf), str(small_elf), str(out))
    assert r.returncode == 1 and "none.conf: Cannot open the filter configuration" in r.stderr, r.stderr
    assert not out.exists()


PROG = "pymakedumpfile"


class _Pages:
    """A reader of pages filled with their pfn's low byte."""

    page_size = 16

    def read_pages(self, pfn: int, count: int) -> bytes:
        return b"".join(bytes([p & 0xFF]) * 16 for p in range(pfn, pfn + count))

    def read_page(self, pfn: int) -> bytes:
        return self.read_pages(pfn, 1)

    def read_pages_salvaging(self, pfn: int, count: int, failed: list[tuple[int, str]]) -> bytes:
        return self.read_pages(pfn, count)

    other = "kept"


def test_pages_are_patched_and_eraseinfo_counts_what_was_written() -> None:
    """Three objects: one across pages 2 and 3, one nullified pointer on page 5, one on page 9
    that the write never reads.  The eraseinfo names only what went out, with the bytes erased
    in the pages written."""
    targets = [Target(0, "a.b", 0x2C, 8, False, 1), Target(1, "p", 0x50, 4, True, 1), Target(2, "c", 0x90, 2, False, 1)]
    pieces = [Piece(2, 12, 4, FILL, 0), Piece(3, 0, 4, FILL, 0), Piece(5, 0, 4, 0, 1), Piece(9, 0, 2, FILL, 2)]
    es = EraseSet(targets, pieces, 16, [])
    r = ErasingReader(_Pages(), es)
    assert r.other == "kept"  # everything else is the wrapped reader's
    data = r.read_pages(2, 2)
    assert data == b"\2" * 12 + b"X" * 4 + b"X" * 4 + b"\3" * 12
    assert r.read_pages(6, 2) == _Pages().read_pages(6, 2)  # untouched pages come back as they are
    assert es.eraseinfo() == b"erase a.b size 8\n"
    assert r.read_page(5) == b"\0" * 4 + b"\5" * 12
    assert es.eraseinfo() == b"erase a.b size 8\nerase p nullify\n"
    assert es.eraseinfo(start=3, end=5) == b"erase a.b size 4\n"  # a split part holding page 3 only
    # reading again does not count twice; a fresh set starts from nothing
    r.read_pages(2, 4)
    assert es.eraseinfo() == b"erase a.b size 8\nerase p nullify\n"
    assert es.fresh().eraseinfo() == b""
