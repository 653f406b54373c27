"""--dump-dmesg / --partial-dmesg on the real dumps, against makedumpfile.

The reference is Debian's makedumpfile 1.7.2: ``mdf-ref/dmesg.txt`` was
written by ``makedumpfile --dump-dmesg vmcore.elf`` when the rig made the
dumps.  1.7.2 predates caller ids (makedumpfile 1.7.5, upstream commit
48bb1e0 "add PRINTK_CALLER id support to --dump-dmesg option"), so it is
compared with ``caller_id=False``; the default output (caller ids, as
upstream prints them) must be that text with ``[%8s] `` of ``T<pid>`` /
``C<cpu>`` after each timestamp.  Only files derived from vmcore.elf are
compared: QEMU's own dumps (qemu-elf, qemu-kdump.*) were taken at a
different moment and hold a different log.  Set ``MAKEDUMPFILE_HEAD`` to a
makedumpfile 1.7.5+ binary to compare the caller-id output byte for byte.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from pymakedumpfile import open_dump
from pymakedumpfile.tools.dmesg import dump_dmesg, log_format, write_dmesg

# files made by makedumpfile from vmcore.elf, compared where the rig made them
# ("split": the parts of split.l.d31.*); the first two must exist
DERIVED = ["vmcore.elf", "mdf-ref/dump.l.d31", "mdf-ref/flat.l.d31", "mdf-ref/dump.c.d31", "mdf-ref/dump.z.d31",
           "mdf-ref/dump.p.d31", "mdf-ref/dump.none.d31", "mdf-ref/dump.elf.d31", "mdf-ref/flat.elf.d31",
           "mdf-ref/dump.l.d0", "mdf-ref/dump.l.d31.reassembled", "split"]
WHICH = ["mem512", "mem512-la57", "trixie", "bullseye"]  # bullseye: Debian 11's 5.10 kernel


def rig_dir(mem512: Path, which: str) -> Path:
    if which in ("trixie", "bullseye"):
        d = Path(str(mem512.parent.parent) + f"-{which}") / "dumps" / "mem512"
    else:
        d = mem512.parent / which
    ok = (d / "vmcore.elf").exists() and (d / "mdf-ref" / "dmesg.txt").exists()
    if which == "mem512":
        from util import need

        need(ok, f"no mdf-ref/dmesg.txt in {d}")
    elif not ok:
        pytest.skip(f"no dump with mdf-ref/dmesg.txt in {d}")
    return d


def sources(d: Path) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for name in DERIVED:
        if name == "split":
            parts = sorted(str(p) for p in (d / "mdf-ref").glob("split.l.d31.*"))
            if parts:
                out[name] = parts
        elif (d / name).exists():
            out[name] = str(d / name)
    assert "vmcore.elf" in out and "mdf-ref/dump.l.d31" in out, f"{d}: the rig's usual files are missing"
    return out


def ours(src: str | list[str], partial: bool = False, **kw: bool) -> bytes:
    with open_dump(src) as ctx:  # type: ignore[arg-type]
        return dump_dmesg(ctx, partial, **kw)


def run_makedumpfile(exe: str, src: Path, out: Path, partial: bool = False) -> bytes:
    args = [exe, "--dump-dmesg", *(["--partial-dmesg"] if partial else []), str(src), str(out)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    return out.read_bytes()


_CALLER = re.compile(rb"^(\[[ 0-9]{5,}\.[0-9]{6}\] )\[ *[TC][0-9]+\] ", re.M)


def strip_caller_ids(text: bytes) -> bytes:
    """The caller-id output made into the 1.7.2 one: the ``[%8s] `` field
    out of each record, 11 columns less indent on continuation lines."""
    out = []
    for line in text.split(b"\n"):
        m = _CALLER.match(line)
        if m:
            out.append(m[1] + line[m.end():])
        else:
            assert not line or line.startswith(b" " * 26), line
            out.append(line[11:])
    return b"\n".join(out)


@pytest.mark.parametrize("which", WHICH)
def test_matches_makedumpfile_172(which: str, mem512: Path) -> None:
    d = rig_dir(mem512, which)
    ref = (d / "mdf-ref" / "dmesg.txt").read_bytes()
    assert len(ref) > 10000
    srcs = sources(d)
    if which == "mem512":
        assert {"mdf-ref/flat.l.d31", "split"} <= set(srcs)
    bad = [name for name, src in srcs.items() if ours(src, caller_id=False) != ref]
    assert not bad, f"differ from mdf-ref/dmesg.txt: {bad} (of {sorted(srcs)})"


@pytest.mark.parametrize("which", WHICH)
def test_caller_ids(which: str, mem512: Path) -> None:
    d = rig_dir(mem512, which)
    ref = (d / "mdf-ref" / "dmesg.txt").read_bytes()
    got = ours(str(d / "vmcore.elf"))
    assert got != ref and got.startswith(b"[    0.000000] [      T0] Linux version ")
    assert strip_caller_ids(got) == ref
    with open_dump(str(d / "vmcore.elf")) as ctx:
        assert log_format(ctx) == "lockless"


@pytest.mark.parametrize("which", WHICH)
def test_partial_matches_makedumpfile(which: str, mem512: Path, makedumpfile: str, tmp_path: Path) -> None:
    d = rig_dir(mem512, which)
    want = run_makedumpfile(makedumpfile, d / "vmcore.elf", tmp_path / "partial.txt", partial=True)
    assert ours(str(d / "vmcore.elf"), partial=True, caller_id=False) == want


def test_makedumpfile_on_a_kdump_file(mem512: Path, makedumpfile: str, tmp_path: Path) -> None:
    """makedumpfile reading its own zlib kdump file writes the same log as
    from vmcore.elf, and so do we."""
    d = rig_dir(mem512, "mem512")
    src = d / "mdf-ref" / "dump.c.d31"
    if not src.exists():
        src = d / "mdf-ref" / "dump.l.d31"
    want = run_makedumpfile(makedumpfile, src, tmp_path / "log.txt")
    assert want == (d / "mdf-ref" / "dmesg.txt").read_bytes()
    assert ours(str(src), caller_id=False) == want


@pytest.mark.skipif(not os.environ.get("MAKEDUMPFILE_HEAD"), reason="MAKEDUMPFILE_HEAD is not set")
@pytest.mark.parametrize("which", WHICH)
def test_matches_makedumpfile_head(which: str, mem512: Path, tmp_path: Path) -> None:
    d = rig_dir(mem512, which)
    exe = os.environ["MAKEDUMPFILE_HEAD"]
    assert ours(str(d / "vmcore.elf")) == run_makedumpfile(exe, d / "vmcore.elf", tmp_path / "log.txt")
    assert ours(str(d / "vmcore.elf"), partial=True) == run_makedumpfile(exe, d / "vmcore.elf", tmp_path / "p.txt",
                                                                         partial=True)


def test_write_dmesg(mem512: Path, tmp_path: Path) -> None:
    d = rig_dir(mem512, "mem512")
    out = tmp_path / "dmesg.txt"
    with open_dump(str(d / "mdf-ref" / "dump.l.d31")) as ctx:
        n = write_dmesg(ctx, str(out), caller_id=False)
    assert out.read_bytes() == (d / "mdf-ref" / "dmesg.txt").read_bytes()
    assert n == out.stat().st_size
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
