"""Builds the optional accel extension; a failed build falls back to pure Python
(PYMAKEDUMPFILE_REQUIRE_ACCEL=1 makes it fatal, as CI sets it)."""

import os
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

SOURCES = ["accel/module.c", "accel/lzo.c", "accel/pages.c", "accel/classify.c", "accel/zpages.c", "accel/dwarf.c",
           "accel/unpages.c"]
CFLAGS = ["-O2", "-std=c99", "-fvisibility=hidden", "-Wall", "-Wextra"]
if os.environ.get("PYMAKEDUMPFILE_WERROR") == "1":
    CFLAGS.append("-Werror")


def have(header):
    """A codec's header (Debian: zlib1g-dev, libzstd-dev, libdeflate-dev) for its batch kernel;
    without it the codec compresses page by page through its Python module."""
    dirs = ["/usr/include", "/usr/local/include", sysconfig.get_config_var("INCLUDEDIR") or ""]
    return any(d and os.path.exists(os.path.join(d, header)) for d in dirs)


ZLIB = have("zlib.h")
ZSTD = have("zstd.h")
LIBDEFLATE = have("libdeflate.h")  # Debian: libdeflate-dev; -c compresses 2.5x faster with it
# linked in statically when the archive is there: only its compressor comes along (60 KB, not
# the 150 KB shared library in the crash kernel's initramfs)
LIBDEFLATE_A = next((p for p in ("/usr/lib/x86_64-linux-gnu/libdeflate.a", "/usr/lib64/libdeflate.a",
                                 "/usr/lib/libdeflate.a") if LIBDEFLATE and os.path.exists(p)), None)


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as e:  # noqa: BLE001
            self._skip(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:  # noqa: BLE001
            self._skip(e)

    def _skip(self, e):
        if os.environ.get("PYMAKEDUMPFILE_REQUIRE_ACCEL") == "1":
            raise e
        print(f"warning: accel extension not built ({e}); using the pure-Python twin", file=sys.stderr)


class FreshBuildPy(build_py):
    """pip builds in the source tree's build/: a module renamed or moved since the last build
    would stay in build/lib and go into the wheel beside its new self (a stale codecs.py next to
    codecs/). The package's part of build/lib is emptied first."""

    def run(self):
        import shutil

        shutil.rmtree(os.path.join(self.build_lib, "pymakedumpfile"), ignore_errors=True)
        super().run()


setup(
    ext_modules=[
        Extension(
            "pymakedumpfile.accel._accel",
            sources=SOURCES,
            depends=["accel/accel.h"],
            include_dirs=["accel"],
            extra_compile_args=CFLAGS,
            define_macros=[("PMD_HAVE_ZLIB", "1")] * ZLIB + [("PMD_HAVE_ZSTD", "1")] * ZSTD
            + [("PMD_HAVE_LIBDEFLATE", "1")] * LIBDEFLATE,
            libraries=["z"] * ZLIB + ["zstd"] * ZSTD + ["deflate"] * (LIBDEFLATE and not LIBDEFLATE_A),
            extra_objects=[LIBDEFLATE_A] if LIBDEFLATE_A else [],
            extra_link_args=["-Wl,--gc-sections", "-Wl,--exclude-libs,ALL"] if LIBDEFLATE_A else [],
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt, "build_py": FreshBuildPy},
)
