"""-g VMCOREINFO -x VMLINUX: the VMCOREINFO a kernel would print, made from its debug image and
written to a file that -i (ours or makedumpfile's) reads back."""

from __future__ import annotations

from ..input.dwarf import generate_vmcoreinfo
from ..output.target import check_target, write_file


def write_vmcoreinfo(vmlinux: str, path: str, *, force: bool = False) -> int:
    """Write the VMCOREINFO of ``vmlinux`` to ``path`` (refused before any work if ``path``
    exists and ``force`` is not set); returns the bytes written."""
    check_target(path, force)
    return write_file(path, generate_vmcoreinfo(vmlinux), force=force)
