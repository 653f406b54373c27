#!/bin/bash
# shellcheck disable=SC2154 # moddir, initdir and systemdsystemunitdir are set by dracut
# TEST-ONLY dracut module for tests/vm: in the crash kernel, copies /proc/vmcore raw (dd) to the
# disk with serial pmdraw, captures it with pymakedumpfile-capture at -l -d 31 and -z -d 31, runs
# Debian's makedumpfile -l -d 31 in the same kernel through the same script (for the RSS / wall
# time comparison), fills a small disk (serial pmdsmall) to interrupt a capture, then powers off
# (pmdtest-hook.sh; the runs come from the command line).
# Without systemd it is a pre-mount hook. With dracut's systemd module it is pmdtest.service,
# which runs before pymakedumpfile-capture.service (99pymakedumpfile) and, with
# pmdtest.then=capture, leaves the end of the boot to that service.
check() { return 255; }
depends() { echo pymakedumpfile; }
install() {
    inst_multiple dd stat grep cut tail
    inst_multiple -o /usr/bin/time makedumpfile
    if dracut_module_included systemd; then
        inst_simple "$moddir/pmdtest-hook.sh" /usr/lib/pmdtest/pmdtest.sh
        inst_simple "$moddir/pmdtest.service" "$systemdsystemunitdir/pmdtest.service"
        mkdir -p "$initdir$systemdsystemunitdir/initrd.target.wants"
        ln -sfn ../pmdtest.service "$initdir$systemdsystemunitdir/initrd.target.wants/pmdtest.service"
    else
        inst_hook pre-mount 50 "$moddir/pmdtest-hook.sh"
    fi
}
