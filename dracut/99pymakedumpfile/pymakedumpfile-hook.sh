#!/bin/sh
# dracut pre-mount hook (99pymakedumpfile): in a crash kernel, capture /proc/vmcore when a
# target is configured (pymakedumpfile.target= on the command line, or PMD_TARGET in
# /etc/pymakedumpfile-capture.conf). Sourced by dracut's init: no exit here.
if [ -e /proc/vmcore ]; then
    /usr/sbin/pymakedumpfile-capture --if-configured
fi
