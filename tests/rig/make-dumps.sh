#!/bin/bash
# Make (or reuse) the real dumps the tests read, with the shared rig in ../shared/vmcores.
#   PMD_RIG_DIR  where dumps are cached (default ~/.cache/pymakedumpfile/rig, and -trixie,
#                -bullseye beside it); outside git.
#   RIG_SRC      the rig scripts (default: ../shared/vmcores beside the repository)
#   PMD_RIG_BIG=1  also the 4 GiB guest (minutes of QEMU, 4 GiB of disk)
#   PMD_RIG_OFFLINE=1  do not ask apt which kernel Debian has today: keep whatever is cached
# Each rig folder is keyed (its file rig-key) by the kernel package and version that Debian's
# archive offers today for its suite, and the makedumpfile and QEMU versions installed: when
# today's key differs, or the folder was never finished, it is removed and made again, so a
# cache never hides what a fresh machine would see.  Within a folder, a dump set is reused
# while its files exist.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RIG_SRC=${RIG_SRC:-$REPO/../shared/vmcores}
export RIG_DIR=${PMD_RIG_DIR:-$HOME/.cache/pymakedumpfile/rig}
RIG_DIR=$(realpath -m "$RIG_DIR")
APT_BASE=$(dirname "$RIG_DIR")/apt
# the rig scripts are needed only to make a dump that is not cached yet
rig() { [ -d "$RIG_SRC" ] || { echo "make-dumps: no rig scripts at $RIG_SRC (set RIG_SRC)" >&2; exit 1; }; }

# ---- today's key of each rig folder ----
# private apt lists for a suite other than the host's (as the rig's setup.sh makes them)
suite_opts() { # suite_opts SUITE [ARCH]
	local a=$APT_BASE/$1${2:+-$2} mirror
	mirror=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	mkdir -p "$a/lists/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $1 main" > "$a/sources.list"
	echo "-o Dir::Etc::sourcelist=$a/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$a/lists${2:+ -o APT::Architecture=$2 -o APT::Architectures=$2}"
}
today_key() { # today_key [APT OPTIONS]: "PACKAGE VERSION makedumpfile V qemu V"; empty when apt cannot tell
	# (FLAVOUR=arm64: the arm64 kernel, and the version of qemu-system-arm)
	local k v flav=${FLAVOUR:-amd64} qemu=qemu-system-x86
	[ "${PMD_RIG_OFFLINE:-0}" = 1 ] && return 0
	# shellcheck disable=SC2068
	apt-get $@ update -qq > /dev/null 2>&1 || { echo "make-dumps: apt-get update failed ${*:+($*)}" >&2; return 0; }
	# shellcheck disable=SC2068
	case $flav in arm64* | armmp*) qemu=qemu-system-arm ;; riscv64 | loong64) qemu=qemu-system-misc ;; s390x) qemu=qemu-system-misc ;; powerpc64le) qemu=qemu-system-ppc ;; esac
	k=$(apt-cache $@ depends "linux-image-$flav" 2> /dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
	[ -n "$k" ] || return 0
	# shellcheck disable=SC2068
	v=$(apt-cache $@ show --no-all-versions "$k" 2> /dev/null | sed -n 's/^Version: //p' | head -1)
	echo "$k $v makedumpfile $(dpkg-query -W -f='${Version}' makedumpfile 2> /dev/null) qemu $(dpkg-query -W -f='${Version}' $qemu 2> /dev/null)"
}
keyed() { # keyed DIR KEY: remove DIR when it was made for another key or never finished
	local dir=$1 key=$2 had
	had=$(cat "$dir/rig-key" 2> /dev/null || true)
	if [ -z "$key" ]; then
		[ ! -d "$dir" ] || echo "make-dumps: cannot tell which kernel Debian has today; reusing $dir (${had:-no key})" >&2
	elif [ -d "$dir" ] && [ "$had" != "$key" ]; then
		echo "make-dumps: $dir was made for '${had:-an unfinished or unkeyed run}'; today it is '$key': making it again" >&2
		rm -rf "$dir"
	fi
	mkdir -p "$dir"
}
finish() { # finish DIR KEY: the folder is complete for KEY
	[ -z "$2" ] || printf '%s\n' "$2" > "$1/rig-key"
}
kpkg() { echo "${1%% *}"; } # the package name of a key

