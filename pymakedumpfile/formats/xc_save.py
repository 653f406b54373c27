"""Xen domain save images in the legacy format ("LinuxGuestRecord", ``xm save`` of a 64-bit
paravirtual guest).  Layout: docs/images.md.
"""

from __future__ import annotations

SIGNATURE = b"LinuxGuestRecord"
PAGE_SIZE = 4096
MAX_BATCH = 1024  # entries in one batch at most
VERIFY = -1  # a batch count: the pages that follow are sent again, to be verified
# a batch entry: the pfn, with the page's type in bits 28-31 (xc_save's LTAB mask)
TYPE_MASK = 0xF << 28
TYPE_NO_DATA = (0xF << 28, 0xE << 28, 0xD << 28)  # invalid (XTAB), allocate only, broken: no page follows
