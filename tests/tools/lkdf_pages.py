#!/usr/bin/python3
"""Read every page of a dump with libkdumpfile (an independent reader) and
print one line per pfn range: digests of the pages it holds.

Runs under Debian's /usr/bin/python3 (python3-libkdumpfile).  Output (JSON on
stdout): {"max_pfn": N, "vmcoreinfo_keys": [...], "release": "...",
"pages": {pfn: blake2b-8 hex}} for each pfn in the given ranges whose read
succeeds; excluded pages are absent.  usage: lkdf_pages.py DUMP [--max-pfn N] [--machphys]
(machine-physical reads, for a dump whose kernel libkdumpfile cannot set up); or the parts of a split set with
--max-pfn N (4 KiB pages)."""
import hashlib
import json
import sys

import kdumpfile

args = sys.argv[1:]
max_pfn = None
machphys = "--machphys" in args  # read machine-physical addresses (no kernel-physical mapping set up)
if machphys:
    args.remove("--machphys")
if "--max-pfn" in args:
    i = args.index("--max-pfn")
    max_pfn = int(args[i + 1])
    del args[i : i + 2]
if len(args) > 1:
    # a split set: the legacy binding opens one file, so open the set with
    # kdump_open_fdset through ctypes and read machine-physical addresses
    import ctypes
    import os

    if max_pfn is None:
        sys.exit("lkdf_pages.py: a split set needs --max-pfn")
    lib = ctypes.CDLL("libkdumpfile.so.10")
    lib.kdump_new.restype = ctypes.c_void_p
    lib.kdump_get_err.restype = ctypes.c_char_p
    lib.kdump_get_err.argtypes = [ctypes.c_void_p]
    lib.kdump_open_fdset.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.POINTER(ctypes.c_int)]
    lib.kdump_read.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p,
                               ctypes.POINTER(ctypes.c_size_t)]
    ctx = lib.kdump_new()
    fds = [os.open(p, os.O_RDONLY) for p in args]
    if lib.kdump_open_fdset(ctx, len(fds), (ctypes.c_int * len(fds))(*fds)):
        sys.exit("libkdumpfile: " + lib.kdump_get_err(ctx).decode())
    pages = {}
    buf = ctypes.create_string_buffer(4096)
    for pfn in range(max_pfn):
        n = ctypes.c_size_t(4096)
        if lib.kdump_read(ctx, kdumpfile.KDUMP_MACHPHYSADDR, pfn * 4096, buf, ctypes.byref(n)) == 0:
            pages[pfn] = hashlib.blake2b(buf.raw[: n.value], digest_size=8).hexdigest()
    json.dump({"max_pfn": max_pfn, "format": "set", "release": "", "vmcoreinfo_keys": [], "pages": pages},
              sys.stdout)
    sys.exit(0)
k = kdumpfile.kdumpfile(args[0])
if "name" not in k.attr["arch"]:
    k.attr["arch.name"] = "x86_64"
k.attr["addrxlat.ostype"] = "linux"
ps = k.attr["arch.page_size"]
mp = max_pfn if max_pfn is not None else k.attr["max_pfn"]
pages = {}
for pfn in range(mp):
    try:
        data = k.read(kdumpfile.KDUMP_MACHPHYSADDR if machphys else kdumpfile.KDUMP_KPHYSADDR, pfn * ps, ps)
    except Exception:  # noqa: BLE001 - NoData (excluded) and friends
        continue
    pages[pfn] = hashlib.blake2b(bytes(data), digest_size=8).hexdigest()
try:  # a memory image (a Xen domain dump) carries no VMCOREINFO libkdumpfile finds
    keys = sorted(k.attr["linux.vmcoreinfo.lines"].keys())
    release = k.attr["linux.uts.release"]
except KeyError:
    keys, release = [], ""
json.dump(
    {
        "max_pfn": k.attr["max_pfn"],
        "format": k.attr["file.format"],
        "release": release,
        "vmcoreinfo_keys": keys,
        "pages": pages,
    },
    sys.stdout,
)
