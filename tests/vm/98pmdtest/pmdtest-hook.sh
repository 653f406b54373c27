#!/bin/sh
# tests/vm crash-kernel sequence (sourced by dracut's init in pre-mount, or run by pmdtest.service
# under systemd). Markers: "PMDTEST: ".
# The runs, in order, come from the command line: pmdtest.runs=raw,l,z,mdf,small. Then it powers
# off, unless pmdtest.then=capture leaves that to pymakedumpfile-capture.service.
if [ -e /proc/vmcore ] && grep -q 'pmdtest=1' /proc/cmdline; then
    pmdt_log() { echo "PMDTEST: $*"; }
    pmdt_dev() { # wait for /dev/disk/by-id/virtio-SERIAL
        pmdt_i=0
        while [ ! -b "/dev/disk/by-id/virtio-$1" ] && [ "$pmdt_i" -lt 60 ]; do sleep 1; pmdt_i=$((pmdt_i + 1)); done
        [ -b "/dev/disk/by-id/virtio-$1" ] && echo "/dev/disk/by-id/virtio-$1"
    }
    pmdt_log "capture kernel up at $(cut -d' ' -f1 /proc/uptime)s"
    grep -E 'MemTotal|MemFree|MemAvailable' /proc/meminfo
    pmdt_log "vmcore_size=$(stat -c %s /proc/vmcore)"
    pmdt_runs=$(sed -n 's/.*pmdtest\.runs=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
    pmdt_out=$(pmdt_dev pmdout)
    for pmdt_r in $pmdt_runs; do
        case $pmdt_r in
            raw)
                pmdt_raw=$(pmdt_dev pmdraw)
                dd if=/proc/vmcore of="$pmdt_raw" bs=1M 2>&1 | tail -1
                sync
                pmdt_log "raw copy done"
                ;;
            l | z | c)
                /usr/sbin/pymakedumpfile-capture --target "$pmdt_out" --fstype ext4 --path "/$pmdt_r" --no-stamp \
                    --args "-$pmdt_r --message-level 7 -d 31" --action none --time
                pmdt_log "run $pmdt_r rc=$?"
                ;;
            mdf)
                /usr/sbin/pymakedumpfile-capture --target "$pmdt_out" --fstype ext4 --path /mdf --no-stamp \
                    --collector makedumpfile --args "-l --message-level 7 -d 31" --action none --time
                pmdt_log "run mdf rc=$?"
                ;;
            small)
                /usr/sbin/pymakedumpfile-capture --target "$(pmdt_dev pmdsmall)" --fstype ext4 --path /small \
                    --no-stamp --args "-l --message-level 7 -d 31" --action none --time
                pmdt_log "run small rc=$?"
                ;;
        esac
        grep -E 'MemFree|MemAvailable' /proc/meminfo
    done
    pmdt_log "DONE"
    sync
    if ! grep -q 'pmdtest\.then=capture' /proc/cmdline; then
        poweroff -f 2> /dev/null || echo o > /proc/sysrq-trigger
    fi
fi