sid_makedumpfile() { # sid_makedumpfile DIR ARCH: the newest makedumpfile (sid's) of ARCH in DIR/sysroot-sid
	local dir=$1 arch=$2 opts
	[ ! -x "$dir/sysroot-sid/usr/bin/makedumpfile" ] || return 0
	rm -rf "$dir/debs/sid" "$dir/sysroot-sid"
	mkdir -p "$dir/debs/sid" "$dir/sysroot-sid"
	opts=$(suite_opts sid "$arch")
	# shellcheck disable=SC2086
	apt-get $opts update -qq > /dev/null 2>&1 || true
	# shellcheck disable=SC2086
	(cd "$dir/debs/sid" && apt-get -q $opts download makedumpfile libc6 libdw1t64 libelf1t64 liblzo2-2 libzstd1 \
		zlib1g liblzma5 libbz2-1.0 libgcc-s1 > /dev/null) || echo "make-dumps: cannot fetch sid's $arch makedumpfile" >&2
	for f in "$dir"/debs/sid/*.deb; do dpkg -x "$f" "$dir/sysroot-sid"; done
	[ -e "$dir/sysroot-sid/lib" ] || ln -s usr/lib "$dir/sysroot-sid/lib" # usrmerge: the loader's /lib path
	# ppc64el's loader is /lib64/ld64.so.2: usrmerge puts it in usr/lib64, as an absolute link
	[ ! -d "$dir/sysroot-sid/usr/lib64" ] || [ -e "$dir/sysroot-sid/lib64" ] || ln -s usr/lib64 "$dir/sysroot-sid/lib64"
	local ld=$dir/sysroot-sid/usr/lib64/ld64.so.2
	if [ -L "$ld" ] && [[ $(readlink "$ld") == /* ]]; then ln -sf "../..$(readlink "$ld")" "$ld"; fi
}

sid_unpack() { # sid_unpack DIR PACKAGE...: sid's amd64 PACKAGEs and all they depend on, unpacked in DIR
	local dir=$1 opts pkgs
	shift
	rm -rf "$dir" "$dir.debs"
	mkdir -p "$dir" "$dir.debs"
	opts=$(suite_opts sid)
	# shellcheck disable=SC2086
	apt-get $opts update -qq > /dev/null 2>&1 || true
	# shellcheck disable=SC2086
	pkgs=$(apt-cache $opts depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
		--no-enhances "$@" 2> /dev/null | grep -v '^ \|<' | sort -u)
	# shellcheck disable=SC2086
	if [ -z "$pkgs" ] || ! (cd "$dir.debs" && apt-get -q $opts download $pkgs > /dev/null); then
		rm -rf "$dir" "$dir.debs"
		return 1
	fi
	for f in "$dir".debs/*.deb; do dpkg -x "$f" "$dir"; done
	[ -e "$dir/lib" ] || ln -s usr/lib "$dir/lib" # usrmerge: the loader's /lib path
	rm -rf "$dir.debs"
}

KEY=$(today_key)
keyed "$RIG_DIR" "$KEY"
if [ ! -e "$RIG_DIR/kernel/KPKG" ]; then
	rig
	SKIP_APT=${SKIP_APT:-0} KPKG=$(kpkg "$KEY") "$RIG_SRC/setup.sh"
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
# the rig kernel's vmlinux with DWARF (-g/-x tests): from linux-image-*-dbg, 858 MB, in Debian's main archive
# and the debug file of one module the guest loads (qemu_fw_cfg: --config's module sections)
K=$(cat "$RIG_DIR/kernel/KPKG")
V=$RIG_DIR/dbg/usr/lib/debug/boot/vmlinux-${K#linux-image-}
M=./usr/lib/debug/lib/modules/${K#linux-image-}/kernel/drivers/firmware/qemu_fw_cfg.ko
if [ ! -e "$V" ] || [ ! -e "$RIG_DIR/dbg/$M" ]; then
	mkdir -p "$RIG_DIR/debs" "$RIG_DIR/dbg"
	if ls "$RIG_DIR"/debs/"$K"-dbg_*.deb > /dev/null 2>&1 || (cd "$RIG_DIR/debs" && apt-get -q download "$K-dbg"); then
		dpkg-deb --fsys-tarfile "$RIG_DIR"/debs/"$K"-dbg_*.deb | tar -x -C "$RIG_DIR/dbg" "./usr/lib/debug/boot/${V##*/}" "$M"
		rm -f "$RIG_DIR"/debs/"$K"-dbg_*.deb
	else
		echo "make-dumps: cannot fetch $K-dbg: the -g/-x tests on the real kernel image will not run" >&2
	fi
