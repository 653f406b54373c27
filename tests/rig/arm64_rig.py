#!/usr/bin/env python3
"""The shared arm64 rig (RIG_SRC/arm64/rig.py), with what our tests need on top:

* the guest is stopped (QMP ``stop``) before QEMU's first dump and resumed before the crash, so
  that QEMU's ELF and kdump-compressed files hold the same moment of the guest, page for page;
* before its kpageflags are read (or, without --kpageflags, before the dumps), the guest reports
  what the tests check our reading against: its kernel log (``dmesg``) and ``/proc/vmallocinfo``
  (vmalloc and ioremap addresses, the latter with their physical addresses).  Both are written to
  the run folder as ``guest-dmesg.txt`` and ``guest-vmallocinfo.txt``, cut out of the console log
  between markers.  They come first because the processes they run allocate and free memory:
  between the last kpageflags read and QEMU's dump the guest must do as little as possible
  (tests/real/test_612_truth.py's premise).

Arguments are the shared rig's (``--mem``, ``--cpu``, ``--name``, ``--kpageflags`` ...), and
``--kpf-twice``: read the guest's kpageflags twice in a row, as kpf_twice.py does for x86_64.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

SRC = Path(os.environ.get("RIG_SRC", Path(__file__).resolve().parents[2] / ".." / "shared" / "vmcores"))
spec = importlib.util.spec_from_file_location("arm64_shared_rig", SRC / "arm64" / "rig.py")
assert spec and spec.loader
rig = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rig)

state: dict[str, object] = {}
_cmd, _send, _init = rig.QMP.cmd, rig.Guest.send, rig.Guest.__init__
REPORTS = {"dmesg": "dmesg", "vmallocinfo": "echo 1 > /proc/sys/kernel/kptr_restrict; cat /proc/vmallocinfo"}


def guest_init(self, argv, logpath):  # type: ignore[no-untyped-def]
    _init(self, argv, logpath)
    state["guest"], state["run"] = self, os.path.dirname(logpath)


def wait_line(g, n0: int, line: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Wait for a console line equal to ``line`` after line ``n0`` (the echo of the command
    that prints it contains it too, but is not equal to it)."""
    import time

    t0 = time.time()
    with g.cv:
        while line not in g.lines[n0:]:
            if time.time() - t0 > timeout or g.p.poll() is not None:
                raise TimeoutError(f"no console line {line!r}")
            g.cv.wait(1.0)


def report(g) -> None:  # type: ignore[no-untyped-def]
    """Have the guest print each report between markers; keep the lines in the run folder."""
    for name, cmd in REPORTS.items():
        n0 = len(g.lines)
        _send(g, f"x echo RIG-BEGIN-{name}; {cmd}; echo RIG-END-{name}\n")
        wait_line(g, n0, f"RIG-END-{name}", 300)
        lines = g.lines[n0:]
        begin = max(i for i, ln in enumerate(lines) if ln == f"RIG-BEGIN-{name}")
        end = max(i for i, ln in enumerate(lines) if ln == f"RIG-END-{name}")
        body = [ln for ln in lines[begin + 1 : end] if not re.match(r"^\[rig |^RIG:", ln)]
        Path(str(state["run"]), f"guest-{name}.txt").write_text("".join(ln + "\n" for ln in body))


def report_once() -> None:
    if "reported" not in state:
        state["reported"] = True
        report(state["guest"])


def qmp_cmd(self, name, **args):  # type: ignore[no-untyped-def]
    state["qmp"] = self
    if name == "query-dump-guest-memory-capability":
        report_once()
    if name == "dump-guest-memory" and not state.get("stopped"):
        _cmd(self, "stop")
        state["stopped"] = True
    return _cmd(self, name, **args)


def guest_send(self, text):  # type: ignore[no-untyped-def]
    if text == "kpf\n":
        report_once()
    if state.get("stopped") and text.strip() in ("crash", "poweroff"):
        _cmd(state["qmp"], "cont")
        state["stopped"] = False
    return _send(self, text)


rig.Guest.__init__, rig.Guest.send, rig.QMP.cmd = guest_init, guest_send, qmp_cmd

if __name__ == "__main__":
    sys.argv[0] = str(SRC / "arm64" / "rig.py")
    if "--kpf-twice" in sys.argv:
        sys.argv.remove("--kpf-twice")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import kpf_twice

        kpf_twice.main(rig)
    else:
        rig.main()
