#!/bin/sh
# dracut cmdline hook (99pymakedumpfile): a crash kernel booted with this image alone has no
# root= to mount, and dracut's init stops at "No or empty root= argument" before any hook that
# could capture. In a crash kernel (/proc/vmcore) without root=, let it go on to the pre-mount
# hook. Sourced by dracut's init: sets its variables, no exit. kdump-utils sets its own root.
# shellcheck disable=SC2034 # root and rootok are variables of dracut's init
if [ -e /proc/vmcore ] && [ -z "$root" ]; then
    root=pymakedumpfile
    rootok=1
fi