fi
# BTF of the same kernel and module with their global variables (--config --btf without a DWARF
# image): Debian builds its kernels without pahole's global_var, so their own BTF describes only
# per-CPU variables. sid's pahole (1.28 and later have global_var) makes it from the -dbg files.
B=$RIG_DIR/btf-global
if [ -e "$V" ] && [ -e "$RIG_DIR/dbg/$M" ] && [ ! -e "$B/qemu_fw_cfg" ]; then
	P=$RIG_DIR/pahole-sid
	[ -x "$P/usr/bin/pahole" ] || sid_unpack "$P" pahole || echo "make-dumps: cannot fetch sid's pahole" >&2
	if [ -x "$P/usr/bin/pahole" ]; then
		pahole_sid() { "$P/usr/lib64/ld-linux-x86-64.so.2" --library-path "$P/usr/lib/x86_64-linux-gnu" "$P/usr/bin/pahole" "$@"; }
		FEAT=encode_force,var,float,decl_tag,type_tag,enum64,optimized_func,consistent_func,decl_tag_kfuncs,global_var
		mkdir -p "$B.tmp"
		if pahole_sid -j2 --btf_features=$FEAT --btf_encode_detached="$B.tmp/vmlinux" "$V" &&
			pahole_sid --btf_features=$FEAT --btf_base="$B.tmp/vmlinux" --btf_encode_detached="$B.tmp/qemu_fw_cfg" "$RIG_DIR/dbg/$M"; then
			rm -rf "$B" && mv "$B.tmp" "$B"
		else
			echo "make-dumps: sid's pahole could not make BTF with global variables: the --btf tests will not run" >&2
			rm -rf "$B.tmp"
		fi
	fi
fi
# sid's gdb-multiarch (gdb 14 and later strip an arm64 kernel return address's pointer
# authentication code; Debian 12's gdb 13 cannot), and a wrapper that runs it from where it is
# unpacked (the gdbserver tests' arm64 backtrace)
G=$RIG_DIR/gdb-sid
if [ ! -x "$G/gdb-multiarch" ]; then
	if sid_unpack "$G/root" gdb-multiarch; then
		cat > "$G/gdb-multiarch" <<-'EOF'
			#!/bin/sh
			# sid's gdb-multiarch run from this folder (PYTHONHOME: its Python's standard library)
			R=$(dirname "$(readlink -f "$0")")/root
			PYTHONHOME=$R/usr exec "$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "$R/usr/lib/x86_64-linux-gnu" \
				"$R/usr/bin/gdb-multiarch" --data-directory="$R/usr/share/gdb" "$@"
		EOF
		chmod +x "$G/gdb-multiarch"
		"$G/gdb-multiarch" -nx -batch -ex 'set architecture aarch64' > /dev/null 2>&1 ||
			{ echo "make-dumps: sid's gdb-multiarch does not run from $G: the arm64 backtrace test will not run" >&2; rm -f "$G/gdb-multiarch"; }
	else
		echo "make-dumps: cannot fetch sid's gdb-multiarch: the arm64 backtrace test will not run" >&2
	fi
