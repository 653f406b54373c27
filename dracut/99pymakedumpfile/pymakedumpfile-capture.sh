#!/bin/sh
# pymakedumpfile-capture: save the crashed kernel's memory (/proc/vmcore) in a crash kernel.
#
#   pymakedumpfile-capture [--target DEV] [--fstype T] [--mount-opts O] [--path DIR] [--no-stamp]
#                          [--args "ARGS"] [--collector CMD] [--vmcore FILE] [--action A]
#                          [--wait SEC] [--time] [--if-configured]
#
# Mounts DEV (a device, LABEL=, UUID=, PARTUUID=; none: DIR is on a file system already
# mounted), writes DIR/<stamp>/vmcore-incomplete with `CMD ARGS VMCORE FILE`, renames it to
# `vmcore` only once CMD succeeded and the data is synced; a failed or interrupted capture
# leaves vmcore-incomplete (pymakedumpfile and crash open it). The kernel log goes beside it:
# vmcore-dmesg.txt (from the dump: `pymakedumpfile --dump-dmesg`, else vmcore-dmesg, else
# makedumpfile --dump-dmesg) or, when none of them can, the crash kernel's own `dmesg` in
# kexec-dmesg.log (that log is not the crashed kernel's: capture.log says so). capture.log
# records every step, the collector's messages, its exit code and wall time (and with --time,
# /usr/bin/time -v's figures: peak RSS). Then the action: reboot (default), poweroff, halt,
# shell, none (return the exit code). With --if-configured it does nothing (exit 0) unless a
# target is configured (PMD_TARGET or pymakedumpfile.target=): the dracut hook and service run so.
#
# Settings, later ones winning: defaults, /etc/pymakedumpfile-capture.conf (shell variables
# PMD_TARGET PMD_FSTYPE PMD_MOUNT_OPTS PMD_PATH PMD_STAMP PMD_ARGS PMD_COLLECTOR PMD_VMCORE
# PMD_ACTION PMD_WAIT PMD_TIME), the kernel command line (pymakedumpfile.target=
# .fstype= .mount_opts= .path= .stamp= .args= .collector= .action= .wait=; commas in .args
# and .mount_opts stand for spaces), then the options above.
# Exit code: the collector's (0 when the dump is complete), 2 for a setup error.

PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export PATH

PMD_TARGET=
PMD_FSTYPE=
PMD_MOUNT_OPTS=
PMD_PATH=/var/crash
PMD_STAMP=yes
PMD_ARGS="-l --message-level 7 -d 31"
PMD_COLLECTOR=pymakedumpfile
PMD_VMCORE=/proc/vmcore
PMD_ACTION=reboot
PMD_WAIT=60
PMD_TIME=no
PMD_MNT=/run/pymakedumpfile/target
CONF=${PMD_CONF:-/etc/pymakedumpfile-capture.conf}

# shellcheck source=/dev/null
[ -r "$CONF" ] && . "$CONF"

# kernel command line: pymakedumpfile.NAME=VALUE
if [ -r /proc/cmdline ]; then
    read -r cmdline < /proc/cmdline
    for kv in $cmdline; do
        case $kv in
            pymakedumpfile.target=*) PMD_TARGET=${kv#*=} ;;
            pymakedumpfile.fstype=*) PMD_FSTYPE=${kv#*=} ;;
            pymakedumpfile.mount_opts=*) PMD_MOUNT_OPTS=$(echo "${kv#*=}" | tr , ' ') ;;
            pymakedumpfile.path=*) PMD_PATH=${kv#*=} ;;
            pymakedumpfile.stamp=*) PMD_STAMP=${kv#*=} ;;
            pymakedumpfile.args=*) PMD_ARGS=$(echo "${kv#*=}" | tr , ' ') ;;
            pymakedumpfile.collector=*) PMD_COLLECTOR=${kv#*=} ;;
            pymakedumpfile.action=*) PMD_ACTION=${kv#*=} ;;
            pymakedumpfile.wait=*) PMD_WAIT=${kv#*=} ;;
        esac
    done
fi

only_configured=
usage() {
    sed -n '3,7p' "$0" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --target) PMD_TARGET=$2; shift ;;
        --fstype) PMD_FSTYPE=$2; shift ;;
        --mount-opts) PMD_MOUNT_OPTS=$2; shift ;;
        --path) PMD_PATH=$2; shift ;;
        --no-stamp) PMD_STAMP=no ;;
        --args) PMD_ARGS=$2; shift ;;
        --collector) PMD_COLLECTOR=$2; shift ;;
        --vmcore) PMD_VMCORE=$2; shift ;;
        --action) PMD_ACTION=$2; shift ;;
        --wait) PMD_WAIT=$2; shift ;;
        --time) PMD_TIME=yes ;;
        --if-configured) only_configured=yes ;;
        -h | --help) usage ;;
        *) echo "pymakedumpfile-capture: unknown option $1" >&2; usage ;;
    esac
    shift
