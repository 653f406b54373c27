#!/bin/bash
# Build the images of the tests/vm end-to-end test, for the rig's Debian kernel.
#   tests/vm/build.sh OUT_DIR
# RIG_DIR (default ~/.cache/pymakedumpfile/rig): the rig cache, only read (kernel/).
# PYMAKEDUMPFILE_PYTHON: the interpreter to install (default: python3 on the caller's PATH;
# dracut itself runs with PATH=/usr/sbin:/usr/bin:..., so the module gets it explicitly): one
# the package is installed for (the test installs it into a fresh venv, as the README does).
# PYMAKEDUMPFILE_PYTHONPATH: a source checkout to take the package from instead (optional).
# CAPTURE_APPEND: the crash kernel's command line (default below).
# PMD_VM_INIT=systemd: the crash kernel's image is systemd-based, as kdump-utils' mkdumprd builds
# it (dracut's systemd modules + ours); the capture is then pymakedumpfile-capture.service,
# configured by the command line, after 98pmdtest's raw copy and makedumpfile run.
# Writes to OUT_DIR:
#   capture.img        dracut (host's dracut-core, our modules from a private dracutbasedir):
#                      base (+ systemd) + 99pymakedumpfile + the test-only 98pmdtest, gzip
#   base.cpio / pmd.cpio  uncompressed images without and with 99pymakedumpfile (no test
#                      module), for the size the module adds; sizes.json
#   initramfs.cpio.gz  the first kernel's busybox initramfs (our copy of the rig's
#                      build-initramfs.sh), holding vmlinuz + capture.img
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT_DIR=$(realpath -m "${1:?usage: build.sh OUT_DIR}")
RIG_DIR=$(realpath -m "${RIG_DIR:-$HOME/.cache/pymakedumpfile/rig}")
KDIR=$RIG_DIR/kernel
KVER=$(find "$KDIR/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -1)
PY=$(command -v "${PYMAKEDUMPFILE_PYTHON:-python3}")
PY=$("$PY" -c 'import sys; print(sys.executable)')
mkdir -p "$OUT_DIR"

# a dracutbasedir: the host's dracut with our modules added (the host's /usr/lib/dracut is untouched)
BASE=$OUT_DIR/dracut-base
rm -rf "$BASE"
mkdir -p "$BASE/modules.d"
for f in /usr/lib/dracut/*; do
	[ "${f##*/}" = modules.d ] || ln -s "$f" "$BASE/"
done
for m in /usr/lib/dracut/modules.d/*; do ln -s "$m" "$BASE/modules.d/"; done
ln -s "$REPO/dracut/99pymakedumpfile" "$BASE/modules.d/99pymakedumpfile"
ln -s "$HERE/98pmdtest" "$BASE/modules.d/98pmdtest"

mkd() { # mkd OUTPUT MODULES EXTRA...
	local out=$1 mods=$2
	shift 2
	dracutbasedir=$BASE pymakedumpfile_python=$PY pymakedumpfile_pythonpath=${PYMAKEDUMPFILE_PYTHONPATH-} \
		dracut --force --no-hostonly --no-hostonly-cmdline --no-early-microcode -m "$mods" \
		--kmoddir "$KDIR/lib/modules/$KVER" --kver "$KVER" \
		--drivers "virtio_pci virtio_blk ext4 crc32c_generic" \
		--tmpdir "$OUT_DIR" "$@" "$out" > "$out.log" 2>&1 || { tail -20 "$out.log"; exit 1; }
}
APPEND="console=ttyS0,115200 irqpoll nr_cpus=1 reset_devices panic=10 rd.shell=0 pmdtest=1"
case ${PMD_VM_INIT:-dracut} in
	systemd)
		BASEMODS="systemd dracut-systemd base"
		# systemd's own messages in the kernel log, and the journal's (our service's output)
		APPEND="$APPEND pmdtest.runs=raw,mdf pmdtest.then=capture systemd.log_target=kmsg"
		APPEND="$APPEND systemd.journald.forward_to_kmsg=1 pymakedumpfile.target=/dev/disk/by-id/virtio-pmdout"
		APPEND="$APPEND pymakedumpfile.fstype=ext4 pymakedumpfile.action=poweroff"
		# a root the crash kernel cannot mount (as a first kernel's, kept by kexec --reuse-cmdline,
		# whose device it lacks): the capture must not wait for it
		APPEND="$APPEND root=LABEL=pmd-no-such-root"
		;;
	dracut)
		BASEMODS=base
		APPEND="$APPEND pmdtest.runs=raw,l,z,mdf,small"
		;;
	*) echo "PMD_VM_INIT: systemd or dracut" >&2; exit 2 ;;
esac
mkd "$OUT_DIR/base.cpio" "$BASEMODS" --no-compress
mkd "$OUT_DIR/pmd.cpio" "$BASEMODS pymakedumpfile" --no-compress
mkd "$OUT_DIR/pmd-aggr.cpio" "$BASEMODS pymakedumpfile" --no-compress --aggressive-strip
mkd "$OUT_DIR/base-aggr.cpio" "$BASEMODS" --no-compress --aggressive-strip
mkd "$OUT_DIR/capture.img" "$BASEMODS pymakedumpfile pmdtest" --gzip
"$PY" - "$OUT_DIR" << 'PYEOF'
import json, os, sys
d = sys.argv[1]
s = {n: os.path.getsize(os.path.join(d, n)) for n in ("base.cpio", "pmd.cpio", "base-aggr.cpio", "pmd-aggr.cpio", "capture.img")}
s["module_added_bytes"] = s["pmd.cpio"] - s["base.cpio"]
s["module_added_bytes_aggressive_strip"] = s["pmd-aggr.cpio"] - s["base-aggr.cpio"]
json.dump(s, open(os.path.join(d, "sizes.json"), "w"), indent=1)
print(json.dumps(s))
PYEOF
rm -f "$OUT_DIR"/base*.cpio "$OUT_DIR"/pmd*.cpio

export OUT_DIR RIG_DIR CAPTURE_IMG=$OUT_DIR/capture.img
export CAPTURE_APPEND=${CAPTURE_APPEND:-$APPEND}
"$HERE/build-initramfs.sh"
