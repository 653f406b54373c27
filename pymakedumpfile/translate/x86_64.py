"""x86_64: kernel image mapping.

Source: Linux ``arch/x86/include/asm/page_64_types.h``: the kernel image is
mapped at ``__START_KERNEL_map`` (0xffffffff80000000) plus ``phys_base``.
"""

from __future__ import annotations

from . import ArchInfo

START_KERNEL_MAP = 0xFFFFFFFF80000000

X86_64 = ArchInfo(
    name="x86_64",
    machines=("x86_64", "amd64"),
    ptr_size=8,
    default_page_size=4096,
    byte_order="little",
    kernel_text_base=START_KERNEL_MAP,
)
