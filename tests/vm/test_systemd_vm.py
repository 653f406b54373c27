"""End-to-end: pymakedumpfile's capture as a systemd service of a systemd-based crash-kernel
initramfs (issue 23, item 2).

kdump-utils' mkdumprd builds the crash kernel's initramfs with dracut's systemd modules: systemd is
PID 1 there and dracut's hooks run inside its services. tests/vm/build.sh with PMD_VM_INIT=systemd
builds such an image (dracut's ``systemd`` and ``dracut-systemd`` modules, ``base``, our
99pymakedumpfile and the test-only 98pmdtest) for the rig's Debian kernel, and the crash kernel's
command line configures our capture as a user would (``pymakedumpfile.target=``, ``.fstype=``,
``.action=poweroff``; the default collector arguments, kdump-utils' ``-l --message-level 7 -d 31``).

In the crash kernel, once udev runs, pmdtest.service copies /proc/vmcore raw and runs Debian's
makedumpfile with the same arguments through the same script (the reference of the same flow);
then pymakedumpfile-capture.service saves the dump and powers the guest off, before the root file
system the command line names (one that does not exist) would be mounted. The
crash kernel boots with ``systemd.log_target=kmsg systemd.journald.forward_to_kmsg=1``, so
systemd's messages about the service and the service's own output are in the kernel log (the
serial console).

Opt-in with the other VM tests (PMD_VM_TESTS=1): about a minute of TCG after the image build.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need, need_tool
from vmtest import PARTIAL_PFN, REPO, RIG_DIR, VM_MARKS, build_images, need_vm_tools, run_guest

pytestmark = VM_MARKS
UNIT = "pymakedumpfile-capture.service"


@pytest.fixture(scope="module", autouse=True)
def vm_tools() -> None:
    need_vm_tools()


@pytest.fixture(scope="module")
def images(work: Path, installed_python: str) -> Path:
    return build_images(work / "images-systemd", installed_python, work, PMD_VM_INIT="systemd")


@pytest.fixture(scope="module")
def vm(images: Path, work: Path) -> Path:
    # no --mem-usage runs in the first kernel (test_capture_vm.py has them); the guest powers off
    # when our service has finished, well after the test module's own runs
    return run_guest(images, work / "run-systemd", 512, 192, "--no-mem-usage", "--then-wait", "1800")


def saved(vm: Path) -> Path:
    """The stamped directory of /var/crash on the target disk that the service wrote."""
    stamps = list((vm / "out" / "var" / "crash").iterdir())
    assert len(stamps) == 1, stamps
    return stamps[0]


def kernel_log(vm: Path) -> list[str]:
    """The crash kernel's kernel log as its serial console printed it (lines with a time stamp)."""
    text = (vm / "console.log").read_text(errors="replace")
    after = text[text.rindex("Linux version "):]  # the crash kernel booted last
    assert "PMDTEST: capture kernel up" in after
    return [ln for ln in after.splitlines() if re.match(r"\[\s*\d+\.\d+\] ", ln)]


def test_image_has_the_service_not_the_hooks(images: Path, tmp_path: Path) -> None:
    """With systemd in the image, the capture is a unit wanted by initrd.target; dracut's
    pre-mount hook and the cmdline hook (for a missing root=) are not installed."""
    listing = subprocess.run(f"zcat {images / 'capture.img'} | cpio -t --quiet", shell=True, capture_output=True,
                             text=True, check=True).stdout.split()
    units = "usr/lib/systemd/system"
    assert f"{units}/{UNIT}" in listing
    assert f"{units}/initrd.target.wants/{UNIT}" in listing
    assert "usr/bin/systemd" in listing or "usr/lib/systemd/systemd" in listing
    assert not [p for p in listing if "pymakedumpfile-hook" in p or "pymakedumpfile-cmdline" in p]


def test_module_size(images: Path) -> None:
    """The module adds what it adds without systemd, plus one unit file: under the 15 MiB goal
    with kdump-utils' --aggressive-strip."""
    s = json.loads((images / "sizes.json").read_text())
    print("systemd initramfs, bytes added by 99pymakedumpfile:", s)
    assert s["module_added_bytes_aggressive_strip"] < 15 * 2**20