done
# the hook and the service: a crash kernel whose initramfs carries the module only for its
# collector (kdump-utils' core_collector) has no target of ours
[ -n "$only_configured" ] && [ -z "$PMD_TARGET" ] && exit 0

RUNDIR=${PMD_RUNDIR:-/run} # the log and exit code while the capture runs
LOG=$RUNDIR/pymakedumpfile-capture.log
mkdir -p "$RUNDIR" 2> /dev/null
say() {
    echo "pymakedumpfile-capture: $*"
    echo "$(uptime_s) $*" >> "$LOG"
}
uptime_s() {
    read -r up _ < /proc/uptime && echo "$up"
}
elapsed() { # elapsed T0 T1: seconds between two /proc/uptime readings
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }' 2> /dev/null || echo "?"
}

final_action() {
    sync
    case $PMD_ACTION in
        reboot)
            say "rebooting"
            reboot -f 2> /dev/null || echo b > /proc/sysrq-trigger
            ;;
        poweroff)
            say "powering off"
            poweroff -f 2> /dev/null || echo o > /proc/sysrq-trigger
            ;;
        halt)
            say "halting"
            halt -f 2> /dev/null || echo o > /proc/sysrq-trigger
            ;;
        shell)
            say "starting a shell (exit it to return)"
            sh -i < /dev/console > /dev/console 2>&1
            ;;
    esac
}

finish() { # finish RC: copy the log, unmount, final action, exit RC
    rc=$1
    say "exit code $rc"
    if [ -n "$DUMPDIR" ] && [ -d "$DUMPDIR" ]; then
        cat "$LOG" >> "$DUMPDIR/capture.log" 2> /dev/null
        sync
    fi
    if [ -n "$MOUNTED" ]; then
        umount "$PMD_MNT" 2> /dev/null || umount -l "$PMD_MNT" 2> /dev/null
    fi
    final_action
    exit "$rc"
}

resolve_device() { # LABEL=/UUID=/PARTUUID=/path -> device path, or nothing
    case $1 in
        LABEL=* | UUID=* | PARTUUID=* | PARTLABEL=*)
            k=${1%%=*}
            v=${1#*=}
            d=/dev/disk/by-$(echo "$k" | tr '[:upper:]' '[:lower:]')/$v
            [ -b "$d" ] && { echo "$d"; return 0; }
            d=$(blkid -l -o device -t "$1" 2> /dev/null) || d=$(findfs "$1" 2> /dev/null)
            [ -n "$d" ] && [ -b "$d" ] && { echo "$d"; return 0; }
            return 1
            ;;
        *) [ -b "$1" ] && { echo "$1"; return 0; } ;;
    esac
    return 1
}

: > "$LOG"
DUMPDIR=
MOUNTED=
if [ ! -r "$PMD_VMCORE" ]; then
    say "no $PMD_VMCORE: not a crash kernel, nothing to do"
    exit 0
fi
say "collector: $PMD_COLLECTOR $PMD_ARGS $PMD_VMCORE"

