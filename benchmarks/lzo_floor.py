#!/usr/bin/env python3
"""The LZO floor of a capture: our LZO1X-1 compressor (accel/lzo.c) and liblzo2's lzo1x_1_compress
on the same pages, one page at a time as both tools compress them, in one C loop (no Python).

A one-CPU ``-l -d 31`` capture cannot take less than its compression of the pages it keeps;
this shows how much of makedumpfile's (and our) time that is.

usage: benchmarks/lzo_floor.py DUMP [--rounds 5]

DUMP is any dump we read (a -l -d 31 file of the rig's 4 GiB guest gives the pages such a capture
keeps).  Needs gcc and liblzo2 (Debian: liblzo2-2; its header is not needed).  Prints the median
time of each and the bytes the pages take (a page that does not shrink counts whole, as stored).
"""

from __future__ import annotations

import argparse
import ctypes.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include "accel.h"
/* liblzo2's entry points, declared here (the -dev package is not needed) */
int lzo1x_1_compress(const unsigned char *src, unsigned long n, unsigned char *dst, unsigned long *dst_len,
                     void *wrkmem);
int __lzo_init_v2(unsigned, int, int, int, int, int, int, int, int, int);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    long n, pages, rounds = atol(argv[2]);
    unsigned char *buf, out[8192];
    void *w_lzo = malloc(1 << 17), *w_ours = malloc(PMD_LZO1X_1_MEM);
    if (!f) return 2;
    fseek(f, 0, SEEK_END); n = ftell(f); fseek(f, 0, SEEK_SET);
    buf = malloc(n);
    if (fread(buf, 1, n, f) != (size_t)n) return 2;
    pages = n / 4096;
    __lzo_init_v2(2, sizeof(short), sizeof(int), sizeof(long), sizeof(uint32_t), sizeof(unsigned long),
                  sizeof(char *), sizeof(void *), sizeof(void *), -1);
    pmd_lzo1x_1_init(w_ours);
    for (long r = 0; r < rounds; r++) {
        unsigned long total = 0; double t = now();
        for (long i = 0; i < pages; i++) {
            unsigned long len = sizeof out;
            lzo1x_1_compress(buf + i * 4096, 4096, out, &len, w_lzo);
            total += len < 4096 ? len : 4096;
        }
        printf("liblzo2 %.4f %lu\n", now() - t, total);
        total = 0; t = now();
        for (long i = 0; i < pages; i++) {
            size_t len = sizeof out;
            pmd_lzo1x_1_compress(buf + i * 4096, 4096, out, &len, w_ours);
            total += len < 4096 ? len : 4096;
        }
        printf("ours %.4f %lu\n", now() - t, total);
    }
    return 0;
}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    lib = ctypes.util.find_library("lzo2")
    so = next((p for p in ("/usr/lib/x86_64-linux-gnu/liblzo2.so.2", "/usr/lib64/liblzo2.so.2") if os.path.exists(p)),
              None)
    if lib is None and so is None:
        sys.exit("lzo_floor: liblzo2 is not installed (Debian: apt install liblzo2-2)")
    sys.path.insert(0, str(REPO))
    from pymakedumpfile import open_dump

    with tempfile.TemporaryDirectory() as d:
        raw, exe, src = Path(d) / "pages", Path(d) / "harness", Path(d) / "harness.c"
        with open_dump(a.dump) as ctx, open(raw, "wb") as f:
            if ctx.page_size != 4096:
                sys.exit("lzo_floor: 4 KiB pages only")
            for first, end in ctx.pagemap.runs():
                for pfn in range(first, end):
                    f.write(ctx.read_pfn(pfn))
        src.write_text(HARNESS)
        subprocess.run(["gcc", "-O2", f"-I{REPO / 'accel'}", str(src), str(REPO / "accel" / "lzo.c"), "-o", str(exe),
                        so or f"-l:{lib}"], check=True)  # -l:FILE: the runtime library itself, no -dev link
        out = subprocess.run([str(exe), str(raw), str(a.rounds)], check=True, capture_output=True, text=True).stdout
        pages = raw.stat().st_size // 4096
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        who, t, size = line.split()
        times.setdefault(who, []).append(float(t))
        sizes[who] = int(size)
    print(f"{pages} pages ({pages * 4096 / 1e6:.0f} MB), median of {a.rounds}:")
    for who in ("liblzo2", "ours"):
        med = sorted(times[who])[len(times[who]) // 2]
        print(f"  {who:8} {med:.3f} s  {pages * 4096 / med / 1e9:.2f} GB/s  {sizes[who]:,} bytes stored")


if __name__ == "__main__":
    main()
