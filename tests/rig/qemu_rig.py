#!/usr/bin/env python3
"""Real dumps of a Debian kernel booted under QEMU TCG: another architecture (s390x; ppc64el), or
amd64 under a newer QEMU than the host's (for its newer dump formats).

Three steps, each a subcommand, each working in one folder (``--dir``):

``setup``  Debian packages of the architecture, fetched with a private apt configuration (the
           host's dpkg architectures and /etc/apt are not touched) and unpacked, never installed:
           the kernel that ``linux-image-FLAVOUR`` depends on into ``kernel/``, and busybox-static,
           makedumpfile and its libraries into ``sysroot/``: the reference makedumpfile of that
           architecture, run on the host under ``qemu-ARCH-static -L sysroot``.
``build``  ``initramfs.cpio.gz``: the architecture's static busybox, a statically cross-compiled
           ``memfill`` (from the shared rig), the kernel modules for virtio disks and ext4, and the
           shared arm64 rig's ``init.sh`` as ``/init`` (it is not specific to arm64: it fills memory
           with a known mix, answers ``kpf`` and ``x COMMAND`` on the console).
``run``    Boot with ``--mem`` MiB, fill memory, have the guest print its kernel log, its
           ``/proc/vmallocinfo`` and ``/sys/kernel/vmcoreinfo`` (saved as ``guest-*.txt``), copy its
           ``/proc/kpageflags`` (twice in a row with ``--kpf-twice``: the first copy becomes
           ``kpageflags.first.bin``), then stop the guest (QMP ``stop``) and take QEMU's
           dump-guest-memory files of that moment: ``qemu-elf`` and each kdump format QEMU offers
           for the architecture (``qemu-kdump.zlib`` ...).  With ``--crash MIB`` (ppc64el), the
           guest then panics and a crash kernel loaded with ``kexec -p`` copies /proc/vmcore to a
           raw disk (``vmcore.elf``) and runs the architecture's makedumpfile on it
           (``capture-out/``).  Output in ``dumps/NAME/``, with a ``rig-run.json`` of what was run
           and how long it took.

Debian bookworm's s390x kernel is built without ``CONFIG_CRASH_DUMP`` (see docs/s390x.md): there,
QEMU's dumps of the stopped guest are the real dumps of this rig.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RIG_SRC = Path(os.environ.get("RIG_SRC", HERE.parents[1] / ".." / "shared" / "vmcores"))

ARCHES = {
    # amd64: QEMU's own dumps of the stopped guest by a newer QEMU than the host's (--qemu: 8.2 and
    # later write kdump-raw-*, the kdump format unflattened), with VMCOREINFO from -device vmcoreinfo
    "amd64": {
        "gcc": "gcc",
        "qemu": "qemu-system-x86_64",
        "machine": ["-M", "pc", "-device", "vmcoreinfo"],
        "console": "ttyS0",
        "disk": "virtio-blk-pci",
        # qemu_fw_cfg: the guest tells QEMU where its VMCOREINFO is
        "modules": "qemu_fw_cfg virtio_pci virtio_blk crc32c_generic ext4",
        "kdump": False,
    },
    "s390x": {
        "gcc": "s390x-linux-gnu-gcc",
        "qemu": "qemu-system-s390x",
        "machine": ["-M", "s390-ccw-virtio"],
        "console": "ttysclp0",
        "disk": "virtio-blk-ccw",
        "modules": "virtio_blk crc32c_generic ext4",
        "kdump": False,
    },
    "ppc64el": {
        "gcc": "powerpc64le-linux-gnu-gcc",
        "qemu": "qemu-system-ppc64",
        "machine": ["-M", "pseries"],
        "console": "hvc0",
        "disk": "virtio-blk-pci",
        "modules": "virtio_pci virtio_blk crc32c_generic ext4",
        "kdump": True,
        # the crash kernel hangs on its first disk I/O when the panic happened on another CPU
        # than 0 (docs/ppc64.md): panic on CPU 0
        "crash": "x taskset 1 sh -c 'echo c > /proc/sysrq-trigger'",
    },
    # riscv64: Debian 13's kernel (Sv39/Sv48/Sv57 as the CPU allows) on the virt machine with
    # OpenSBI, captured by a real crash kernel; kexec-tools and the makedumpfile of the crash kernel
    # come from sid (Debian 13 has no riscv64 kexec-tools): --user-apt-opts
    "riscv64": {
        "gcc": "riscv64-linux-gnu-gcc",
        "qemu": "qemu-system-riscv64",
        "machine": ["-M", "virt"],
        "console": "ttyS0",
        "disk": "virtio-blk-pci",
        "modules": "virtio_pci virtio_blk crc32c_generic ext4",
        "kdump": True,
        "crash": "crash",
        "user_pkgs_all": "busybox-static kexec-tools makedumpfile libc6 zlib1g liblzma5 libbz2-1.0 libzstd1 libelf1t64 "
                         "libdw1t64 liblzo2-2 libgcc-s1",
        # kexec-tools (2.0.32) leaves the ranges /proc/iomem calls Reserved out of the crash
        # kernel's ELF header: on riscv64 those are the kernel's own early allocations (mem_section,
        # the struct pages, page tables), which the dump then lacks.  kexec is shown an iomem
        # without them (Debian's riscv64 kernel has no kexec_file_load, whose headers the kernel
        # makes itself), but for the firmware's own (OpenSBI's, which its PMP keeps the kernel from
        # reading: /proc/vmcore fails there with EFAULT), the device tree's reserved-memory nodes
        "before_kexec": "K=$(for n in /sys/firmware/devicetree/base/reserved-memory/*@*; do "
                        "echo \"${n##*@}\"; done | tr '\\n' ' '); awk -v keep=\"$K\" "
                        "'BEGIN { n = split(keep, k, \" \"); for (i = 1; i <= n; i++) K[k[i]] = 1 } "
                        "{ s = $1; sub(/-.*/, \"\", s); sub(/^0+/, \"\", s) } !/: Reserved$/ || (s in K)' /proc/iomem "
                        "> /tmp/iomem && mount --bind /tmp/iomem /proc/iomem && "
                        "log \"iomem: Reserved ranges hidden from kexec but the firmware's ($K)\"",
    },
    # loongarch64: sid's kernel (16 KiB pages, three levels) on the virt machine, booted by trixie's
    # EDK II (the kernel is an EFI application) under bookworm-backports' QEMU (7.2 cannot load that
    # firmware), captured by a real crash kernel with sid's kexec-tools; Debian has no makedumpfile
    # for it and no cross compiler on bookworm: memfill is a shell script (see build)
    "loong64": {
        "gcc": None,
        "qemu": "qemu-system-loongarch64",
        "machine": ["-M", "virt"],
        "console": "ttyS0",
        "disk": "virtio-blk-pci",
        "modules": "virtio_pci virtio_blk crc32c_generic crc32c ext4",
        "kdump": True,
        "crash": "crash",
        "makedumpfile": False,
        # not at the top of RAM, where the firmware's boot-services memory is: the crash kernel
        # keeps that reserved (its EFI memory map) and drops an initrd found there
        "crash_at": "@2304M",
        # (its kernel sets 128 MiB aside for CMA, which a crash kernel cannot spare)
        "append": "rig_capture_extra=cma=0",
        "bios": "firmware/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd",
        "user_pkgs_all": "busybox-static kexec-tools libc6 libgcc-s1",
    },
    # 32-bit x86: Debian's 686-pae (3-level tables, 64-bit entries) and 686 (2-level) kernels, with
    # a real kexec capture; the i386 makedumpfile runs on the host as it is (an x86_64 kernel runs
    # i386 programs) through the sysroot's loader
    "i386": {
        "gcc": "i686-linux-gnu-gcc",
        "qemu": "qemu-system-i386",
        "machine": ["-M", "pc", "-device", "vmcoreinfo"],
        "console": "ttyS0",
        "disk": "virtio-blk-pci",
        # qemu_fw_cfg: the guest tells QEMU where its VMCOREINFO is (QEMU's own dumps carry it)
        "modules": "qemu_fw_cfg virtio_pci virtio_blk crc32c_generic ext4",
        "kdump": True,
        "crash": "crash",
    },
    # 32-bit arm: Debian's armmp (classic 2-level tables) and armmp-lpae (3-level) kernels on the
    # virt machine, with a real kexec capture
    "armhf": {
        "gcc": "arm-linux-gnueabihf-gcc",
        "qemu": "qemu-system-arm",
        "machine": ["-M", "virt,highmem=off"],
        "console": "ttyAMA0",
        "disk": "virtio-blk-device",
        "modules": "virtio_mmio virtio_blk crc32c_generic ext4",
        "kdump": True,
        "crash": "crash",
        # kexec places the crash kernel's initramfs past four times the zImage's size; the zImage
        # decompressor, moving itself out of the kernel's way, overwrote it there ("invalid magic
        # at start of compressed archive"): room for 64 MiB of kernel instead
        "append": "rig_kexec_opts=--image-size=0x4000000",
        # armhf's kexec links libxenctrl (bookworm's names)
        "user_pkgs": "libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 "
                     "libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1 libyajl2 libfdt1",
    },
}
# what the reference makedumpfile needs (bookworm names; sid's are listed in make-dumps.sh)
USER_PKGS = ("busybox-static kexec-tools makedumpfile libc6 zlib1g liblzma5 libbz2-1.0 libzstd1 libelf1 libdw1 "
             "liblzo2-2 libgcc-s1")


def log(*a: object) -> None:
    print(f"[qemu_rig {time.strftime('%H:%M:%S')}]", *a, flush=True)


def sh(cmd: str, **kw: object) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(cmd, shell=True, check=True, **kw)  # type: ignore[call-overload]


def shared_rig():  # noqa: ANN201 - the shared arm64 rig module (its QMP and Guest classes)
    spec = importlib.util.spec_from_file_location("shared_arm64_rig", RIG_SRC / "arm64" / "rig.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# memfill for an architecture without a cross compiler here: its arguments as memfill.c takes them;
# the random and pattern megabytes become text held in this shell's variables (anonymous memory,
# hex: twice the bytes of random data), the zero and untouched ones are left out
MEMFILL_SH = """#!/bin/sh
r=$(head -c $(($1 * 524288)) /dev/urandom | od -An -v -tx8 | tr -d ' \\n')
p=$(yes 'memfill pattern page: the quick brown fox jumps over the lazy dog 0123456789' | head -c $(($3 * 1048576)))
echo "memfill: pid $$ rand=$1MB pattern=$3MB (shell: hex text; zero=$2MB untouched=$4MB left out) filled"
while :; do sleep 3600; done
"""


# ---------------------------------------------------------------- setup
def setup(a: argparse.Namespace) -> None:
    d = Path(a.dir)
    debs = d / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    opts = a.apt_opts.split()
    kpkg = a.kpkg
    if not kpkg:
        dep = subprocess.run(["apt-cache", *opts, "depends", f"linux-image-{a.flavour or a.arch}"],
                             capture_output=True, text=True, check=True).stdout
        kpkg = re.search(r"Depends: (linux-image-[0-9]\S*)", dep).group(1)  # type: ignore[union-attr]
    log("kernel package:", kpkg)
    spec = ARCHES[a.arch]
    pkgs = f"{spec.get('user_pkgs_all', USER_PKGS)} {spec.get('user_pkgs', '')}".split()
    sh(f"cd {debs} && apt-get -q {a.apt_opts} download {kpkg} > /dev/null")
    # sid splits the kernel: linux-image-VER only depends on linux-binary-VER (vmlinuz),
    # linux-modules-VER and linux-base-VER (modules.order, System.map, config)
    dep = subprocess.run(["apt-cache", *opts, "depends", kpkg], capture_output=True, text=True, check=True).stdout
    parts = sorted(set(re.findall(r"Depends: (linux-(?:binary|base)-\S+)", dep)))
    if parts:
        parts.append(parts[0].replace("linux-base-", "linux-modules-").replace("linux-binary-", "linux-modules-"))
        sh(f"cd {debs} && apt-get -q {a.apt_opts} download {' '.join(parts)} > /dev/null")
    sh(f"cd {debs} && apt-get -q {a.user_apt_opts or a.apt_opts} download {' '.join(pkgs)} > /dev/null")
    for sub in ("kernel", "sysroot"):
        shutil.rmtree(d / sub, ignore_errors=True)
    for k in [kpkg, *parts]:
        sh(f"dpkg -x \"$(ls -t {debs}/{k}_*.deb | head -1)\" {d / 'kernel'}")
    for p in pkgs:
        sh(f"dpkg -x \"$(ls -t {debs}/{p}_*_{a.arch}.deb | head -1)\" {d / 'sysroot'}")
    if not (d / "sysroot" / "lib").exists():  # usrmerge (sid): the loader's /lib path
        (d / "sysroot" / "lib").symlink_to("usr/lib")
    mods = d / "kernel" / "lib" / "modules"
    if not mods.exists():  # trixie and later: usr/lib/modules
        mods.parent.mkdir(parents=True, exist_ok=True)
        mods.symlink_to("../usr/lib/modules")
    kver = sorted(os.listdir(mods))[0]
    sh(f"depmod -b {d / 'kernel'} {kver}")
    ld = d / "sysroot" / "lib64" / "ld64.so.2"  # ppc64el: an absolute link; qemu-user needs it inside -L
    if ld.is_symlink() and os.readlink(ld).startswith("/"):
        target = os.readlink(ld).lstrip("/")
        ld.unlink()
        ld.symlink_to(os.path.relpath(d / "sysroot" / target, ld.parent))
    (d / "kernel" / "KPKG").write_text(kpkg + "\n")
    log(f"kernel {kver} in {d / 'kernel'}; makedumpfile in {d / 'sysroot'}")


# ---------------------------------------------------------------- build
def module_order(mdir: Path, names: str) -> list[str]:
    deps: dict[str, list[str]] = {}
    for line in (mdir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    order: list[str] = []

    def add(path: str) -> None:
        if path in order:
            return
        for dep in deps.get(path, []):
            add(dep)
        order.append(path)

    for name in names.split():
        hits = [p for p in deps if re.search(rf"/{name}\.ko(\.[a-z]+)?$", p)]
        if hits:
            add(hits[0])
    return order


def libclosure(sysroot: Path, exes: list[Path]) -> list[str]:
    """The shared libraries ``exes`` need (DT_NEEDED, transitively), as paths inside the sysroot."""
    todo = list(exes)
    seen: set[str] = set()
    out: list[str] = []
    while todo:
        dyn = subprocess.run(["readelf", "-d", str(todo.pop())], capture_output=True, text=True, check=True).stdout
        for name in re.findall(r"\(NEEDED\).*\[(.*)\]", dyn):
            if name in seen:
                continue
            seen.add(name)
            hit = next((f"{sub}/{name}" for sub in ("lib/powerpc64le-linux-gnu", "usr/lib/powerpc64le-linux-gnu",
                                                   "lib/s390x-linux-gnu", "usr/lib/s390x-linux-gnu",
                                                   "lib/i386-linux-gnu", "usr/lib/i386-linux-gnu",
                                                   "lib/arm-linux-gnueabihf", "usr/lib/arm-linux-gnueabihf",
                                                   "lib/riscv64-linux-gnu", "usr/lib/riscv64-linux-gnu",
                                                   "lib/loongarch64-linux-gnu", "usr/lib/loongarch64-linux-gnu",
                                                   "lib", "usr/lib")
                        if (sysroot / sub / name).exists()), None)
            if hit is None:
                raise RuntimeError(f"{name} (a library of {exes}) is not in {sysroot}")
            out.append(hit)
            todo.append(sysroot / hit)
    return out


def in_sysroot(sr: Path, path: str) -> Path:
    """``path`` in the sysroot, or under usr/ where the packages are usrmerged (sid's)."""
    return sr / path if (sr / path).exists() else sr / "usr" / path


def kernel_image(d: Path, kver: str) -> Path:
    """What QEMU's -kernel and kexec load: vmlinuz (s390x), vmlinux (ppc64el: an ELF file)."""
    for name in (f"boot/vmlinuz-{kver}", f"boot/vmlinux-{kver}", f"usr/lib/modules/{kver}/vmlinuz"):
        if (d / "kernel" / name).exists():
            return d / "kernel" / name
    raise FileNotFoundError(f"no kernel image in {d / 'kernel' / 'boot'}")


def kexec_image(image: Path, dst: Path) -> None:
    """What kexec loads: the kernel image, or the kernel inside an EFI zboot image (loongarch64's
    vmlinuz: "zimg" at byte 4, the payload's offset and size at 8, its compression at 24), which
    kexec-tools cannot read."""
    head = image.read_bytes()[:32]
    if head[:2] != b"MZ" or head[4:8] != b"zimg":
        shutil.copy(image, dst)
        return
    off, size = int.from_bytes(head[8:12], "little"), int.from_bytes(head[12:16], "little")
    comp = head[24:32].rstrip(b"\0").decode()
    with open(image, "rb") as f:
        f.seek(off)
        payload = f.read(size)
    tool = {"zstd": ["zstd", "-qdc"], "gzip": ["gzip", "-dc"], "xz": ["xz", "-dc"]}[comp]
    dst.write_bytes(subprocess.run(tool, input=payload, capture_output=True, check=True).stdout)


def build(a: argparse.Namespace) -> None:
    d = Path(a.dir)
    spec = ARCHES[a.arch]
    mods = d / "kernel" / "lib" / "modules"
    kver = sorted(os.listdir(mods))[0]
    mdir = mods / kver
    if spec["gcc"]:
        sh(f"{spec['gcc']} -O2 -static -o {d / 'memfill'} {RIG_SRC / 'memfill.c'}")
    else:  # no cross compiler for the architecture here: memfill's anonymous memory held by a shell
        (d / "memfill").write_text(MEMFILL_SH)
        os.chmod(d / "memfill", 0o755)
    stage = d / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    for sub in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/rig", "proc", "sys", "dev", "tmp", "mnt", "lib"):
        (stage / sub).mkdir(parents=True)
    shutil.copy(in_sysroot(d / "sysroot", "bin/busybox"), stage / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    for ap in applets:  # the host's busybox-static is the same Debian version: its applet list
        if not (stage / "bin" / ap).exists():
            (stage / "bin" / ap).symlink_to("busybox")
    shutil.copy(d / "memfill", stage / "bin" / "memfill")
    listed = []
    for m in module_order(mdir, spec["modules"]):
        dst = stage / "lib" / "modules" / kver / m
        dst.parent.mkdir(parents=True, exist_ok=True)
        src = mdir / m
        if m.endswith(".xz"):
            sh(f"xz -dc {src} > {str(dst)[:-3]}")
            m = m[:-3]
        elif m.endswith(".zst"):
            sh(f"zstd -qdc {src} > {str(dst)[:-4]}")
            m = m[:-4]
        else:
            shutil.copy(src, dst)
        listed.append(m)
    (stage / "etc" / "rig" / "modules.list").write_text("".join(m + "\n" for m in listed))
    init = (RIG_SRC / "arm64" / "init.sh").read_text()
    if spec.get("before_kexec"):
        if "\tkexec -p " not in init:
            raise RuntimeError("the shared init.sh has no kexec -p line to precede")
        init = init.replace("\tkexec -p ", f"\t{spec['before_kexec']}\n\tkexec -p ", 1)
    (stage / "init").write_text(init)
    os.chmod(stage / "init", 0o755)
    if spec["kdump"]:  # kexec and makedumpfile with their libraries; the crash kernel's initramfs
        sr = d / "sysroot"
        exes = [in_sysroot(sr, "sbin/kexec")]
        if spec.get("makedumpfile", True):
            exes.append(sr / "usr/bin/makedumpfile")
        for exe, dst in zip(exes, ("usr/sbin/kexec", "usr/sbin/makedumpfile")):
            shutil.copy(exe, stage / dst)
        for lib in libclosure(sr, exes):
            (stage / lib).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(sr / lib, stage / lib)
        for link in ("lib64/ld64.so.2", "lib/ld64.so.1", "lib/ld-linux.so.2", "lib/ld-linux-armhf.so.3",
                     "lib/ld-linux-riscv64-lp64d.so.1"):  # PT_INTERP
            if (sr / link).is_symlink():
                (stage / link).parent.mkdir(parents=True, exist_ok=True)
                (stage / link).symlink_to(os.readlink(sr / link))
        ldl = "lib64/ld-linux-loongarch-lp64d.so.1"  # usrmerged: the loader itself is in lib/TRIPLET
        if (sr / "usr" / ldl).exists() and (sr / "lib/loongarch64-linux-gnu" / ldl[6:]).exists():
            (stage / "lib64").mkdir(exist_ok=True)
            (stage / ldl).symlink_to("/lib/loongarch64-linux-gnu/" + ldl[6:])
        sh(f"cd {stage} && find . | cpio -o -H newc --quiet | gzip -6 > {d / 'capture.cpio.gz'}")
        (stage / "boot").mkdir()
        kexec_image(kernel_image(d, kver), stage / "boot" / "vmlinuz")
        shutil.copy(d / "capture.cpio.gz", stage / "boot" / "capture.cpio.gz")
    sh(f"cd {stage} && find . | cpio -o -H newc --quiet | gzip -6 > {d / 'initramfs.cpio.gz'}")
    shutil.rmtree(stage)
    log("modules:", " ".join(listed))
    log("initramfs:", d / "initramfs.cpio.gz", (d / "initramfs.cpio.gz").stat().st_size, "bytes")


# ---------------------------------------------------------------- run
REPORTS = {
    "dmesg": "dmesg",
    "vmallocinfo": "echo 1 > /proc/sys/kernel/kptr_restrict; cat /proc/vmallocinfo",
    "vmcoreinfo": "cat /sys/kernel/vmcoreinfo",
}


def console_since(g, n0: int, line: str, timeout: float) -> list[str]:  # type: ignore[no-untyped-def]
    """The console lines after line ``n0`` up to one equal to ``line`` (the echo of the command
    that prints it contains it too, but is not equal to it)."""
    t0 = time.time()
    with g.cv:
        while line not in g.lines[n0:]:
            if time.time() - t0 > timeout or g.p.poll() is not None:
                raise TimeoutError(f"no console line {line!r}")
            g.cv.wait(1.0)
        return list(g.lines[n0:])


def report(g, run: Path) -> None:  # type: ignore[no-untyped-def]
    for name, cmd in REPORTS.items():
        n0 = len(g.lines)
        g.send(f"x echo RIG-BEGIN-{name}; {cmd}; echo RIG-END-{name}\n")
        lines = console_since(g, n0, f"RIG-END-{name}", 300)
        # the console may echo the command into the output's first line (hvc): a line that ends
        # with the marker begins the report
        begin = max(i for i, ln in enumerate(lines) if ln.endswith(f"RIG-BEGIN-{name}"))
        end = max(i for i, ln in enumerate(lines) if ln == f"RIG-END-{name}")
        body = [ln for ln in lines[begin + 1 : end] if not re.match(r"^\[qemu_rig |^RIG:", ln)]
        (run / f"guest-{name}.txt").write_text("".join(ln + "\n" for ln in body))


def kpf_copy(img: Path) -> tuple[str, bytes, bytes]:
    with open(img, "rb") as f:
        head = f.read(4096).split(b"\n")[0].decode("ascii", "replace")
        if not head.startswith("RIGKPF"):
            raise RuntimeError(f"no kpageflags header on {img}")
        kv = dict(x.split("=", 1) for x in head.split()[1:] if "=" in x)
        f.seek(int(kv["flags_off"]))
        flags = f.read(int(kv["flags_bytes"]))
        f.seek(int(kv["count_off"]))
        count = f.read(int(kv["count_bytes"]))
    return head, flags, count


def kpf(g, img: Path) -> str:  # type: ignore[no-untyped-def]
    n0 = len(g.lines)
    g.send("kpf\n")
    t0 = time.time()
    with g.cv:
        while not any(ln.startswith("RIG: KPF-") for ln in g.lines[n0:]):
            if time.time() - t0 > 600 or g.p.poll() is not None:
                raise TimeoutError("the guest did not answer kpf")
            g.cv.wait(1.0)
        line = next(ln for ln in g.lines[n0:] if ln.startswith("RIG: KPF-"))
    if "KPF-DONE" not in line:
        raise RuntimeError(line)
    return line


def run(a: argparse.Namespace) -> None:
    rig = shared_rig()
    d = Path(a.dir)
    spec = ARCHES[a.arch]
    mods = d / "kernel" / "lib" / "modules"
    kver = sorted(os.listdir(mods))[0]
    name = a.name or f"mem{a.mem}"
    out = d / "dumps" / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t_start = time.time()
    crash = a.crash if spec["kdump"] else 0
    avail = a.mem - 64 - crash
    fill = dict(rand=avail // 6, zero=avail // 12, pat=avail // 12, cache=avail // 12, tmpfs=avail // 24,
                untouched=avail // 12)
    rec: dict[str, object] = {"arch": a.arch, "kernel": kver, "mem_mb": a.mem, "fill_mb": fill,
                              "kernel_package": (d / "kernel" / "KPKG").read_text().strip()}
    pre = out / "pre"
    (pre / "pre").mkdir(parents=True)
    sh(f"head -c {fill['cache'] // 2}M /dev/urandom > {pre}/pre/rand.bin")
    sh(f"yes 'pre-populated text file line for the page cache 0123456789' | "
       f"head -c {fill['cache'] - fill['cache'] // 2}M > {pre}/pre/text.txt")
    data = out / "data.img"
    sh(f"truncate -s {2 * fill['cache'] + 128}M {data} && mkfs.ext4 -q -F -d {pre} {data}")
    shutil.rmtree(pre)
    img = out / "kpf.img"
    sh(f"truncate -s {a.mem // 128 + 16}M {img}")
    image = kernel_image(d, kver)
    qmp_path = out / "qmp.sock"
    append = (f"console={spec['console']} panic=10 rigmode=normal rig_rand={fill['rand']} rig_zero={fill['zero']} "
              f"rig_pat={fill['pat']} rig_cache={fill['cache']} rig_tmpfs={fill['tmpfs']} "
              f"rig_untouched={fill['untouched']}")
    if spec.get("append"):
        append += " " + str(spec["append"])
    if a.append:
        append += " " + a.append
    raw, outimg = out / "vmcore.raw", out / "out.img"
    if crash:
        append += f" crashkernel={crash}M{spec.get('crash_at', '')} rig_mdf_levels=31 rig_mdf_comp=l"
        sh(f"truncate -s {a.mem + 64}M {raw}")
        sh(f"truncate -s {a.mem + 256}M {outimg} && mkfs.ext4 -q -F {outimg}")
        rec["crashkernel_mb"] = crash
    qemu = [a.qemu, "-L", a.qemu_datadir] if a.qemu and a.qemu_datadir else [a.qemu or spec["qemu"]]
    # (a QEMU unpacked beside the host's tries the host's modules, of another build, and warns on the
    # console: harmless, the rig needs none of them)
    argv = ["nice", "-n", str(a.nice), *qemu, *spec["machine"], "-accel", "tcg,thread=multi",
            "-m", str(a.mem), "-smp", str(a.smp), "-display", "none", "-no-reboot", "-monitor", "none",
            "-chardev", "stdio,id=s0,signal=off", "-serial", "chardev:s0",
            "-qmp", f"unix:{qmp_path},server=on,wait=off",
            "-kernel", str(image), "-initrd", str(d / "initramfs.cpio.gz"), "-append", append,
            "-drive", f"if=none,id=d0,file={data},format=raw",
            "-device", f"{spec['disk']},drive=d0,serial=rigdata",
            "-drive", f"if=none,id=d3,file={img},format=raw,cache=unsafe",
            "-device", f"{spec['disk']},drive=d3,serial=rigkpf"]
    if crash:
        argv += ["-drive", f"if=none,id=d1,file={raw},format=raw,cache=unsafe",
                 "-device", f"{spec['disk']},drive=d1,serial=rigvmcore",
                 "-drive", f"if=none,id=d2,file={outimg},format=raw,cache=unsafe",
                 "-device", f"{spec['disk']},drive=d2,serial=rigout"]
    if a.cpu:
        argv[argv.index("-m"):argv.index("-m")] = ["-cpu", a.cpu]
    if spec.get("bios"):
        argv[argv.index("-m"):argv.index("-m")] = ["-bios", str(d / str(spec["bios"]))]
    rec["qemu_argv"] = argv
    log("starting", " ".join(argv))
    t0 = time.time()
    g = rig.Guest(argv, str(out / "console.log"))
    try:
        qmp = rig.QMP(str(qmp_path))
        g.wait_for("RIG: READY", a.timeout)
        rec["boot_and_fill_s"] = round(time.time() - t0, 1)
        log(f"guest ready after {rec['boot_and_fill_s']} s")
        g.send("x stty -echo\n")  # no echo of the commands that follow, in the reports
        console_since(g, len(g.lines) - 1, "RIG: X-DONE rc=0", 60)
        report(g, out)
        if a.kpf_twice:
            rec["kpf_first"] = kpf(g, img)
            head, flags, _ = kpf_copy(img)
            (out / "kpageflags.first.bin").write_bytes(flags)
            rec["kpf_first_header"] = head
        t1 = time.time()
        rec["kpf"] = kpf(g, img)
        rec["kpf_s"] = round(time.time() - t1, 1)
        qmp.cmd("stop")
        cap = qmp.cmd("query-dump-guest-memory-capability")["formats"]
        rec["qemu_dump_formats"] = cap
        rec["dumps"] = {}
        for fmt in cap:
            if a.formats != "all" and fmt not in a.formats.split(","):
                continue
            if fmt != "elf" and not fmt.startswith("kdump-"):
                continue
            dst = out / ("qemu-elf" if fmt == "elf" else "qemu-" + fmt.replace("kdump-", "kdump."))
            t1 = time.time()
            qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{dst}", format=fmt)
            while qmp.cmd("query-dump")["status"] == "active":
                time.sleep(0.2)
            rec["dumps"][fmt] = {"file": dst.name, "size": dst.stat().st_size, "s": round(time.time() - t1, 1)}
            log(f"dump-guest-memory {fmt}: {dst.stat().st_size} bytes")
        qmp.cmd("cont")
        if crash:
            t1 = time.time()
            g.send(spec["crash"] + "\n")
            g.wait_for("RIG: capture kernel up", a.timeout)
            g.wait_for("RIG: CAPTURE-DONE", a.timeout)
            rec["capture_s"] = round(time.time() - t1, 1)
        else:
            g.send("poweroff\n")
        try:
            g.p.wait(120)
        except subprocess.TimeoutExpired:
            g.p.kill()
            g.p.wait()
    finally:
        if g.p.poll() is None:
            g.p.kill()
            g.p.wait()
    head, flags, count = kpf_copy(img)
    (out / "kpageflags.bin").write_bytes(flags)
    (out / "kpagecount.bin").write_bytes(count)
    rec["kpf_header"] = head
    img.unlink()
    data.unlink()
    if crash:
        capture(out, raw, outimg, rig, rec)
    qmp_path.unlink(missing_ok=True)
    rec["total_s"] = round(time.time() - t_start, 1)
    (out / "rig-run.json").write_text(json.dumps(rec, indent=1))
    log("done:", out, {k: v for k, v in rec.items() if k not in ("qemu_argv",)})


def elf_file_size(path: Path) -> int:
    """Where an ELF core file ends (its last header or segment): the part of the raw disk that
    /proc/vmcore was copied to.  ELF32 (a 32-bit kernel's kexec-tools writes it when all memory
    is below 4 GiB) or ELF64, either byte order."""
    import struct

    with open(path, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF":
            raise RuntimeError(f"{path} does not start with an ELF header")
        e = "<" if eh[5] == 1 else ">"
        if eh[4] == 1:
            (phoff,), (phentsize, phnum), ph_fmt = struct.unpack_from(e + "I", eh, 28), \
                struct.unpack_from(e + "HH", eh, 42), e + "IIIIII"
        else:
            (phoff,), (phentsize, phnum), ph_fmt = struct.unpack_from(e + "Q", eh, 32), \
                struct.unpack_from(e + "HH", eh, 54), e + "IIQQQQ"
        end = phoff + phentsize * phnum
        f.seek(phoff)
        for _ in range(phnum):
            ph = struct.unpack_from(ph_fmt, f.read(phentsize), 0)
            off, filesz = (ph[1], ph[4]) if eh[4] == 1 else (ph[2], ph[5])
            end = max(end, off + filesz)
    return end


def capture(out: Path, raw: Path, outimg: Path, rig, rec: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    """The crash kernel's work: /proc/vmcore from the raw disk (cut at the end of the ELF file),
    and the files it wrote on the ext4 disk (makedumpfile's output and logs) in capture-out/."""
    od = out / "capture-out"
    od.mkdir()
    sh(f"debugfs -R 'rdump / {od}' {outimg} > /dev/null 2>&1 || true")
    for sub in od.iterdir():  # rdump of / may nest the root under its own name
        if sub.is_dir() and sub.name != "lost+found":
            for f in sub.iterdir():
                shutil.move(str(f), od)
            sub.rmdir()
    size = elf_file_size(raw)
    reported = od / "vmcore.size"
    if reported.exists() and int(reported.read_text()) != size:
        raise RuntimeError(f"/proc/vmcore was {reported.read_text().strip()} bytes, the copy's ELF says {size}")
    with open(raw, "rb") as fi, open(out / "vmcore.elf", "wb") as fo:
        left = size
        while left:
            chunk = fi.read(min(left, 8 << 20))
            fo.write(chunk)
            left -= len(chunk)
    raw.unlink()
    outimg.unlink()
    rec["vmcore_elf_size"] = size
    log(f"vmcore.elf: {size} bytes; capture-out: {sorted(p.name for p in od.iterdir())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["setup", "build", "run"])
    ap.add_argument("--arch", choices=sorted(ARCHES), required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--flavour", help="setup: the kernel flavour (default: the architecture)")
    ap.add_argument("--kpkg", help="setup: the kernel package (default: what linux-image-FLAVOUR depends on)")
    ap.add_argument("--apt-opts", default="", help="setup: apt options of a private configuration for the architecture")
    ap.add_argument("--user-apt-opts", default="",
                    help="setup: those for the user-space packages (default: --apt-opts)")
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--cpu", default="")
    ap.add_argument("--name")
    ap.add_argument("--kpf-twice", action="store_true")
    ap.add_argument("--formats", default="all", help="QEMU's dump formats to take: all, none, or a comma list")
    ap.add_argument("--crash", type=int, default=256, help="crashkernel= MiB (architectures with kdump)")
    ap.add_argument("--nice", type=int, default=19)
    ap.add_argument("--append", default="", help="run: more kernel command line (riscv64's no4lvl: Sv39)")
    ap.add_argument("--qemu", help="run: the qemu-system binary (default: the host's)")
    ap.add_argument("--qemu-datadir", help="run: its firmware folder (-L), for a QEMU unpacked from a .deb")
    ap.add_argument("--timeout", type=int, default=1800)
    a = ap.parse_args()
    {"setup": setup, "build": build, "run": run}[a.step](a)


if __name__ == "__main__":
    sys.exit(main())