# ---- the target ----
base=$PMD_PATH
if [ -n "$PMD_TARGET" ]; then
    t0=$(uptime_s)
    dev=
    i=0
    while :; do
        dev=$(resolve_device "$PMD_TARGET") && break
        if [ "$i" -ge "$PMD_WAIT" ]; then
            say "target $PMD_TARGET not found after ${PMD_WAIT}s"
            finish 2
        fi
        sleep 1
        i=$((i + 1))
    done
    mkdir -p "$PMD_MNT"
    # shellcheck disable=SC2086 # mount options are words
    if ! mount ${PMD_FSTYPE:+-t "$PMD_FSTYPE"} ${PMD_MOUNT_OPTS:+-o "$PMD_MOUNT_OPTS"} "$dev" "$PMD_MNT"; then
        modprobe "${PMD_FSTYPE:-ext4}" 2> /dev/null
        # shellcheck disable=SC2086
        mount ${PMD_FSTYPE:+-t "$PMD_FSTYPE"} ${PMD_MOUNT_OPTS:+-o "$PMD_MOUNT_OPTS"} "$dev" "$PMD_MNT" || {
            say "cannot mount $dev ($PMD_TARGET) on $PMD_MNT"
            finish 2
        }
    fi
    MOUNTED=1
    say "mounted $dev on $PMD_MNT after $(elapsed "$t0" "$(uptime_s)")s"
    base=$PMD_MNT/${PMD_PATH#/}
fi
if [ "$PMD_STAMP" = yes ]; then
    DUMPDIR=$base/$(date +%Y-%m-%d-%H%M%S 2> /dev/null || echo dump)
else
    DUMPDIR=$base
fi
DUMPDIR=$(echo "$DUMPDIR" | tr -s /)
if ! mkdir -p "$DUMPDIR"; then
    DUMPDIR=
    say "cannot create the dump directory"
    finish 2
fi
say "saving to $DUMPDIR"

# ---- the kernel log, first: it is small and says why the kernel crashed ----
dmesg_saved=
if "$PMD_COLLECTOR" --dump-dmesg "$PMD_VMCORE" "$DUMPDIR/vmcore-dmesg-incomplete.txt" >> "$LOG" 2>&1; then
    dmesg_saved="$PMD_COLLECTOR --dump-dmesg"
elif command -v vmcore-dmesg > /dev/null 2>&1 &&
    vmcore-dmesg "$PMD_VMCORE" > "$DUMPDIR/vmcore-dmesg-incomplete.txt" 2>> "$LOG"; then
    dmesg_saved=vmcore-dmesg
elif [ "$PMD_COLLECTOR" != makedumpfile ] && command -v makedumpfile > /dev/null 2>&1 &&
    makedumpfile --dump-dmesg "$PMD_VMCORE" "$DUMPDIR/vmcore-dmesg-incomplete.txt" >> "$LOG" 2>&1; then
    dmesg_saved="makedumpfile --dump-dmesg"
fi
if [ -n "$dmesg_saved" ]; then
    mv "$DUMPDIR/vmcore-dmesg-incomplete.txt" "$DUMPDIR/vmcore-dmesg.txt"
    say "crashed kernel's log saved to vmcore-dmesg.txt by $dmesg_saved"
else
    rm -f "$DUMPDIR/vmcore-dmesg-incomplete.txt"
    say "NOTE: no tool here extracts the crashed kernel's log from the dump (pymakedumpfile --dump-dmesg" \
        "is not supported yet, no vmcore-dmesg): kexec-dmesg.log is the CRASH kernel's own log, not the" \
        "crashed kernel's; read the crashed kernel's log from the vmcore (crash: log)"
fi

# ---- the dump ----
OUT=$DUMPDIR/vmcore-incomplete
rm -f "$DUMPDIR/vmcore" "$OUT"
timer=
if [ "$PMD_TIME" = yes ]; then
    if [ -x /usr/bin/time ]; then
        timer="/usr/bin/time -v -o $DUMPDIR/time-v.txt"
    else
        say "--time: no /usr/bin/time here; wall time only"
    fi
fi
case " $PMD_ARGS " in
    *" -F "*) flat=1 ;;
    *) flat= ;;
esac
say "running: $PMD_COLLECTOR $PMD_ARGS $PMD_VMCORE $OUT"
t0=$(uptime_s)
rcfile=$RUNDIR/pymakedumpfile-capture.rc
# the collector's messages go to the console and to the log
if [ -n "$flat" ]; then
    # shellcheck disable=SC2086 # ARGS and the timer are words
    { $timer "$PMD_COLLECTOR" $PMD_ARGS "$PMD_VMCORE" > "$OUT"; echo $? > "$rcfile"; } 2>&1 | tee -a "$LOG"
else
    # shellcheck disable=SC2086
    { $timer "$PMD_COLLECTOR" $PMD_ARGS "$PMD_VMCORE" "$OUT"; echo $? > "$rcfile"; } 2>&1 | tee -a "$LOG"
fi
read -r rc < "$rcfile" || rc=1
sync
t1=$(uptime_s)
say "collector exit code $rc, wall time $(elapsed "$t0" "$t1")s"
if [ -n "$timer" ] && [ -f "$DUMPDIR/time-v.txt" ]; then
    say "peak RSS: $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DUMPDIR/time-v.txt") KiB"
fi
if [ "$rc" = 0 ] && [ -s "$OUT" ]; then
    if mv "$OUT" "$DUMPDIR/vmcore" && sync; then
        say "saved $DUMPDIR/vmcore"
    else
        say "could not rename $OUT: left as it is"
        rc=1
    fi
else
    [ "$rc" = 0 ] && rc=1
    say "the capture failed: $OUT is kept, marked incomplete"
fi
if [ -z "$dmesg_saved" ]; then
    dmesg > "$DUMPDIR/kexec-dmesg.log" 2> /dev/null
fi
sync
finish "$rc"
