#!/bin/bash
# Make (or reuse) the real dumps the tests read, with the shared rig in ../shared/vmcores.
#   PMD_RIG_DIR  where dumps are cached (default ~/.cache/pymakedumpfile/rig); outside git.
#   RIG_SRC      the rig scripts (default: ../shared/vmcores beside the repository)
#   PMD_RIG_BIG=1  also the 4 GiB guest (minutes of QEMU, 4 GiB of disk)
# A dump set is reused while its marker file exists; delete the folder to remake it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RIG_SRC=${RIG_SRC:-$REPO/../shared/vmcores}
export RIG_DIR=${PMD_RIG_DIR:-$HOME/.cache/pymakedumpfile/rig}
mkdir -p "$RIG_DIR"
# the rig scripts are needed only to make a dump that is not cached yet
rig() { [ -d "$RIG_SRC" ] || { echo "make-dumps: no rig scripts at $RIG_SRC (set RIG_SRC)" >&2; exit 1; }; }

if [ ! -e "$RIG_DIR/kernel/KPKG" ]; then
	rig
	SKIP_APT=${SKIP_APT:-0} "$RIG_SRC/setup.sh"
fi
[ -e "$RIG_DIR/initramfs.cpio.gz" ] || { rig; "$RIG_SRC/build-initramfs.sh"; }

# 512 MiB guest, 4-level paging: QEMU ELF + flattened kdump, real kexec capture, makedumpfile references
D=$RIG_DIR/dumps/mem512
if [ ! -e "$D/mdf-ref/summary.json" ] || [ ! -e "$D/vmcore.elf" ]; then
	rig
	python3 "$RIG_SRC/rig.py" --mem 512 --crash 192 --mdf-levels 31,1 --mdf-comp c,l
	python3 "$RIG_SRC/mdf_reference.py" "$D/vmcore.elf"
fi
# the same with 5-level paging (QEMU -cpu max has LA57)
D=$RIG_DIR/dumps/mem512-la57
if [ ! -e "$D/mdf-ref/summary.json" ] || [ ! -e "$D/vmcore.elf" ]; then
	rig
	python3 "$RIG_SRC/rig.py" --mem 512 --cpu max --name mem512-la57 --formats none --mdf-levels 31 --mdf-comp l
	python3 "$RIG_SRC/mdf_reference.py" --minimal "$D/vmcore.elf"
fi
# Debian 13's 6.12 kernel (page types as PGTY_* << 24): QEMU ELF + kdump, with the guest's own
# /proc/kpageflags taken just before, the truth where makedumpfile 1.7.2 is not right
T=${RIG_DIR}-trixie
D=$T/dumps/mem512
if [ ! -e "$D/kpageflags.bin" ] || [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/qemu-elf" ]; then
	rig
	mkdir -p "$T"
	[ -e "$T/kernel/KPKG" ] || RIG_DIR=$T SKIP_APT=1 SUITE=trixie "$RIG_SRC/setup.sh"
	[ -e "$T/initramfs.cpio.gz" ] || RIG_DIR=$T "$RIG_SRC/build-initramfs.sh"
	RIG_DIR=$T python3 "$RIG_SRC/rig.py" --mem 512 --crash 192 --kpageflags --formats elf --mdf-levels 31 --mdf-comp l
fi
# Debian 11's 5.10 kernel (the first with the lockless printk ring): kexec capture and makedumpfile's
# -l -d 31 and --dump-dmesg of it
B=${RIG_DIR}-bullseye
D=$B/dumps/mem512
if [ ! -e "$D/mdf-ref/dmesg.txt" ] || [ ! -e "$D/vmcore.elf" ]; then
	rig
	mkdir -p "$B"
	[ -e "$B/kernel/KPKG" ] || RIG_DIR=$B SKIP_APT=1 SUITE=bullseye "$RIG_SRC/setup.sh"
	[ -e "$B/initramfs.cpio.gz" ] || RIG_DIR=$B "$RIG_SRC/build-initramfs.sh"
	[ -e "$D/vmcore.elf" ] || RIG_DIR=$B python3 "$RIG_SRC/rig.py" --mem 512 --crash 192 --formats elf --mdf-levels 31 --mdf-comp l
	python3 "$RIG_SRC/mdf_reference.py" --minimal --levels 31 "$D/vmcore.elf"
fi
# the rig kernel's vmlinux with DWARF (-g/-x tests): from linux-image-*-dbg, 858 MB, in Debian's main archive
K=$(cat "$RIG_DIR/kernel/KPKG")
V=$RIG_DIR/dbg/usr/lib/debug/boot/vmlinux-${K#linux-image-}
if [ ! -e "$V" ]; then
	mkdir -p "$RIG_DIR/debs" "$RIG_DIR/dbg"
	if ls "$RIG_DIR"/debs/"$K"-dbg_*.deb > /dev/null 2>&1 || (cd "$RIG_DIR/debs" && apt-get -q download "$K-dbg"); then
		dpkg-deb --fsys-tarfile "$RIG_DIR"/debs/"$K"-dbg_*.deb | tar -x -C "$RIG_DIR/dbg" "./usr/lib/debug/boot/${V##*/}"
		rm -f "$RIG_DIR"/debs/"$K"-dbg_*.deb
	else
		echo "make-dumps: cannot fetch $K-dbg: the -g/-x tests on the real kernel image will not run" >&2
	fi
fi
# with PMD_RIG_BIG=1: a 4 GiB guest (two classification cycles; the issue-7 benchmark's dump)
D=$RIG_DIR/dumps/mem4096
if [ "${PMD_RIG_BIG:-0}" = 1 ] && [ ! -e "$D/vmcore.elf" ]; then
	rig
	python3 "$RIG_SRC/rig.py" --mem 4096 --crash 256 --fill-frac 1.5 --formats elf --mdf-levels 31 --mdf-comp l --name mem4096
fi
echo "make-dumps: real dumps ready in $RIG_DIR/dumps, $T/dumps and $B/dumps"
