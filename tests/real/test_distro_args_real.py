"""The command lines the distributions' kdump services give makedumpfile, given to pymakedumpfile
in their place, on the real mem512 vmcore, each beside makedumpfile with the same arguments.

Debian's kdump-tools (``kdump-config``, bookworm's 1.8.x):

- ``MAKEDUMP_ARGS``: the documented default ``-c -d 31`` (kdump-tools(5) and the commented line of
  /etc/default/kdump-tools), which kdump-config completes with ``-F`` when it lacks one, and
  kdump-config's own default ``-F -c -d 31``; its comment names the fallback ``-d 1 -c``.  It runs
  ``makedumpfile $MAKEDUMP_ARGS $vmcore_file | compress > dump-incomplete``: the flattened stream
  on stdout, whatever the compression around it.
- ``makedumpfile --dump-dmesg $vmcore $outfile`` for ``dmesg.TIMESTAMP``.

kdump-utils (Fedora, RHEL; kexec-tools' kdump before it): ``core_collector makedumpfile -l
--message-level 7 -d 31`` (its default), run as ``$CORE_COLLECTOR /proc/vmcore
$path/vmcore-incomplete``, and with ``-F`` for ssh targets, piped to ``ssh ... dd``.

Each run here: the same exit status as makedumpfile's, a file (or a stream) that makedumpfile
reads back (``-R`` rebuilds ours), and the same pages kept as makedumpfile's (bitmap 2; pfn 0x9f,
the partial page makedumpfile 1.7.2 drops at levels that read struct pages, aside).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pymakedumpfile import open_dump

PARTIAL = 0x9F  # makedumpfile 1.7.2 leaves out this partially-RAM page at levels 2-31 (docs/compatibility.md)

# (who documents it, the arguments, whether they write a flattened stream to stdout)
LINES = [
    ("kdump-tools: documented MAKEDUMP_ARGS, -F added by kdump-config", "-c -d 31 -F", True),
    ("kdump-tools: kdump-config's default MAKEDUMP_ARGS", "-F -c -d 31", True),
    ("kdump-tools: kdump-config's fallback, -F added", "-d 1 -c -F", True),
    ("kdump-utils: default core_collector", "-l --message-level 7 -d 31", False),
    ("kdump-utils: core_collector of an ssh target", "-F -l --message-level 7 -d 31", True),
]


def run(tool: list[str], args: str, vmcore: Path, out: Path, stream: bool) -> int:
    argv = [*tool, *shlex.split(args), str(vmcore)]
    if stream:  # "| compress > file", "| ssh ... dd of=file": stdout is the dump
        with open(out, "wb") as f:
            return subprocess.run(argv, stdout=f, stderr=subprocess.DEVNULL, timeout=600).returncode
    return subprocess.run([*argv, str(out)], capture_output=True, timeout=600).returncode


def kept(path: Path) -> set[int]:
    with open_dump(path) as ctx:
        pm = ctx.pagemap
        return {p for a, b in pm.runs() for p in range(a, b)}


@pytest.mark.parametrize(("who", "args", "stream"), LINES, ids=[w.split(":")[0] + ": " + a for w, a, _ in LINES])
def test_the_services_command_lines(who: str, args: str, stream: bool, mem512: Path, makedumpfile: str,
                                    tmp_path: Path) -> None:
    vmcore = mem512 / "vmcore.elf"
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    assert run([sys.executable, "-m", "pymakedumpfile"], args, vmcore, ours, stream) == 0, who
    assert run([makedumpfile], args, vmcore, theirs, stream) == 0, who
    if stream:  # what a user does with the file afterwards: makedumpfile -R rebuilds it
        for f in (ours, theirs):
            with open(f, "rb") as src:
                r = subprocess.run([makedumpfile, "-R", str(f) + ".kdump"], stdin=src, capture_output=True,
                                   timeout=600)
            assert r.returncode == 0, (f, r.stderr)
        ours, theirs = Path(str(ours) + ".kdump"), Path(str(theirs) + ".kdump")
    else:
        r = subprocess.run([makedumpfile, "--dump-dmesg", str(ours), str(tmp_path / "log")], capture_output=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr
    a, b = kept(ours) - {PARTIAL}, kept(theirs) - {PARTIAL}
    assert a == b, (who, len(a ^ b))


def test_kdump_tools_dmesg(mem512: Path, makedumpfile: str, tmp_path: Path) -> None:
    """``makedumpfile --dump-dmesg $vmcore $outfile``: makedumpfile 1.7.2's file but for the caller
    ids ([T<pid>], [C<cpu>]) that makedumpfile prints from 1.7.5 and we print (test_dmesg_real.py
    compares with a current makedumpfile)."""
    from test_dmesg_real import strip_caller_ids

    vmcore = mem512 / "vmcore.elf"
    ours_cmd = [sys.executable, "-m", "pymakedumpfile"]
    for tool, out in ((ours_cmd, tmp_path / "ours"), ([makedumpfile], tmp_path / "ref")):
        assert subprocess.run([*tool, "--dump-dmesg", str(vmcore), str(out)], capture_output=True,
                              timeout=600).returncode == 0
    ours = (tmp_path / "ours").read_bytes()
    assert b"[      T1] " in ours and strip_caller_ids(ours) == (tmp_path / "ref").read_bytes()
