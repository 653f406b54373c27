#!/usr/bin/env python3
"""Run the shared rig (``RIG_SRC/rig.py``, read-only) with ``--kpageflags``, reading the guest's
/proc/kpageflags twice instead of once.

    RIG_SRC=../shared/vmcores RIG_DIR=... kpf_twice.py RIG.PY-ARGUMENTS... --kpageflags

The rig asks the guest for one copy of /proc/kpageflags (its ``kpf`` console command writes it
to a raw disk) and then takes the dumps: kpageflags is the truth of the moment before them.  A
page can change state between that read and the dump (the guest keeps running: the shell, dd,
kernel threads), and the number of such pages varies from one run to the next.  Here the guest is
asked twice in a row: the first copy is saved on the host before the second is written (the raw
disk image is a plain file, written by QEMU before the guest sees its write complete) as
``kpageflags.first.bin`` beside the rig's ``kpageflags.bin`` (the second copy, the one the dumps
follow).  The pages whose state differs between the two copies measure how much the guest changes
in the time of one read; tests/real/test_612_truth.py derives its allowance from them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

RIG_SRC = Path(os.environ.get("RIG_SRC", Path(__file__).resolve().parents[3] / "shared" / "vmcores"))


def load_rig():  # noqa: ANN201 - the shared rig module
    spec = importlib.util.spec_from_file_location("rig", RIG_SRC / "rig.py")
    assert spec is not None and spec.loader is not None
    rig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rig)
    return rig


def markers(guest, text: str) -> int:  # noqa: ANN001
    with guest.cv:
        return sum(text in line for line in guest.lines)


def wait_count(guest, text: str, count: int, timeout: float) -> None:  # noqa: ANN001
    deadline = time.time() + timeout
    while markers(guest, text) < count:
        if guest.p.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the guest did not answer the kpageflags copy ({text!r} x{count})")
        with guest.cv:
            guest.cv.wait(0.5)


def main(rig=None) -> None:  # noqa: ANN001 - a rig module already loaded (arm64_rig.py's)
    rig = rig or load_rig()
    state: dict[str, str] = {}
    send = rig.Guest.send

    def send_twice(self, text: str) -> None:  # noqa: ANN001
        if text != "kpf\n" or "run" in state:
            send(self, text)
            return
        # the disk the guest copies kpageflags to: the rig's kpf.img in this run's directory
        img = next(a.split("file=", 1)[1].split(",", 1)[0] for a in self.p.args if "file=" in a and "kpf.img" in a)
        state["run"] = os.path.dirname(img)
        before = markers(self, "RIG: KPF-")
        send(self, text)
        wait_count(self, "RIG: KPF-", before + 1, 300)
        shutil.copyfile(img, os.path.join(state["run"], "kpf.first.img"))
        state["t"] = f"{time.time():.3f}"
        send(self, text)  # the second copy; the rig waits for it (its marker line follows)
        wait_count(self, "RIG: KPF-", before + 2, 300)

    rig.Guest.send = send_twice
    rig.main()
    if "run" not in state:
        sys.exit("kpf_twice: the rig never asked for kpageflags (pass --kpageflags)")
    run = state["run"]
    first = os.path.join(run, "kpf.first.img")
    with open(first, "rb") as f:
        head = f.read(4096).split(b"\n")[0].decode("ascii", "replace")
        kv = dict(x.split("=", 1) for x in head.split()[1:] if "=" in x)
        if not head.startswith("RIGKPF"):
            sys.exit(f"kpf_twice: no kpageflags header in the first copy ({first})")
        f.seek(int(kv["flags_off"]))
        Path(run, "kpageflags.first.bin").write_bytes(f.read(int(kv["flags_bytes"])))
    os.unlink(first)
    rec_path = Path(run, "rig-run.json")
    rec = json.loads(rec_path.read_text())
    rec["kpf_first_header"] = head
    rec_path.write_text(json.dumps(rec, indent=1))
    print(f"[kpf_twice] first kpageflags copy: {head}", flush=True)


if __name__ == "__main__":
    main()
