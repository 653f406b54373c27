#!/bin/sh
# dracut pre-mount hook (99pymakedumpfile): in a crash kernel, capture /proc/vmcore when a
# target is configured (pymakedumpfile.target= on the command line, or PMD_TARGET in
# /etc/pymakedumpfile-capture.conf). Sourced by dracut's init: no exit here.
if [ -e /proc/vmcore ]; then
    if grep -q 'pymakedumpfile\.target=' /proc/cmdline \
        || grep -qs '^[[:space:]]*PMD_TARGET=..*' /etc/pymakedumpfile-capture.conf; then
        /usr/sbin/pymakedumpfile-capture
    fi
fi