fi
finish "$RIG_DIR" "$KEY"
# Debian 13's 6.12 kernel (page types as PGTY_* << 24): QEMU ELF + kdump, with the guest's own
# /proc/kpageflags read twice just before (kpf_twice.py), the truth where makedumpfile 1.7.2 is
# not right, and a measure of how much the guest changes in the time of one read
T=${RIG_DIR}-trixie
TOPTS=$(suite_opts trixie)
TKEY=$(today_key "$TOPTS")
keyed "$T" "$TKEY"
D=$T/dumps/mem512
if [ ! -e "$D/kpageflags.first.bin" ] || [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/qemu-elf" ]; then
	rig
	rm -rf "$D"
	[ -e "$T/kernel/KPKG" ] || RIG_DIR=$T SKIP_APT=1 APT_OPTS=$TOPTS KPKG=$(kpkg "$TKEY") "$RIG_SRC/setup.sh"
	[ -e "$T/initramfs.cpio.gz" ] || RIG_DIR=$T "$RIG_SRC/build-initramfs.sh"
	RIG_DIR=$T RIG_SRC=$RIG_SRC python3 "$HERE/kpf_twice.py" --mem 512 --crash 192 --kpageflags --formats elf \
		--mdf-levels 31 --mdf-comp l
fi
finish "$T" "$TKEY"
# Debian 11's 5.10 kernel (the first with the lockless printk ring): kexec capture and makedumpfile's
# -l -d 31 and --dump-dmesg of it
B=${RIG_DIR}-bullseye
BOPTS=$(suite_opts bullseye)
BKEY=$(today_key "$BOPTS")
keyed "$B" "$BKEY"
D=$B/dumps/mem512
if [ ! -e "$D/mdf-ref/dmesg.txt" ] || [ ! -e "$D/vmcore.elf" ]; then
	rig
	[ -e "$B/kernel/KPKG" ] || RIG_DIR=$B SKIP_APT=1 APT_OPTS=$BOPTS KPKG=$(kpkg "$BKEY") "$RIG_SRC/setup.sh"
	[ -e "$B/initramfs.cpio.gz" ] || RIG_DIR=$B "$RIG_SRC/build-initramfs.sh"
	[ -e "$D/vmcore.elf" ] || RIG_DIR=$B python3 "$RIG_SRC/rig.py" --mem 512 --crash 192 --formats elf --mdf-levels 31 --mdf-comp l
	python3 "$RIG_SRC/mdf_reference.py" --minimal --levels 31 "$D/vmcore.elf"
fi
finish "$B" "$BKEY"
# with PMD_RIG_BIG=1: a 4 GiB guest (two classification cycles; the issue-7 benchmark's dump)
D=$RIG_DIR/dumps/mem4096
if [ "${PMD_RIG_BIG:-0}" = 1 ] && [ ! -e "$D/vmcore.elf" ]; then
	rig
	python3 "$RIG_SRC/rig.py" --mem 4096 --crash 256 --fill-frac 1.5 --formats elf --mdf-levels 31 --mdf-comp l --name mem4096
fi
# Debian's arm64 kernels (bookworm's 6.1: 48-bit VA; trixie's 6.12: 52-bit VA on 4 KiB pages, and its
# 16 KiB-page flavour) under qemu-system-aarch64, with -cpu max (pointer authentication, LPA2) and
# -cpu cortex-a57 (neither; it has no 16 KiB granule):
# a real kexec capture, QEMU's ELF and kdump-zlib of the stopped guest, the guest's kpageflags,
# dmesg and vmallocinfo (arm64_rig.py); the arm64 makedumpfile unpacked for qemu-aarch64-static
for RUN in bookworm:arm64:max,cortex-a57 trixie:arm64:max,cortex-a57 trixie:arm64-16k:max; do
	IFS=: read -r SUITE FLAV CPUS <<< "$RUN"
	A=${RIG_DIR}-arm64
	[ "$SUITE" = bookworm ] || A=$A-$SUITE
	[ "$FLAV" = arm64 ] || A=$A-${FLAV#arm64-}
	AKEY=$(FLAVOUR=$FLAV today_key "$(suite_opts "$SUITE" arm64)")
	keyed "$A" "$AKEY"
	[ -e "$A/kernel/KPKG" ] || { rig; RIG_DIR=$A SUITE=$SUITE SKIP_APT=1 KPKG=$(kpkg "$AKEY") "$RIG_SRC/arm64/setup.sh"; }
	[ -e "$A/initramfs.cpio.gz" ] || { rig; RIG_DIR=$A "$RIG_SRC/arm64/build-initramfs.sh"; }
	if [ "$SUITE" = bookworm ] && [ ! -x "$A/sysroot/usr/bin/crash" ]; then # Debian's arm64 crash, for qemu-user
		mkdir -p "$A/debs/crash"
		# shellcheck disable=SC2046
		(cd "$A/debs/crash" && apt-get -q $(suite_opts bookworm arm64) download crash libgcc-s1 libncursesw6 \
			libsnappy1v5 libstdc++6 libtinfo6 > /dev/null)
		for f in "$A"/debs/crash/*.deb; do dpkg -x "$f" "$A/sysroot"; done
	fi
	AK=$(cat "$A/kernel/KPKG")
	AV=$A/dbg/usr/lib/debug/boot/vmlinux-${AK#linux-image-}
	if [ "$SUITE" = bookworm ] && [ ! -e "$AV" ]; then # the arm64 kernel's vmlinux with DWARF (-g/-x), 800 MB
		mkdir -p "$A/debs" "$A/dbg"
		# shellcheck disable=SC2046
		if (cd "$A/debs" && apt-get -q $(suite_opts bookworm arm64) download "$AK-dbg" > /dev/null); then
			dpkg-deb --fsys-tarfile "$A"/debs/"$AK"-dbg_*.deb | tar -x -C "$A/dbg" "./usr/lib/debug/boot/${AV##*/}"
			rm -f "$A"/debs/"$AK"-dbg_*.deb
		else
			echo "make-dumps: cannot fetch $AK-dbg: the arm64 -g/-x tests will not run" >&2
		fi
	fi
	[ "$SUITE" = bookworm ] && sid_makedumpfile "$A" arm64
	for CPU in ${CPUS//,/ }; do
		N=mem512; [ "$CPU" = max ] || N=mem512-a57
		D=$A/dumps/$N
		if [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/guest-vmallocinfo.txt" ] || [ ! -e "$D/kpageflags.first.bin" ]; then
			rig
			C=$CPU; [ "$CPU" = max ] && C=max,pauth-impdef=on
			RIG_DIR=$A RIG_SRC=$RIG_SRC python3 "$HERE/arm64_rig.py" --mem 512 --crash 192 --cpu "$C" --name "$N" \
				--kpageflags --kpf-twice --mdf-levels 31 --mdf-comp l
		fi
	done
	finish "$A" "$AKEY"
done
# Debian's s390x kernel (big-endian; bookworm's is built without CONFIG_CRASH_DUMP: no kexec capture)
# under qemu-system-s390x, at two memory sizes: QEMU's ELF and kdump-zlib of the stopped guest, its
# kpageflags read twice just before, its dmesg, vmallocinfo and VMCOREINFO address (qemu_rig.py);
# the s390x makedumpfile (bookworm's and sid's) unpacked for qemu-s390x-static
Z=${RIG_DIR}-s390x
ZOPTS=$(suite_opts bookworm s390x)
ZKEY=$(FLAVOUR=s390x today_key "$ZOPTS")
keyed "$Z" "$ZKEY"
[ -e "$Z/kernel/KPKG" ] || python3 "$HERE/qemu_rig.py" setup --arch s390x --dir "$Z" --kpkg "$(kpkg "$ZKEY")" --apt-opts "$ZOPTS"
[ -e "$Z/initramfs.cpio.gz" ] || { rig; python3 "$HERE/qemu_rig.py" build --arch s390x --dir "$Z"; }
sid_makedumpfile "$Z" s390x
for MEM in 512 1024; do
	D=$Z/dumps/mem$MEM
	if [ ! -e "$D/qemu-elf" ] || [ ! -e "$D/kpageflags.first.bin" ] || [ ! -e "$D/rig-run.json" ]; then
		rig
		RIG_SRC=$RIG_SRC python3 "$HERE/qemu_rig.py" run --arch s390x --dir "$Z" --mem "$MEM" --kpf-twice
	fi
done
finish "$Z" "$ZKEY"
# Debian's ppc64el kernel (64 KiB pages) under qemu-system-ppc64 -M pseries, with -cpu power9 (radix
# MMU) and power8 (hash MMU): a real kexec capture of each (/proc/vmcore, and the ppc64el makedumpfile's
# -l -d 31 in the crash kernel), the guest's kpageflags twice, its dmesg, vmallocinfo and VMCOREINFO
# address; QEMU's own files are not taken (QEMU 7.2 writes a little-endian guest's ELF big-endian and
# without VMCOREINFO: docs/ppc64.md); the power9 guest at two memory sizes
W=${RIG_DIR}-ppc64el
WOPTS=$(suite_opts bookworm ppc64el)
WKEY=$(FLAVOUR=powerpc64le today_key "$WOPTS")
keyed "$W" "$WKEY"
[ -e "$W/kernel/KPKG" ] || python3 "$HERE/qemu_rig.py" setup --arch ppc64el --flavour powerpc64le --dir "$W" \
	--kpkg "$(kpkg "$WKEY")" --apt-opts "$WOPTS"
[ -e "$W/initramfs.cpio.gz" ] || { rig; python3 "$HERE/qemu_rig.py" build --arch ppc64el --dir "$W"; }
sid_makedumpfile "$W" ppc64el
for RUN in power9:1024 power8:1024 power9:2048; do
	CPU=${RUN%%:*} MEM=${RUN##*:}
	N=${CPU/power/p}; [ "$MEM" = 1024 ] || N=$N-mem$MEM
	D=$W/dumps/$N
	if [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/kpageflags.first.bin" ] || [ ! -e "$D/rig-run.json" ]; then
		rig
		RIG_SRC=$RIG_SRC python3 "$HERE/qemu_rig.py" run --arch ppc64el --dir "$W" --mem "$MEM" --cpu "$CPU" --name "$N" \
			--crash 256 --formats none --kpf-twice
	fi
done
finish "$W" "$WKEY"
# Debian 12's 32-bit kernels, each captured by a real crash kernel (kexec -p, a panic, /proc/vmcore
# copied to a disk and the architecture's makedumpfile -l -d 31 of it), with the guest's kpageflags
# read twice, dmesg and vmallocinfo (qemu_rig.py); bookworm's and sid's makedumpfile of the
# architecture unpacked for the tests:
# - x86 under qemu-system-i386: 686-pae (PAE, three levels of 64-bit entries) with 1 GiB, so that
#   memory above 896 MiB is high memory, and 686 (two levels of 32-bit entries) with 512 MiB; with
#   QEMU's ELF and kdump-zlib of the stopped guest;
# - arm under qemu-system-arm -M virt: armmp (classic two-level tables) with 512 MiB and
#   armmp-lpae (LPAE) with 1 GiB; QEMU's own files are not taken (Debian's armmp kernels have no
#   qemu_fw_cfg to give QEMU their VMCOREINFO)
for RUN in i386:686-pae:i386-pae:1024:192:all i386:686:i386:512:160:all armhf:armmp:armhf:512:160:none \
	armhf:armmp-lpae:armhf-lpae:1024:192:none; do
	IFS=: read -r ARCH FLAV SUF MEM CRASH FORMATS <<< "$RUN"
	A=${RIG_DIR}-$SUF
	AOPTS=$(suite_opts bookworm "$ARCH")
	AKEY=$(FLAVOUR=$FLAV today_key "$AOPTS")
	keyed "$A" "$AKEY"
	[ -e "$A/kernel/KPKG" ] || python3 "$HERE/qemu_rig.py" setup --arch "$ARCH" --flavour "$FLAV" --dir "$A" \
		--kpkg "$(kpkg "$AKEY")" --apt-opts "$AOPTS"
	[ -e "$A/initramfs.cpio.gz" ] || { rig; python3 "$HERE/qemu_rig.py" build --arch "$ARCH" --dir "$A"; }
	sid_makedumpfile "$A" "$ARCH"
	D=$A/dumps/mem$MEM
	if [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/kpageflags.first.bin" ] || [ ! -e "$D/rig-run.json" ]; then
		rig
		RIG_SRC=$RIG_SRC python3 "$HERE/qemu_rig.py" run --arch "$ARCH" --dir "$A" --mem "$MEM" --crash "$CRASH" \
			--formats "$FORMATS" --kpf-twice
	fi
	finish "$A" "$AKEY"
done
# Debian 13's riscv64 kernel under qemu-system-riscv64 -M virt (OpenSBI), 1 GiB, with Sv57 (the
# CPU's widest) and with Sv39 (no4lvl), each captured by a real crash kernel; kexec-tools and the
# crash kernel's makedumpfile from sid (Debian 13 has no riscv64 kexec-tools; qemu_rig.py shows
# kexec an iomem without the kernel's Reserved ranges, which it would leave out of the dump); the
# guest's kpageflags twice, dmesg, vmallocinfo; sid's riscv64 makedumpfile for the tests (sysroot)
V=${RIG_DIR}-riscv64
VOPTS=$(suite_opts trixie riscv64)
VKEY=$(FLAVOUR=riscv64 today_key "$VOPTS")
[ -z "$VKEY" ] || VKEY="$VKEY userland sid"
keyed "$V" "$VKEY"
if [ ! -e "$V/kernel/KPKG" ]; then
	UOPTS=$(suite_opts sid riscv64)
	# shellcheck disable=SC2086
	apt-get $UOPTS update -qq > /dev/null 2>&1 || echo "make-dumps: apt-get update of sid's riscv64 lists failed" >&2
	python3 "$HERE/qemu_rig.py" setup --arch riscv64 --dir "$V" --kpkg "$(kpkg "$VKEY")" --apt-opts "$VOPTS" \
		--user-apt-opts "$UOPTS"
fi
[ -e "$V/initramfs.cpio.gz" ] || { rig; python3 "$HERE/qemu_rig.py" build --arch riscv64 --dir "$V"; }
for RUN in mem1024: mem1024-sv39:no4lvl; do
	N=${RUN%%:*} EXTRA=${RUN#*:}
	D=$V/dumps/$N
	if [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/kpageflags.first.bin" ] || [ ! -e "$D/rig-run.json" ]; then
		rig
		RIG_SRC=$RIG_SRC python3 "$HERE/qemu_rig.py" run --arch riscv64 --dir "$V" --mem 1024 --crash 256 --formats none \
			--kpf-twice --name "$N" ${EXTRA:+--append "$EXTRA"}
	fi
done
finish "$V" "$VKEY"
# Debian sid's loongarch64 kernel (16 KiB pages, three levels) under bookworm-backports'
# qemu-system-loongarch64 -M virt (unpacked; QEMU 7.2 cannot load the firmware), booted by trixie's
# EDK II (the kernel is an EFI application), 1 GiB, captured by a real crash kernel with sid's
# kexec-tools (Debian has no loong64 makedumpfile); the guest's kpageflags twice, dmesg, vmallocinfo
G=${RIG_DIR}-loong64
GOPTS=$(suite_opts sid loong64)
GKEY=$(FLAVOUR=loong64 today_key "$GOPTS")
if [ -n "$GKEY" ]; then
	BOPTS=$(suite_opts bookworm-backports)
	TOPTS=$(suite_opts trixie)
	# shellcheck disable=SC2086
	apt-get $BOPTS update -qq > /dev/null 2>&1 || true
	# shellcheck disable=SC2086
	apt-get $TOPTS update -qq > /dev/null 2>&1 || true
	# shellcheck disable=SC2086
	GKEY="$GKEY qemu-backports $(apt-cache $BOPTS show --no-all-versions qemu-system-misc 2> /dev/null | sed -n 's/^Version: //p' | head -1) edk2 $(apt-cache $TOPTS show --no-all-versions qemu-efi-loongarch64 2> /dev/null | sed -n 's/^Version: //p' | head -1)"
fi
keyed "$G" "$GKEY"
if [ ! -x "$G/qemu/usr/bin/qemu-system-loongarch64" ] || [ ! -e "$G/firmware/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd" ]; then
	rm -rf "$G/qemu-debs" "$G/qemu" "$G/firmware"
	mkdir -p "$G/qemu-debs" "$G/qemu" "$G/firmware"
	BOPTS=$(suite_opts bookworm-backports)
	TOPTS=$(suite_opts trixie)
	# shellcheck disable=SC2086
	(cd "$G/qemu-debs" && apt-get -q $BOPTS download qemu-system-misc qemu-system-common qemu-system-data > /dev/null &&
		apt-get -q $TOPTS download qemu-efi-loongarch64 > /dev/null) ||
		echo "make-dumps: cannot fetch bookworm-backports' QEMU or trixie's loongarch64 firmware: no loongarch64 dumps" >&2
	for f in "$G"/qemu-debs/qemu-system-*.deb; do [ -e "$f" ] && dpkg -x "$f" "$G/qemu"; done
	for f in "$G"/qemu-debs/qemu-efi-*.deb; do [ -e "$f" ] && dpkg -x "$f" "$G/firmware"; done
fi
if [ -x "$G/qemu/usr/bin/qemu-system-loongarch64" ]; then
	[ -e "$G/kernel/KPKG" ] || python3 "$HERE/qemu_rig.py" setup --arch loong64 --dir "$G" --kpkg "$(kpkg "$GKEY")" \
		--apt-opts "$GOPTS"
	[ -e "$G/initramfs.cpio.gz" ] || { rig; python3 "$HERE/qemu_rig.py" build --arch loong64 --dir "$G"; }
	D=$G/dumps/mem1024
	if [ ! -e "$D/vmcore.elf" ] || [ ! -e "$D/kpageflags.first.bin" ] || [ ! -e "$D/rig-run.json" ]; then
		rig
		# crashkernel=320M: with 256M, sid's 7.2 crash kernel had 128 MiB left and ran out of memory in
		# the raw copy of /proc/vmcore (once; another run only after it); 320M leaves the first kernel
		# ~430 MiB for its 380 MiB of fill
		RIG_SRC=$RIG_SRC python3 "$HERE/qemu_rig.py" run --arch loong64 --dir "$G" --mem 1024 --crash 320 --formats none \
			--kpf-twice --qemu "$G/qemu/usr/bin/qemu-system-loongarch64" --qemu-datadir "$G/qemu/usr/share/qemu"
	fi
	finish "$G" "$GKEY"
fi
# amd64 under bookworm-backports' QEMU (10.x; unpacked, not installed): its kdump-raw-zlib (the kdump
# format unflattened, QEMU 8.2 and later), kdump-zlib and ELF files of the same stopped guest, the
# guest's VMCOREINFO given to QEMU through fw_cfg (qemu_rig.py)
Q=${RIG_DIR}-qemu10
QOPTS=$(suite_opts bookworm-backports)
QKEY=$(today_key)
if [ -n "$QKEY" ]; then
	# shellcheck disable=SC2086
	apt-get $QOPTS update -qq > /dev/null 2>&1 || true
	# shellcheck disable=SC2086
	QKEY="$QKEY qemu-backports $(apt-cache $QOPTS show --no-all-versions qemu-system-x86 2> /dev/null | sed -n 's/^Version: //p' | head -1)"
fi
keyed "$Q" "$QKEY"
if [ ! -x "$Q/qemu/usr/bin/qemu-system-x86_64" ]; then
	rm -rf "$Q/qemu-debs" "$Q/qemu"
	mkdir -p "$Q/qemu-debs" "$Q/qemu"
	# shellcheck disable=SC2086
	(cd "$Q/qemu-debs" && apt-get -q $QOPTS download qemu-system-x86 qemu-system-common qemu-system-data > /dev/null) ||
		echo "make-dumps: cannot fetch bookworm-backports' QEMU: no kdump-raw dumps" >&2
	for f in "$Q"/qemu-debs/*.deb; do [ -e "$f" ] && dpkg -x "$f" "$Q/qemu"; done
fi
if [ -x "$Q/qemu/usr/bin/qemu-system-x86_64" ]; then
	[ -e "$Q/kernel/KPKG" ] || python3 "$HERE/qemu_rig.py" setup --arch amd64 --dir "$Q" --kpkg "$(kpkg "$QKEY")"
	[ -e "$Q/initramfs.cpio.gz" ] || { rig; python3 "$HERE/qemu_rig.py" build --arch amd64 --dir "$Q"; }
	D=$Q/dumps/mem512
	if [ ! -e "$D/qemu-kdump.raw-zlib" ] || [ ! -e "$D/rig-run.json" ]; then
		rig
		RIG_SRC=$RIG_SRC python3 "$HERE/qemu_rig.py" run --arch amd64 --dir "$Q" --mem 512 \
			--formats elf,kdump-raw-zlib,kdump-zlib --qemu "$Q/qemu/usr/bin/qemu-system-x86_64" \
			--qemu-datadir "$Q/qemu/usr/share/qemu"
	fi
	finish "$Q" "$QKEY"
fi
echo "make-dumps: real dumps ready in $RIG_DIR/dumps, $T/dumps, $B/dumps ${RIG_DIR}-arm64*/dumps, $Z/dumps, $W/dumps, ${RIG_DIR}-i386*/dumps, ${RIG_DIR}-armhf*/dumps, $V/dumps, $G/dumps and $Q/dumps"
