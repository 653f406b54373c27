#!/bin/bash
# Run pymakedumpfile's test suite on a fresh Debian machine (as root, or with sudo available):
#  1. Debian packages the tests use (compiler, makedumpfile, crash, python3-libkdumpfile, QEMU for the rig)
#  2. the real dumps, made once by the shared rig (../shared/vmcores) and cached in ~/.cache/pymakedumpfile/rig
#  3. a virtualenv (.venv) with the package installed editable, the accel module compiled
#  4. the static checks (tests/static-checks.sh: ruff, mypy and vermin to Python 3.9's rules, file sizes)
#  5. pytest, with the compiled accel module; the unit tests again under Python 3.9 when there is
#     one; then the unit and core tests with the pure-Python twin
# Extra arguments go to pytest.  PMD_SKIP_APT=1 skips step 1, PMD_SKIP_RIG=1 step 2.
# PMD_VM_TESTS=1 adds the crash-kernel end-to-end test (tests/vm: dracut, QEMU, a real panic; minutes).
# PMD_DEB_TESTS=1 adds the Debian package's (tests/pkg: dpkg-buildpackage, lintian, and an install
# into a clean Debian 12 chroot made by debootstrap); PMD_SERVICE_TESTS=1 a Debian 12 guest whose
# kdump-tools captures a real panic with the package (tests/pkg/test_kdump_tools.py; minutes).
set -euo pipefail
cd "$(dirname "$0")"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
if [ "${PMD_SKIP_APT:-0}" != 1 ]; then
	PKGS="gcc libc6-dev python3-dev zlib1g-dev libzstd-dev libdeflate-dev python3-venv binutils makedumpfile crash python3-libkdumpfile liblzo2-2 gdb gdb-multiarch
	      qemu-system-x86 qemu-system-arm qemu-system-misc qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	      gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-system-ppc gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross gcc-i686-linux-gnu libc6-dev-i386-cross
	      gcc-arm-linux-gnueabihf libc6-dev-armhf-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross busybox-static kexec-tools zstd xz-utils cpio e2fsprogs time file kmod xxd"
	[ "${PMD_VM_TESTS:-0}" = 1 ] && PKGS="$PKGS dracut-core"
	{ [ "${PMD_DEB_TESTS:-0}" = 1 ] || [ "${PMD_SERVICE_TESTS:-0}" = 1 ]; } &&
		PKGS="$PKGS debhelper dh-python pybuild-plugin-pyproject python3-all-dev lintian debootstrap fakeroot"
	missing=$(for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
	if [ -n "$missing" ]; then
		$SUDO apt-get update -qq
		# shellcheck disable=SC2086
		$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
fi
[ "${PMD_SKIP_RIG:-0}" = 1 ] || SKIP_APT=1 tests/rig/make-dumps.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
PYMAKEDUMPFILE_REQUIRE_ACCEL=1 .venv/bin/python -m pip install -q -e '.[test]'
tests/static-checks.sh
.venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"
# the unit tests under Python 3.9 (RHEL 9's crash kernel), where one is installed (pyenv's, or
# PMD_PY39=PATH); the static checks above hold the code to 3.9's rules everywhere
PY39=${PMD_PY39:-}
if [ -z "$PY39" ]; then # the first python3.9 that runs (a pyenv shim may name one it will not run)
	for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9 /usr/bin/python3.9 /usr/local/bin/python3.9; do
		if [ -x "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 9))' 2> /dev/null; then
			PY39=$c
			break
		fi
	done
fi
if [ -n "$PY39" ]; then
	[ -x .venv39/bin/python ] || "$PY39" -m venv .venv39
	PYMAKEDUMPFILE_REQUIRE_ACCEL=1 .venv39/bin/python -m pip install -q -e '.[test]'
	PMD_VM_TESTS=0 .venv39/bin/python -m pytest -q -p no:cacheprovider tests/unit "$@"
else
	echo "run-tests: no Python 3.9 here (set PMD_PY39): the unit tests ran on $(.venv/bin/python -V) only"
fi
# the pure-Python twin of every accel kernel, on the unit tests and the real core and level tests
PYMAKEDUMPFILE_ACCEL=python PMD_VM_TESTS=0 .venv/bin/python -m pytest -q -p no:cacheprovider tests/unit \
	tests/real/test_core_real.py tests/real/test_levels_real.py tests/real/test_s390x_real.py::test_levels_equal_makedumpfile \
	tests/real/test_ppc64_real.py::test_levels_equal_makedumpfile tests/real/test_ia32_real.py::test_levels_equal_makedumpfile \
	tests/real/test_arm_real.py::test_levels_equal_makedumpfile "$@"
