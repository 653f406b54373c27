#!/usr/bin/python3
"""Read every page of a dump with libkdumpfile (an independent reader) and
print one line per pfn range: digests of the pages it holds.

Runs under Debian's /usr/bin/python3 (python3-libkdumpfile).  Output (JSON on
stdout): {"max_pfn": N, "vmcoreinfo_keys": [...], "release": "...",
"pages": {pfn: blake2b-8 hex}} for each pfn in the given ranges whose read
succeeds; excluded pages are absent.  usage: lkdf_pages.py DUMP [--max-pfn N]"""
import hashlib
import json
import sys

import kdumpfile

args = sys.argv[1:]
max_pfn = None
if "--max-pfn" in args:
    i = args.index("--max-pfn")
    max_pfn = int(args[i + 1])
    del args[i : i + 2]
if len(args) != 1:
    sys.exit("lkdf_pages.py: one dump file at a time")
k = kdumpfile.kdumpfile(args[0])
if "name" not in k.attr["arch"]:
    k.attr["arch.name"] = "x86_64"
k.attr["addrxlat.ostype"] = "linux"
ps = k.attr["arch.page_size"]
mp = max_pfn if max_pfn is not None else k.attr["max_pfn"]
pages = {}
for pfn in range(mp):
    try:
        data = k.read(kdumpfile.KDUMP_KPHYSADDR, pfn * ps, ps)
    except Exception:  # noqa: BLE001 - NoData (excluded) and friends
        continue
    pages[pfn] = hashlib.blake2b(bytes(data), digest_size=8).hexdigest()
vi = k.attr["linux.vmcoreinfo.lines"]
json.dump(
    {
        "max_pfn": k.attr["max_pfn"],
        "format": k.attr["file.format"],
        "release": k.attr["linux.uts.release"],
        "vmcoreinfo_keys": sorted(vi.keys()),
        "pages": pages,
    },
    sys.stdout,
)
