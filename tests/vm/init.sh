#!/bin/sh
# COPY of ../shared/vmcores/init.sh (read-only there), changed for tests/vm: the crash kernel is
# loaded with /boot/capture.img (a dracut image) and the command line in /etc/rig/capture-append.
# /init for the vmcore rig guest (busybox-static).
# Modes (kernel cmdline): rigmode=normal (default) | rigmode=capture (kdump kernel)
# Console commands in normal mode: crash | poweroff | meminfo | kpf (kpageflags/kpagecount -> disk rigkpf)
# Fill sizes (MB) from cmdline: rig_rand= rig_zero= rig_pat= rig_cache= rig_tmpfs= rig_untouched=
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /proc /sys /dev /tmp /mnt/data /mnt/out /mnt/tmpfs
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
KVER=$(uname -r)

arg() { # arg NAME DEFAULT
	v=$(tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1)
	echo "${v:-$2}"
}
log() { echo "RIG: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }

MODE=$(arg rigmode normal)
log "mode=$MODE kernel=$KVER uptime=$(now)"
for m in $(cat /etc/rig/modules.list); do
	insmod /lib/modules/$KVER/$m 2>/dev/null || log "insmod $m failed"
done
mdev -s 2>/dev/null
sleep 1

# find a virtio disk by its serial
disk_by_serial() {
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] && [ "$(cat $d/serial)" = "$1" ] && { echo /dev/${d##*/}; return 0; }
	done
	return 1
}

if [ "$MODE" = capture ]; then
	log "capture kernel up at $(now)s"
	grep -E 'MemTotal|MemFree|MemAvailable' /proc/meminfo
	VMSIZE=$(stat -c %s /proc/vmcore)
	log "vmcore_size=$VMSIZE"
	RAW=$(disk_by_serial rigvmcore)
	OUT=$(disk_by_serial rigout)
	log "raw=$RAW out=$OUT"
	if [ -n "$OUT" ]; then
		mount -t ext4 "$OUT" /mnt/out && OUTOK=1
	fi
	if [ -n "$RAW" ]; then
		t0=$(now)
		dd if=/proc/vmcore of="$RAW" bs=1M 2>&1 | tail -1
		sync
		t1=$(now)
		log "raw copy done: $VMSIZE bytes in $(awk "BEGIN{print $t1-$t0}")s"
	fi
	if [ -n "$OUTOK" ]; then
		echo "$VMSIZE" > /mnt/out/vmcore.size
		cp /proc/meminfo /mnt/out/capture-meminfo.txt
		cat /proc/cmdline > /mnt/out/capture-cmdline.txt
		for lvl in $(arg rig_mdf_levels 31 | tr , " "); do
			for c in $(arg rig_mdf_comp c | tr , " "); do
				t0=$(now)
				makedumpfile -$c -d $lvl --message-level 31 /proc/vmcore /mnt/out/dumpfile-$c-d$lvl \
					> /mnt/out/makedumpfile-$c-d$lvl.log 2>&1
				rc=$?
				sync
				t1=$(now)
				log "makedumpfile -$c -d $lvl rc=$rc took $(awk "BEGIN{print $t1-$t0}")s"
				echo "rc=$rc elapsed_s=$(awk "BEGIN{print $t1-$t0}")" >> /mnt/out/makedumpfile-$c-d$lvl.log
				grep -E 'MemFree|MemAvailable' /proc/meminfo >> /mnt/out/makedumpfile-$c-d$lvl.log
			done
		done
		makedumpfile --dump-dmesg /proc/vmcore /mnt/out/dmesg.txt > /mnt/out/dump-dmesg.log 2>&1
		dmesg > /mnt/out/capture-kernel-dmesg.txt
		sync
		umount /mnt/out
	fi
	log "CAPTURE-DONE"
	sync
	poweroff -f
fi

# ---------------- normal (first) kernel ----------------
[ -d /sys/firmware/qemu_fw_cfg ] && log "qemu_fw_cfg present" || log "WARNING: no qemu_fw_cfg"
RAND=$(arg rig_rand 32); ZERO=$(arg rig_zero 16); PAT=$(arg rig_pat 16)
CACHE=$(arg rig_cache 32); TMPF=$(arg rig_tmpfs 8); UNT=$(arg rig_untouched 8)

# page cache: read pre-populated files and write new ones on the ext4 data disk
DATA=$(disk_by_serial rigdata)
if [ -n "$DATA" ] && mount -t ext4 "$DATA" /mnt/data; then
	cat /mnt/data/pre/* > /dev/null 2>&1        # clean page cache from reads
	half=$((CACHE / 2))
	dd if=/dev/urandom of=/mnt/data/new-rand bs=1M count=$half 2>/dev/null
	yes "rig page cache text line: lorem ipsum dolor sit amet" | head -c $((half * 1048576)) > /mnt/data/new-text
	sync                                        # written pages become clean cache
	log "data disk $DATA mounted, page cache filled (${CACHE}MB new + pre-populated)"
else
	log "WARNING: no data disk"
fi
# tmpfs (shmem) pages
mount -t tmpfs -o size=$((TMPF + 16))m tmpfs /mnt/tmpfs
dd if=/dev/urandom of=/mnt/tmpfs/rand bs=1M count=$TMPF 2>/dev/null
# anonymous user memory
/bin/memfill $RAND $ZERO $PAT $UNT > /tmp/memfill.out 2>&1 &
while ! grep -q filled /tmp/memfill.out 2>/dev/null; do sleep 1; done
cat /tmp/memfill.out

# load the crash kernel if crashkernel= was reserved
if grep -q crashkernel= /proc/cmdline && [ -e /boot/vmlinuz ]; then
	kexec -p /boot/vmlinuz --initrd=/boot/capture.img \
		--append="$(cat /etc/rig/capture-append)" \
		&& log "kexec -p loaded: crash_loaded=$(cat /sys/kernel/kexec_crash_loaded) crash_size=$(cat /sys/kernel/kexec_crash_size)" \
		|| log "kexec -p FAILED"
fi
echo 1 > /proc/sys/kernel/sysrq
sync
grep -E 'MemTotal|MemFree|^Cached|AnonPages|Shmem:|AnonHugePages' /proc/meminfo
log "READY uptime=$(now)"
# command loop on the console
while read -r cmd; do
	case "$cmd" in
	crash) log "triggering sysrq-c"; sleep 1; echo c > /proc/sysrq-trigger ;;
	poweroff) log "powering off"; sync; poweroff -f ;;
	meminfo) cat /proc/meminfo ;;
	kpf) # ground truth: copy /proc/kpageflags + /proc/kpagecount to the raw disk with serial rigkpf
	     # (O_DIRECT, 4 KiB-padded: no page cache is created by the copy). Layout: 4 KiB text header
	     # "RIGKPF flags_off=.. flags_bytes=.. count_off=.. count_bytes=..", data at 1 MiB boundaries.
		KPFD=$(disk_by_serial rigkpf)
		if [ -z "$KPFD" ]; then log "KPF-FAILED no rigkpf disk"; continue; fi
		t0=$(now)
		nf=$(wc -c < /proc/kpageflags); nc=$(wc -c < /proc/kpagecount)
		fo=1048576; co=$(( fo + (nf + 1048575) / 1048576 * 1048576 ))
		dd if=/proc/kpageflags of=$KPFD bs=4096 seek=$((fo / 4096)) iflag=fullblock conv=sync,notrunc oflag=direct 2>/dev/null &&
		dd if=/proc/kpagecount of=$KPFD bs=4096 seek=$((co / 4096)) iflag=fullblock conv=sync,notrunc oflag=direct 2>/dev/null ||
			{ dd if=/proc/kpageflags of=$KPFD bs=4096 seek=$((fo / 4096)) conv=notrunc 2>/dev/null
			  dd if=/proc/kpagecount of=$KPFD bs=4096 seek=$((co / 4096)) conv=notrunc 2>/dev/null; sync; log "kpf: O_DIRECT failed, used buffered dd"; }
		printf 'RIGKPF flags_off=%s flags_bytes=%s count_off=%s count_bytes=%s uptime=%s kernel=%s\n' \
			$fo $nf $co $nc $(now) $KVER | dd of=$KPFD bs=4096 count=1 conv=sync,notrunc oflag=direct 2>/dev/null
		log "KPF-DONE flags_bytes=$nf count_bytes=$nc took $(awk "BEGIN{print $(now)-$t0}")s" ;;
	memusage) # --mem-usage of this running kernel: makedumpfile, pymakedumpfile, makedumpfile again
		# (pymakedumpfile and its Python come from the crash kernel's dracut image, unpacked
		# here and run chrooted; the first makedumpfile run is after the unpacking)
		R=/pmdroot
		mkdir -p $R && (cd $R && zcat /boot/capture.img | cpio -id 2>/dev/null)
		mkdir -p $R/proc $R/sys $R/dev $R/tmp
		mount -t proc proc $R/proc; mount -t sysfs sysfs $R/sys; mount -t devtmpfs devtmpfs $R/dev
		log "MEMUSAGE-MDF1-BEGIN"; makedumpfile --mem-usage /proc/kcore 2>&1; log "MEMUSAGE-MDF1-END rc=$?"
		log "MEMUSAGE-OURS-BEGIN"; chroot $R /usr/bin/pymakedumpfile --mem-usage --message-level 6 /proc/kcore 2>&1
		log "MEMUSAGE-OURS-END rc=$?"
		log "MEMUSAGE-MDF2-BEGIN"; makedumpfile --mem-usage /proc/kcore 2>&1; log "MEMUSAGE-MDF2-END rc=$?"
		umount $R/proc $R/sys $R/dev; rm -rf $R
		log "MEMUSAGE-DONE" ;;
	"") ;;
	*) log "unknown command: $cmd" ;;
	esac
done
log "console closed; idling"
while :; do sleep 3600; done
