#!/usr/bin/env python3
"""Boot the rig's Debian kernel under QEMU with tests/vm's images, crash it, let the dracut
crash kernel capture /proc/vmcore with pymakedumpfile, and collect the results.

    tests/vm/vmrun.py IMAGES_DIR RUN_DIR [--mem 512] [--crash 192] [--small-mb 24]

IMAGES_DIR is what build.sh wrote (initramfs.cpio.gz, which holds the crash kernel's
capture.img). RUN_DIR gets: console.log, vmcore.elf (the crash kernel's dd of /proc/vmcore,
trimmed to the ELF's size), out/ (the ext4 target: l/, z/, mdf/ each with vmcore or
vmcore-incomplete, capture.log, time-v.txt, vmcore-dmesg.txt), small/ (the small target the
interrupted capture filled) and run.json (timings, markers, sizes).

Guest memory is filled as the rig does (fractions of RAM - crashkernel): random / zero /
pattern anonymous memory, page cache, tmpfs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

RIG_DIR = Path(os.environ.get("RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig"))


def log(*a: object) -> None:
    print(f"[vm {time.strftime('%H:%M:%S')}]", *a, flush=True)


class Guest:
    def __init__(self, argv: list[str], logpath: Path) -> None:
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.logf = open(logpath, "w")
        self.lines: list[str] = []
        self.cv = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        assert self.p.stdout
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.logf.write(line + "\n")
            self.logf.flush()
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_for(self, marker: str, timeout: float) -> str:
        t0 = time.time()
        with self.cv:
            idx = 0
            while True:
                for i in range(idx, len(self.lines)):
                    if marker in self.lines[i]:
                        return self.lines[i]
                idx = len(self.lines)
                if self.p.poll() is not None:
                    raise RuntimeError(f"QEMU exited (rc={self.p.returncode}) before '{marker}'")
                left = timeout - (time.time() - t0)
                if left <= 0:
                    raise TimeoutError(f"timeout waiting for '{marker}'")
                self.cv.wait(min(left, 1.0))

    def send(self, text: str) -> None:
        assert self.p.stdin
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()


def elf_file_size(path: Path) -> int:
    with open(path, "rb") as f:
        eh = f.read(64)
        assert eh[:4] == b"\x7fELF", "raw vmcore disk does not start with ELF magic"
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        end = phoff + phentsize * phnum
        f.seek(phoff)
        for _ in range(phnum):
            ph = f.read(phentsize)
            _, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", ph, 0)
            end = max(end, off + filesz)
    return end


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


def rdump(img: Path, dst: Path) -> None:
    """Copy an ext4 image's files out with debugfs (no mount)."""
    dst.mkdir(parents=True, exist_ok=True)
    subprocess.run(["debugfs", "-R", f"rdump / {dst}", str(img)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def parse_mem_usage(lines: list[str]) -> dict:
    """The three --mem-usage runs of the guest's memusage command (makedumpfile,
    pymakedumpfile, makedumpfile): per run the exit code, the table's page
    counts and the raw text."""
    out: dict = {}
    for run in ("MDF1", "OURS", "MDF2"):
        try:
            a = next(i for i, ln in enumerate(lines) if f"RIG: MEMUSAGE-{run}-BEGIN" in ln)
            b = next(i for i, ln in enumerate(lines) if f"RIG: MEMUSAGE-{run}-END" in ln)
        except StopIteration:
            continue
        r: dict = {"rc": int(lines[b].rsplit("rc=", 1)[1]), "text": lines[a + 1 : b]}
        for ln in lines[a + 1 : b]:
            f = ln.split()
            if (len(f) >= 2 and f[0] in ("ZERO", "NON_PRI_CACHE", "PRI_CACHE", "USER", "FREE", "KERN_DATA")
                    and f[1].isdigit()):
                r[f[0]] = int(f[1])
            elif ln.startswith("Total pages on system:"):
                r["TOTAL"] = int(f[-1])
        out[run.lower()] = r
    return out


def run(images: Path, run_dir: Path, mem: int, crash: int, small_mb: int, timeout: int,
        mem_usage: bool = True, then_wait: int = 120) -> dict:
    kver = os.listdir(RIG_DIR / "kernel/lib/modules")[0]
    vmlinuz = RIG_DIR / "kernel/boot" / f"vmlinuz-{kver}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    avail = mem - crash
    fill = dict(rand=avail // 6, zero=avail // 12, pat=avail // 12, cache=avail // 12, tmpfs=avail // 24,
                untouched=avail // 12)
    T: dict = {"kernel": kver, "mem_mb": mem, "crashkernel_mb": crash, "fill_mb": fill}
    pre = run_dir / "pre"
    (pre / "pre").mkdir(parents=True)
    sh(f"head -c {fill['cache'] // 2}M /dev/urandom > {pre}/pre/rand.bin")
    sh(f"yes 'pre-populated text file line for the page cache 0123456789' "
       f"| head -c {fill['cache'] - fill['cache'] // 2}M > {pre}/pre/text.txt")
    data, raw, out, small = (run_dir / n for n in ("data.img", "vmcore.raw", "out.img", "small.img"))
    sh(f"truncate -s {2 * fill['cache'] + 128}M {data} && mkfs.ext4 -q -F -d {pre} {data}")
    shutil.rmtree(pre)
    sh(f"truncate -s {mem + 64}M {raw}")
    sh(f"truncate -s {mem * 2 + 256}M {out} && mkfs.ext4 -q -F {out}")
    sh(f"truncate -s {small_mb}M {small} && mkfs.ext4 -q -F {small}")
    append = (f"console=ttyS0,115200 panic=10 rigmode=normal rig_rand={fill['rand']} rig_zero={fill['zero']} "
              f"rig_pat={fill['pat']} rig_cache={fill['cache']} rig_tmpfs={fill['tmpfs']} "
              f"rig_untouched={fill['untouched']} crashkernel={crash}M")
    argv = ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg,thread=multi", "-m", str(mem), "-smp", "2",
            "-cpu", "max,la57=off", "-display", "none", "-no-reboot", "-monitor", "none",
            "-chardev", "stdio,id=s0,signal=off", "-serial", "chardev:s0", "-device", "vmcoreinfo",
            "-kernel", str(vmlinuz), "-initrd", str(images / "initramfs.cpio.gz"), "-append", append]
    for i, (img, serial) in enumerate(((data, "rigdata"), (raw, "pmdraw"), (out, "pmdout"), (small, "pmdsmall"))):
        argv += ["-drive", f"if=none,id=d{i},file={img},format=raw,cache=unsafe",
                 "-device", f"virtio-blk-pci,drive=d{i},serial={serial}"]
    log(f"booting {mem} MiB guest, crashkernel={crash}M")
    t0 = time.time()
    g = Guest(argv, run_dir / "console.log")
    try:
        g.wait_for("RIG: READY", timeout)
        T["boot_and_fill_s"] = round(time.time() - t0, 1)
        line = g.wait_for("RIG: kexec -p", 5)
        T["kexec_line"] = line
        if mem_usage:
            tm = time.time()
            n0 = len(g.lines)
            g.send("memusage\n")
            g.wait_for("RIG: MEMUSAGE-DONE", timeout)
            T["mem_usage_s"] = round(time.time() - tm, 1)
            T["mem_usage"] = parse_mem_usage(g.lines[n0:])
        t1 = time.time()
        g.send("crash\n")
        g.wait_for("PMDTEST: capture kernel up", timeout)
        T["crash_to_capture_kernel_s"] = round(time.time() - t1, 1)
        g.wait_for("PMDTEST: DONE", timeout)
        T["capture_total_s"] = round(time.time() - t1, 1)
        try:  # the guest powers off (the capture service may still be at work: then_wait)
            g.p.wait(then_wait)
            T["crash_to_poweroff_s"] = round(time.time() - t1, 1)
        except subprocess.TimeoutExpired:
            g.p.kill()
            g.p.wait()
    finally:
        if g.p.poll() is None:
            g.p.kill()
            g.p.wait()
    T["markers"] = [ln for ln in g.lines if "PMDTEST:" in ln or "pymakedumpfile-capture:" in ln]
    size = elf_file_size(raw)
    with open(raw, "rb") as fi, open(run_dir / "vmcore.elf", "wb") as fo:
        left = size
        while left:
            b = fi.read(min(left, 8 << 20))
            fo.write(b)
            left -= len(b)
    T["vmcore_elf_size"] = size
    for img, name in ((out, "out"), (small, "small")):
        rdump(img, run_dir / name)
    for p in (raw, out, small, data):
        p.unlink()
    T["results"] = collect(run_dir)
    (run_dir / "run.json").write_text(json.dumps(T, indent=1))
    return T


def collect(run_dir: Path) -> dict:
    """Per run directory: files, collector exit code, wall time and peak RSS from capture.log / time-v.txt."""
    res: dict = {}
    for d in sorted(list((run_dir / "out").glob("*")) + list((run_dir / "small").glob("*"))):
        if not d.is_dir() or d.name == "lost+found":
            continue
        r: dict = {"files": {f.name: f.stat().st_size for f in d.iterdir()}}
        tv = d / "time-v.txt"
        if tv.exists():
            for ln in tv.read_text().splitlines():
                ln = ln.strip()
                if ln.startswith("Maximum resident set size (kbytes):"):
                    r["max_rss_kib"] = int(ln.split(":")[1])
                elif ln.startswith("Elapsed (wall clock) time"):
                    r["time_elapsed"] = ln.split("):", 1)[1].strip()
                elif ln.startswith("Exit status:"):
                    r["exit_status"] = int(ln.split(":")[1])
        cl = d / "capture.log"
        if cl.exists():
            for ln in cl.read_text().splitlines():
                if "collector exit code" in ln:  # the last attempt's line wins
                    r["collector_line"] = ln
                    r["collector_exit"] = int(ln.split("collector exit code ", 1)[1].split(",", 1)[0])
                    r["wall_s"] = float(ln.rsplit("wall time ", 1)[1].rstrip("s"))
        res[f"{d.parent.name}/{d.name}"] = r
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", type=Path)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--crash", type=int, default=192)
    ap.add_argument("--small-mb", type=int, default=24)
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--no-mem-usage", action="store_true", help="skip the first kernel's --mem-usage runs")
    ap.add_argument("--then-wait", type=int, default=120, help="seconds from PMDTEST: DONE to the power-off")
    a = ap.parse_args()
    T = run(a.images, a.run_dir, a.mem, a.crash, a.small_mb, a.timeout, not a.no_mem_usage, a.then_wait)
    print(json.dumps({k: v for k, v in T.items() if k != "markers"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
