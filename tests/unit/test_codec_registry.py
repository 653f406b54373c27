"""Adding a page codec is one module declaring a ``Codec`` and one ``register()`` line
(docs/architecture.md): a toy codec registered so is what the kdump writer compresses with, what
the reader decompresses with (by its descriptor flag), and what the codec queries list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gen import build_elf, make_note, vmcoreinfo_text

from pymakedumpfile import codecs, open_dump
from pymakedumpfile.codecs import Codec, register
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.formats import diskdump as dd
from pymakedumpfile.output import write_dump

PAGE = 4096
MAGIC = b"TOY!"


def _toy_compressor() -> Callable[[bytes], bytes]:
    """Run-length of the page's bytes, pairs (count, byte): a repetitive page shrinks."""

    def comp(page: bytes) -> bytes:
        page = bytes(page)
        out = bytearray(MAGIC)
        i = 0
        while i < len(page):
            j = i
            while j < len(page) and j - i < 255 and page[j] == page[i]:
                j += 1
            out += bytes((j - i, page[i]))
            i = j
        return bytes(out)

    return comp


def _toy_decompressor() -> Callable[[bytes, int], bytes]:
    def dec(data: bytes, ps: int) -> bytes:
        if data[:4] != MAGIC:
            raise ValueError("not a toy stream")
        out = bytearray()
        for k in range(4, len(data) - 1, 2):
            out += bytes([data[k + 1]]) * data[k]
        return bytes(out)

    return dec


# the toy borrows snappy's descriptor flag: the kdump format has no free compression bit
TOY = Codec("toy", dd.DUMP_DH_COMPRESSED_SNAPPY, "p", _toy_compressor, _toy_decompressor)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Codec:
    """The registry without snappy, with the toy: the one line a codec module adds is
    ``register(TOY)`` (the registry is swapped for copies, so the test leaves no trace)."""
    monkeypatch.setattr(codecs, "CODECS", {k: v for k, v in codecs.CODECS.items() if k != "snappy"})
    monkeypatch.setattr(codecs, "BY_FLAG", {k: v for k, v in codecs.BY_FLAG.items() if v.name != "snappy"})
    return register(TOY)


def test_registered_codec_writes_and_reads_a_dump(toy: Codec, tmp_path: Path) -> None:
    pages = b"".join(bytes([i]) * (PAGE - 16) + bytes(range(16)) for i in range(1, 5))
    build_elf(tmp_path / "vmcore", [(0x100000, 0xFFFF888000100000, pages)],
              notes=make_note(b"VMCOREINFO", 0, vmcoreinfo_text()))
    with open_dump(tmp_path / "vmcore") as src:
        w = make_write_context(src, format="kdump", compression="toy", dump_level=0)
        res = write_dump(w, str(tmp_path / "out"))
    assert res.compressed_pages == 4
    raw = (tmp_path / "out").read_bytes()
    assert raw.count(MAGIC) == 4  # each page went through the toy compressor
    with open_dump(tmp_path / "out") as ctx:
        assert ctx.attr["file.compression"] == "toy"
        assert ctx.read_phys(0x100000, len(pages)) == pages


def test_registry_queries(toy: Codec) -> None:
    assert codecs.is_available("toy") and codecs.available()["toy"]
    assert "snappy" not in codecs.available()
    assert codecs.compressor("toy")(bytes(PAGE)) == MAGIC + bytes((255, 0)) * 16 + bytes((16, 0))
    assert codecs.decompressor(dd.DUMP_DH_COMPRESSED_SNAPPY) is not None
    with pytest.raises(ValueError, match="registered twice"):
        register(TOY)


def test_the_four_codecs_are_registered() -> None:
    assert {c: (k.flag, k.option) for c, k in codecs.CODECS.items()} == {
        "zlib": (0x01, "c"), "lzo": (0x02, "l"), "snappy": (0x04, "p"), "zstd": (0x20, "z")}
    assert {f: c.name for f, c in codecs.BY_FLAG.items()} == {0x01: "zlib", 0x02: "lzo", 0x04: "snappy", 0x20: "zstd"}
