"""-g VMCOREINFO -x VMLINUX: the VMCOREINFO a kernel would print, made from its debug image and
written to a file that -i (ours or makedumpfile's) reads back."""

from __future__ import annotations

from ..input.dwarf import generate_vmcoreinfo
from ..output.target import write_file


def write_vmcoreinfo(vmlinux: str, path: str) -> int:
    """Write the VMCOREINFO of ``vmlinux`` to ``path``; returns the bytes written.  As
    makedumpfile's -g, an existing file is overwritten without -f; unlike it, the file is
    written only once the VMCOREINFO is made (an image that cannot be read leaves it as it
    was), and never through a symbolic link."""
    data = generate_vmcoreinfo(vmlinux)
    return write_file(path, data, force=True)
