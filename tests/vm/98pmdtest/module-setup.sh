#!/bin/bash
# shellcheck disable=SC2154 # moddir is set by dracut
# TEST-ONLY dracut module for tests/vm: a pre-mount hook that, in the crash kernel, copies
# /proc/vmcore raw (dd) to the disk with serial pmdraw, captures it with
# pymakedumpfile-capture at -l -d 31 and -z -d 31, runs Debian's makedumpfile -l -d 31 in the
# same kernel through the same script (for the RSS / wall time comparison), fills a small
# disk (serial pmdsmall) to interrupt a capture, then powers off.
check() { return 255; }
depends() { echo pymakedumpfile; }
install() {
    inst_multiple dd stat grep cut tail
    inst_multiple -o /usr/bin/time makedumpfile
    inst_hook pre-mount 50 "$moddir/pmdtest-hook.sh"
}
