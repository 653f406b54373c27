#!/bin/bash
# COPY of ../shared/vmcores/build-initramfs.sh (read-only there), changed for tests/vm:
#   - the crash kernel's initramfs is CAPTURE_IMG (the dracut image with 99pymakedumpfile),
#     not the rig's busybox capture.cpio.gz, and the crash kernel's command line is
#     CAPTURE_APPEND (stored in /etc/rig/capture-append, read by our init.sh copy);
#   - everything is written to OUT_DIR; RIG_DIR (the shared rig cache) is only read.
#   RIG_DIR: expects $RIG_DIR/kernel (dpkg -x of linux-image-*)
# Produces: $OUT_DIR/initramfs.cpio.gz (first-kernel initramfs; contains vmlinuz + capture.img)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RIG_DIR=$(realpath -m "${RIG_DIR:-./out}")
OUT_DIR=$(realpath -m "${OUT_DIR:?}")
CAPTURE_IMG=$(realpath "${CAPTURE_IMG:?}")
CAPTURE_APPEND=${CAPTURE_APPEND:?}
KDIR=$RIG_DIR/kernel
KVER=$(ls "$KDIR/lib/modules" | head -1)
MDIR=$KDIR/lib/modules/$KVER
[ -f "$MDIR/modules.dep" ] || { echo "no modules.dep in $MDIR: run the rig's setup.sh" >&2; exit 1; }
# modules not in this kernel's modules.dep (built-in, or gone like crc32c_generic in 7.x) are skipped;
# dependencies are resolved from this kernel's modules.dep
MODULES=${RIG_MODULES:-"qemu_fw_cfg virtio_pci virtio_blk crc32c_generic ext4"}

# memfill helper
gcc -O2 -static -o "$OUT_DIR/memfill" "$HERE/memfill.c"

# ---- resolve module load order from modules.dep (deps first) ----
declare -A SEEN=()
ORDER=()
resolve() {
	local path=$1 line dep
	[ -n "${SEEN[$path]:-}" ] && return 0
	SEEN[$path]=1
	line=$(grep -E "^$path:" "$MDIR/modules.dep" | cut -d: -f2)
	for dep in $line; do resolve "$dep"; done
	ORDER+=("$path")
}
for m in $MODULES; do
	p=$(grep -E "/$m\.ko(\.[a-z]+)?:" "$MDIR/modules.dep" | cut -d: -f1 | head -1 || true)
	if [ -z "$p" ]; then
		grep -qE "/$m\.ko" "$MDIR/modules.builtin" && echo "module $m is built-in" || echo "module $m not found"
		continue
	fi
	resolve "$p"
done
echo "module load order: ${ORDER[*]}"

stage() { # stage DIR
	local S=$1
	rm -rf "$S"; mkdir -p "$S"/{bin,sbin,usr/bin,usr/sbin,etc/rig,proc,sys,dev,tmp,mnt,lib64,boot}
	cp /bin/busybox "$S/bin/busybox"
	for a in $(/bin/busybox --list); do [ -e "$S/bin/$a" ] || ln -s busybox "$S/bin/$a"; done
	cp "$OUT_DIR/memfill" "$S/bin/memfill"
	for b in "$(command -v kexec)" "$(command -v makedumpfile)"; do
		cp "$b" "$S/usr/sbin/"
		for l in $(ldd "$b" | grep -oE '/[^ ]+'); do
			mkdir -p "$S$(dirname "$l")"; cp -L "$l" "$S$l"
		done
	done
	: > "$S/etc/rig/modules.list"
	for m in "${ORDER[@]}"; do
		mkdir -p "$S/lib/modules/$KVER/$(dirname "$m")"
		# compressed modules (.ko.xz in trixie/sid) are decompressed so busybox insmod can load them
		case "$m" in
		*.ko.xz)  xz -dc "$MDIR/$m" > "$S/lib/modules/$KVER/${m%.xz}"; m=${m%.xz} ;;
		*.ko.zst) zstd -qdc "$MDIR/$m" > "$S/lib/modules/$KVER/${m%.zst}"; m=${m%.zst} ;;
		*.ko.gz)  gzip -dc "$MDIR/$m" > "$S/lib/modules/$KVER/${m%.gz}"; m=${m%.gz} ;;
		*)        cp "$MDIR/$m" "$S/lib/modules/$KVER/$m" ;;
		esac
		echo "$m" >> "$S/etc/rig/modules.list"
	done
	cp "$HERE/init.sh" "$S/init"; chmod +x "$S/init"
}
mkcpio() { (cd "$1" && find . | cpio -o -H newc --quiet | gzip -6) > "$2"; }

T=$OUT_DIR/stage
stage "$T/main"
cp "$KDIR/boot/vmlinuz-$KVER" "$T/main/boot/vmlinuz"
cp "$CAPTURE_IMG" "$T/main/boot/capture.img"
printf '%s\n' "$CAPTURE_APPEND" > "$T/main/etc/rig/capture-append"
mkcpio "$T/main" "$OUT_DIR/initramfs.cpio.gz"
rm -rf "$T"
ls -la "$OUT_DIR"/initramfs.cpio.gz