def test_kernel_log_shows_our_service(vm: Path) -> None:
    """systemd (PID 1) started our unit after the test's reference run; the unit's own output
    (the collector's last line, the saved file) is in the kernel log; and it ran before the root
    file system, which it does not wait for: the command line names one that never comes
    (build.sh), and the guest is off before any root target is reached."""
    log = kernel_log(vm)
    text = "\n".join(log)

    def at(pattern: str) -> int:
        hits = [i for i, ln in enumerate(log) if re.search(pattern, ln)]
        assert hits, (pattern, text[-3000:])
        return hits[0]

    ref = at(r"systemd\[1\]: Finished pmdtest\.service")
    start = at(rf"systemd\[1\]: Starting {re.escape(UNIT)} - pymakedumpfile: save the crashed kernel's memory")
    done = at(r"pymakedumpfile-capture\[\d+\]: pymakedumpfile Completed\.")
    stamp = saved(vm).name
    kept = at(rf"pymakedumpfile-capture\[\d+\]: pymakedumpfile-capture: saved /run/pymakedumpfile/target/var/crash/"
              rf"{stamp}/vmcore$")
    off = at(r"pymakedumpfile-capture\[\d+\]: pymakedumpfile-capture: powering off")
    assert ref < start < done < kept < off, (ref, start, done, kept, off)
    assert "running: pymakedumpfile -l --message-level 7 -d 31 /proc/vmcore" in text
    # systemd waits for that root (its fstab generator made sysroot.mount of it); we did not
    at(r"systemd\[1\]: Expecting device dev-disk-by\\x2dlabel-pmd\\x2dno\\x2dsuch\\x2droot\.device")
    assert not [ln for ln in log[:off] if re.search(r"Reached target initrd(-root-fs)?\.target|Mounted sysroot", ln)]


def test_capture_complete(vm: Path) -> None:
    d = saved(vm)
    assert (d / "vmcore").is_file() and not (d / "vmcore-incomplete").exists(), sorted(p.name for p in d.iterdir())
    assert "sysrq triggered crash" in (d / "vmcore-dmesg.txt").read_text(errors="replace")
    log = (d / "capture.log").read_text()
    assert "crashed kernel's log saved to vmcore-dmesg.txt by pymakedumpfile --dump-dmesg" in log
    assert re.search(r"collector exit code 0, wall time", log), log


def test_same_pages_as_makedumpfile_in_the_same_flow(vm: Path) -> None:
    """Our dump keeps exactly the pages makedumpfile kept with the same arguments on the same
    /proc/vmcore in the same crash kernel (both bitmaps), pfn 0x9f aside (makedumpfile 1.7.2 leaves
    out that page, covered only in part by a PT_LOAD: tests/real/test_core_real.py)."""
    sys.path.insert(0, str(REPO))
    from pymakedumpfile.input import open_reader

    ref = vm / "out" / "mdf"
    assert re.search(r"collector exit code 0,", (ref / "capture.log").read_text())
    ours, theirs = open_reader(saved(vm) / "vmcore"), open_reader(ref / "vmcore")
    for bm in ("memmap", "pagemap_full"):
        a, b = getattr(ours, bm).buf, getattr(theirs, bm).buf
        assert len(a) == len(b) and len(a) > 1000
        diff = [i * 8 + j for i in range(len(a)) if a[i] != b[i] for j in range(8) if (a[i] ^ b[i]) >> j & 1]
        assert diff in ([], [PARTIAL_PFN]), (bm, [hex(x) for x in diff[:10]])


def test_pages_equal_the_raw_copy(vm: Path) -> None:
    """Every page we saved is the page of the raw dd of the same /proc/vmcore."""
    sys.path.insert(0, str(REPO / "tests" / "real"))
    from util import diff_pages, our_digests

    got, raw = our_digests(str(saved(vm) / "vmcore")), our_digests(str(vm / "vmcore.elf"))
    assert len(got) > 1000
    assert all(raw.get(p) == h for p, h in got.items()), diff_pages(got, raw)


def test_crash_opens_it(vm: Path) -> None:
    """crash with the kernel's debug vmlinux (the rig's, the same Debian kernel) opens the dump and
    prints the panic from its log."""
    crash = need_tool("crash")
    kver = json.loads((vm / "run.json").read_text())["kernel"]
    vmlinux = RIG_DIR / "dbg" / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{kver}"
    need(vmlinux.exists(), f"no debug vmlinux of the guest's kernel {kver} in the rig ({vmlinux})")
    r = subprocess.run([crash, "-s", str(vmlinux), str(saved(vm) / "vmcore")], input="sys\nlog\nquit\n",
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert kver in r.stdout and "sysrq triggered crash" in r.stdout
