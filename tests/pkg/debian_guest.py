#!/usr/bin/env python3
"""A Debian 12 guest whose kdump-tools runs pymakedumpfile, crashed for real under QEMU.

``build DEB DIR``: a root file system from a minimal Debian 12 (debootstrap, kept in the cache),
with Debian's kernel, systemd, kdump-tools (which brings makedumpfile) and our package DEB,
installed by apt; kdump-tools enabled the way its documentation says (USE_KDUMP=1,
``crashkernel=`` on the command line), and ``/usr/bin/makedumpfile`` diverted to pymakedumpfile
(``dpkg-divert --rename``: reversible with ``dpkg-divert --rename --remove``), as docs/capture.md
tells users.  Nothing else of kdump-tools is changed.  Two things are added for the test: a unit
that panics the guest once kdump-tools has loaded the crash kernel, and, as the diverted
``makedumpfile``, a wrapper that first runs Debian's makedumpfile with the same arguments on the
same /proc/vmcore into ``/var/crash/reference`` (the reference of the same flow), then execs
pymakedumpfile.  The image is ``DIR/disk.img`` (ext4), with the guest's kernel and initrd beside.

``run DIR``: boot it (TCG), let it panic, let the crash kernel save the dump and reboot (QEMU
exits: -no-reboot), then copy /var/crash out of the image (debugfs, no mount) into DIR/crash.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("PMD_CACHE", Path.home() / ".cache" / "pymakedumpfile"))
MIRROR = "http://deb.debian.org/debian"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}

INITRD_UNIT = """[Unit]
Description=kdump-tools' crash initrd, made as its kernel hook makes it on an installed system
Before=kdump-tools.service
After=local-fs.target
DefaultDependencies=no
ConditionKernelCommandLine=!systemd.unit=kdump-tools-dump.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c '[ -e /var/lib/kdump/initrd.img-$(uname -r) ] || /etc/kernel/postinst.d/kdump-tools $(uname -r)'

[Install]
WantedBy=multi-user.target
"""

PANIC_UNIT = """[Unit]
Description=Panic once kdump-tools has loaded the crash kernel (pymakedumpfile's test)
After=kdump-tools.service
ConditionPathExists=!/var/lib/pmd-test-panicked

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'for i in $(seq 600); do [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] && break; sleep 1; done; \
echo "PMD-TEST: crash kernel loaded=$(cat /sys/kernel/kexec_crash_loaded)" > /dev/console; \
touch /var/lib/pmd-test-panicked; sync; echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger'

[Install]
WantedBy=multi-user.target
"""

WRAPPER = """#!/bin/sh
# makedumpfile diverted to pymakedumpfile (pymakedumpfile's test: Debian's makedumpfile runs first
# with the same arguments into /var/crash/reference, the reference of the same flow)
case " $* " in
*" --dump-dmesg "*) ;;
*) mkdir -p /var/crash/reference
   /usr/bin/makedumpfile.distrib "$@" > /var/crash/reference/dump 2> /var/crash/reference/log
   echo "rc=$?" >> /var/crash/reference/log ;;
