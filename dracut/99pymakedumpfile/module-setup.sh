#!/bin/bash
# shellcheck disable=SC2154 # moddir and initdir are set by dracut
# dracut module: pymakedumpfile, a makedumpfile-compatible crash dump collector, for the
# crash (kdump) kernel's initramfs.
#
# Installs a Python interpreter, only the standard-library modules pymakedumpfile imports
# (python-modules.list, found by tracing real captures: tests/vm/gen_modules_list.py), the
# package with its compiled accel module, the codec packages, /usr/bin/pymakedumpfile (runs
# the package with `python -S`) and the capture script /usr/sbin/pymakedumpfile-capture.
#
# Settings: dracut.conf(.d) variables or environment variables of the same name in capitals
# (PYMAKEDUMPFILE_PYTHON ...), the variable winning:
#   pymakedumpfile_python      interpreter pymakedumpfile is installed for (default: python3 on PATH)
#   pymakedumpfile_pythonpath  extra directories where the package is (a source checkout), colon separated
#   pymakedumpfile_codecs      codec packages to install (default "zstd snappy"; add lz4 for
#                              --stream-compress lz4; zlib and LZO need none)
#   pymakedumpfile_sources     "yes": install .py sources beside the .pyc (tracebacks with source)
#   pymakedumpfile_arches      the architectures whose page tables it reads (default: this machine's,
#                              whose crash kernel the initramfs is for; x86_64's always comes along)
#   pymakedumpfile_capture_conf  a pymakedumpfile-capture.conf to install (default
#                              /etc/pymakedumpfile-capture.conf if it exists)
#
# Used by kdump-utils (core_collector pymakedumpfile ...) or on its own: with
# pymakedumpfile.target= on the crash kernel's command line (or PMD_TARGET in the config),
# the capture script saves /proc/vmcore (see pymakedumpfile-capture.sh). It runs as the
# systemd service pymakedumpfile-capture.service when the image has dracut's systemd module,
# else from dracut's pre-mount hook.

_pmd_setting() { # _pmd_setting NAME DEFAULT: dracut variable pymakedumpfile_NAME, else env PYMAKEDUMPFILE_NAME
    local v u
    v="pymakedumpfile_$1"
    u="PYMAKEDUMPFILE_${1^^}"
    if [[ -n ${!v-} ]]; then
        printf '%s\n' "${!v}"
    elif [[ -n ${!u-} ]]; then
        printf '%s\n' "${!u}"
    else
        printf '%s\n' "$2"
    fi
}

_pmd_python() {
    local py
    py=$(_pmd_setting python python3)
    command -v "$py" 2> /dev/null
}

check() {
    local py
    py=$(_pmd_python) || {
        derror "pymakedumpfile: no Python interpreter ($(_pmd_setting python python3))"
        return 1
    }
    if ! PYTHONPATH=$(_pmd_setting pythonpath "") "$py" -c 'import pymakedumpfile.cli' 2> /dev/null; then
        derror "pymakedumpfile: $py cannot import pymakedumpfile (set pymakedumpfile_pythonpath)"
        return 1
    fi
    # only when asked for (--add pymakedumpfile, add_dracutmodules+=, or a depending module)
    return 255
}

depends() {
    return 0
}

install() {
    local py stage site how src dst interp files
    py=$(_pmd_python) || {
        derror "pymakedumpfile: no Python interpreter"
        return 1
    }
    site=/usr/lib/pymakedumpfile
    stage=$(mktemp -d "${DRACUT_TMPDIR:-/tmp}/pymakedumpfile.XXXXXX") || return 1
    files=$stage.files
    if ! PYMAKEDUMPFILE_PYTHONPATH=$(_pmd_setting pythonpath "") "$py" -S -E "$moddir/pymakedumpfile-files.py" \
        "$moddir/python-modules.list" "$stage" "$(_pmd_setting codecs "zstd snappy")" "$site" \
        "$(_pmd_setting sources no)" "$(_pmd_setting arches "")" > "$files"; then
        derror "pymakedumpfile: cannot collect the files to install"
        rm -rf "$stage" "$files"
        return 1
    fi
    while IFS=$'\t' read -r how src dst; do
        case $how in
            bin)
                inst_binary "$src" "$dst" || return 1
                interp=$dst
                ;;
            lib) inst_library "$src" "$dst" || return 1 ;;
            dir) inst_dir "$dst" ;;
            file) inst_simple "$src" "$dst" || return 1 ;;
        esac
    done < "$files"
    rm -rf "$stage" "$files"
    [[ -n $interp ]] || return 1

    # the command: the package with -S (no site: only what is installed here is imported);
    # written directly so it replaces a console script another module (kdumpbase's
    # dracut_install of core_collector) may have copied there
    mkdir -p "$initdir/usr/bin"
    cat > "$initdir/usr/bin/pymakedumpfile" << EOF
#!/bin/sh
# pymakedumpfile in the crash kernel (dracut module 99pymakedumpfile)
exec $interp -S -E -X utf8 -c 'import sys; sys.path.insert(0, "$site"); sys.argv[0] = "pymakedumpfile"; from pymakedumpfile.__main__ import entry; entry()' "\$@"
EOF
    chmod 0755 "$initdir/usr/bin/pymakedumpfile"
    # where kdump's dracut_install of "core_collector pymakedumpfile" would put the host's script
    src=$(command -v pymakedumpfile 2> /dev/null)
    if [[ -n $src && $src != /usr/bin/pymakedumpfile && $src == /* ]]; then
        mkdir -p "$initdir${src%/*}"
        ln -sfn /usr/bin/pymakedumpfile "$initdir$src"
    fi

    inst_script "$moddir/pymakedumpfile-capture.sh" /usr/sbin/pymakedumpfile-capture
    inst_multiple sh mount umount sync mv mkdir cat date dmesg sleep rm tee tr awk sed
    # reboot/poweroff are not installed (on systemd hosts they are systemctl, 1.3 MB): the
    # script falls back to sysrq when the image has none
    inst_multiple -o blkid findfs modprobe vmcore-dmesg
    src=$(_pmd_setting capture_conf /etc/pymakedumpfile-capture.conf)
    [[ -f $src ]] && inst_simple "$src" /etc/pymakedumpfile-capture.conf
    if dracut_module_included systemd; then
        # systemd is the init: the capture is a service of initrd.target (a missing root= is
        # systemd's case, not an error, so the cmdline hook is not needed)
        inst_simple "$moddir/pymakedumpfile-capture.service" \
            "$systemdsystemunitdir/pymakedumpfile-capture.service" || return 1
        mkdir -p "$initdir$systemdsystemunitdir/initrd.target.wants"
        ln -sfn ../pymakedumpfile-capture.service \
            "$initdir$systemdsystemunitdir/initrd.target.wants/pymakedumpfile-capture.service"
    else
        inst_hook cmdline 95 "$moddir/pymakedumpfile-cmdline.sh"
        inst_hook pre-mount 90 "$moddir/pymakedumpfile-hook.sh"
    fi
    return 0
}