esac
exec /usr/bin/pymakedumpfile "$@"
"""


def sh(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kw)  # type: ignore[call-overload]


def chroot(root: Path, *argv: str) -> None:
    sh(["chroot", str(root), *argv], env=ENV)


def base() -> Path:
    b = CACHE / "chroot-bookworm"
    if not (b / "usr" / "bin" / "apt-get").exists():
        shutil.rmtree(b, ignore_errors=True)
        sh(["debootstrap", "--variant=minbase", "bookworm", str(b), MIRROR])
    return b


def build(deb: Path, d: Path) -> None:
    root = d / "root"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    sh(["cp", "-a", str(base()), str(root)])
    for m in ("proc", "sys", "dev"):
        sh(["mount", "--bind", f"/{m}", str(root / m)])
    try:
        (root / "etc" / "hostname").write_text("pmdguest\n")
        (root / "etc" / "fstab").write_text("/dev/vda / ext4 rw,errors=remount-ro 0 1\n")
        sh(["chroot", str(root), "debconf-set-selections"], input="kdump-tools kdump-tools/use_kdump boolean true\n",
           env=ENV)
        (root / "etc" / "apt" / "sources.list").write_text(
            f"deb {MIRROR} bookworm main\ndeb {MIRROR} bookworm-updates main\n"
            "deb http://security.debian.org/debian-security bookworm-security main\n")
        shutil.copy(deb, root / "tmp" / deb.name)
        chroot(root, "apt-get", "update", "-qq")
        chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "linux-image-amd64",
               "systemd-sysv", "udev", "kdump-tools", "kexec-tools", "makedumpfile", "busybox", "e2fsprogs",
               f"/tmp/{deb.name}")
        # kdump-tools as its documentation says: enabled, the dump in /var/crash
        conf = root / "etc" / "default" / "kdump-tools"
        text = conf.read_text().replace("USE_KDUMP=0", "USE_KDUMP=1")
        conf.write_text(text if "USE_KDUMP=1" in text else text + "USE_KDUMP=1\n")
        # makedumpfile -> pymakedumpfile, reversibly (docs/capture.md)
        chroot(root, "dpkg-divert", "--local", "--rename", "--divert", "/usr/bin/makedumpfile.distrib",
               "--add", "/usr/bin/makedumpfile")
        (root / "usr" / "bin" / "makedumpfile").write_text(WRAPPER)
        os.chmod(root / "usr" / "bin" / "makedumpfile", 0o755)
        (root / "etc" / "systemd" / "system" / "pmd-test-panic.service").write_text(PANIC_UNIT)
        chroot(root, "systemctl", "enable", "pmd-test-panic.service")
        chroot(root, "passwd", "-d", "root")
        # kdump-tools' crash initrd: its kernel hook cannot find the root device in a chroot
        # (MODULES=dep), so the guest runs the hook itself before kdump-tools loads
        (root / "etc" / "systemd" / "system" / "pmd-test-initrd.service").write_text(INITRD_UNIT)
        chroot(root, "systemctl", "enable", "pmd-test-initrd.service")
        kver = sorted(p.name[len("vmlinuz-"):] for p in (root / "boot").glob("vmlinuz-*"))[-1]
        (d / "KVER").write_text(kver + "\n")
        shutil.copy(root / "boot" / f"vmlinuz-{kver}", d / "vmlinuz")
        shutil.copy(root / "boot" / f"initrd.img-{kver}", d / "initrd.img")
        (root / "tmp" / deb.name).unlink()
    finally:
        for m in ("dev", "sys", "proc"):
            subprocess.run(["umount", "-l", str(root / m)], check=False)
    sh(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(d / "disk.img"), "3G"])
    shutil.rmtree(root)


def run(d: Path, mem: int, crash: int, timeout: int) -> None:
    argv = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg,thread=multi", "-m", str(mem), "-smp", "2",
            "-display", "none", "-no-reboot", "-monitor", "none", "-serial", f"file:{d / 'console.log'}",
            "-kernel", str(d / "vmlinuz"), "-initrd", str(d / "initrd.img"),
            "-append", f"root=/dev/vda rw console=ttyS0 crashkernel={crash}M",
            "-drive", f"file={d / 'disk.img'},format=raw,if=virtio,cache=unsafe"]
    t0 = time.time()
    p = subprocess.run(argv, timeout=timeout, check=False)
    print(f"guest ran {time.time() - t0:.0f} s, QEMU rc={p.returncode}", file=sys.stderr)
    shutil.rmtree(d / "crash", ignore_errors=True)
    (d / "crash").mkdir()
    sh(["debugfs", "-R", f"rdump /var/crash {d / 'crash'}", str(d / "disk.img")], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["build", "run"])
    ap.add_argument("dir")
    ap.add_argument("--deb")
    ap.add_argument("--mem", type=int, default=1536)
    ap.add_argument("--crash", type=int, default=384)
    ap.add_argument("--timeout", type=int, default=2400)
    a = ap.parse_args()
    if a.step == "build":
        build(Path(a.deb), Path(a.dir))
    else:
        run(Path(a.dir), a.mem, a.crash, a.timeout)


if __name__ == "__main__":
    main()
