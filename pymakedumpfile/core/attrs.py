"""The attribute table: every key of a context's attribute tree, its type and its meaning.

The tree is how the layers talk: a reader states what it learnt about a dump, the filter and
the writers read it and set what the output will be.  A key is declared here once, with the
Python type its value must have (checked on every assignment) and what it means; ``{n}`` in
a key stands for a number (a CPU, a file of a split set) and ``{name}`` for any name (a
VMCOREINFO line, a utsname field).  ``tests/unit/test_attrs.py`` checks that every key the
package uses is declared, that every declared key is set by some part of the package (or is
marked as the caller's), and that the readers give the types declared.
"""

from __future__ import annotations

import re

from .hints import Any, Union
from .record import dataclass

TypeSpec = Union[type, "tuple[type, ...]", str]  # a str names a protocol checked by attribute


@dataclass(frozen=True)
class AttrDef:
    key: str  # dotted, with {n} / {name} placeholders
    type: TypeSpec
    meaning: str
    set_by: str  # "input", "filter", "tools", or "caller" (an API user may set it; we only read it)


_D = AttrDef
ATTRIBUTES: tuple[AttrDef, ...] = (
    # the file
    _D("file.format", str, 'the dump format: "elf", "kdump" (a flattened stream reads as the format it holds)',
       "input"),
    _D("file.description", str, "one line describing the format and its variant, for --info", "input"),
    _D("file.compression", str, 'the page codec of a kdump file: "none", "zlib", "lzo", "snappy", "zstd"',
       "input"),
    _D("file.incomplete", bool, "the file says it is incomplete (a dump cut short by -L or a full disk)", "input"),
    _D("file.notes", bytes, "the ELF notes of the dump (PRSTATUS of each CPU, VMCOREINFO ...), as stored", "input"),
    _D("file.pagemap", "pagemap", "the pfns this file holds; in a write context, those the output will hold",
       "input"),
    _D("file.eraseinfo.raw", bytes, "a kdump file's erase information (what filtering erased), as stored", "input"),
    _D("file.set.number", int, "the number of files of a split set (absent for one file)", "input"),
    _D("file.set.{n}.name", str, "the path of file n of a split set", "input"),
    _D("file.set.{n}.start_pfn", int, "the first pfn file n of a split set covers", "input"),
    _D("file.set.{n}.end_pfn", int, "the pfn after the last one file n of a split set covers", "input"),
    _D("image.ranges", tuple, "a memory image's ranges of physical memory, (first byte, byte after)", "input"),
    _D("image.vmcoreinfo_at", int, "where in a memory image's memory the VMCOREINFO used was found", "input"),
    _D("lime.avml", bool, "the LiME image is AVML's (snappy-compressed ranges)", "input"),
    _D("xen.type", str, "the Xen dump's kind: domain (a domain's memory) or hypervisor (a host's crash)", "input"),
    _D("xen.hvm", bool, "the Xen domain is HVM or auto-translated (pages by pfn), not paravirtual", "input"),
    _D("xen.version", str, "the Xen version that wrote the dump (a domain's) or crashed (a host's)", "input"),
    _D("xen.phys_start", int, "a Xen host's dump: the machine address of the hypervisor's image", "input"),
    _D("xen.vcpus", int, "the Xen domain's virtual CPUs", "input"),
    _D("s390dump.version", int, "the S390DUMP header's version", "input"),
    _D("s390dump.cpus", int, "the CPUs an S390DUMP header counts", "input"),
    _D("vmdump.cpus", int, "the CPUs whose registers a z/VM VMDUMP holds", "input"),
    _D("lkcd.version", int, "the LKCD dump's format version (1-10)", "input"),
    _D("lkcd.compression", str, "how the LKCD dump compresses pages: none, rle or gzip (zlib)", "input"),
    _D("lkcd.dump_level", int, "the LKCD header's dump level (LKCD's own meaning, not makedumpfile's)", "input"),
    _D("sadump.header_version", int, "the SADUMP dump header's version", "input"),
    _D("sadump.cpus", int, "the CPUs the SADUMP header counts", "input"),
    _D("sadump.disks", int, "the disks of a SADUMP disk set (absent: one partition)", "input"),
    _D("file.set.missing", list, "the pfn ranges (start, end) of a split set that no file given covers "
       "(they read as excluded)", "input"),
    # the machine's memory
    _D("memory.pagemap", "pagemap", "the pfns of RAM the crashed machine had (holes excluded)", "input"),
    _D("max_pfn", int, "one more than the highest pfn of the machine", "input"),
    _D("arch.name", str, 'the architecture, as translate/ registers it ("x86_64" ...)', "input"),
    _D("arch.byte_order", str, '"little" or "big": the byte order of the file and the kernel\'s memory', "input"),
    _D("arch.ptr_size", int, "bytes in a kernel pointer", "input"),
    _D("arch.page_size", int, "bytes in a page", "input"),
    _D("arch.page_shift", int, "log2 of arch.page_size", "input"),
    _D("cpu.number", int, "the number of CPUs with a PRSTATUS note", "input"),
    _D("cpu.{n}.PRSTATUS", bytes, "the PRSTATUS note of CPU n (its registers at the crash)", "input"),
    # the container formats
    _D("elf.class", int, "32 or 64: the ELF class of an ELF dump", "input"),
    _D("elf.machine", int, "e_machine of an ELF dump", "input"),
    _D("elf.loads", tuple, "(paddr, vaddr, memsz) of each PT_LOAD of an ELF dump, in file order", "input"),
    _D("kdump.header_version", int, "the kdump header's version", "input"),
    _D("kdump.signature", str, 'the kdump header\'s signature ("KDUMP   " or "DISKDUMP")', "input"),
    _D("kdump.layout", str, "the header layout the file was read with (the writer's word size and alignment)",
       "input"),
    _D("kdump.status", int, "the kdump header's status word (compression flags)", "input"),
    _D("kdump.dump_level", int, "the dump level the kdump file was written at", "input"),
    _D("kdump.split", int, "1 if this kdump file is one part of a split set", "input"),
    _D("kdump.start_pfn", int, "the first pfn this kdump file covers", "input"),
    _D("kdump.end_pfn", int, "the pfn after the last one this kdump file covers", "input"),
    _D("kdump.num_dumpable", int, "the pages this kdump file (or set) holds", "input"),
    # the kernel
    _D("linux.phys_base", int, "the physical address the kernel image was loaded at, minus its link address",
       "input"),
    _D("linux.crashtime", int, "the time of the crash (seconds since the epoch)", "input"),
    _D("linux.page_offset", int, "the direct-map base to give ELF segments made from a kdump input (found from "
       "VMCOREINFO when not set)", "caller"),
    _D("linux.uts.{name}", str, "a field of the crashed kernel's utsname (sysname, release, machine ...)", "input"),
    _D("linux.vmcoreinfo.raw", bytes, "the VMCOREINFO text, as stored", "input"),
    _D("linux.vmcoreinfo.lines.{name}", str, "the value of a VMCOREINFO line NAME=value, as text", "input"),
    _D("linux.vmcoreinfo.SYMBOL.{name}", int, "VMCOREINFO's SYMBOL(name): a kernel virtual address", "input"),
    _D("linux.vmcoreinfo.OFFSET.{name}", int, "VMCOREINFO's OFFSET(struct.member), in bytes", "input"),
    _D("linux.vmcoreinfo.SIZE.{name}", int, "VMCOREINFO's SIZE(type), in bytes", "input"),
    _D("linux.vmcoreinfo.LENGTH.{name}", int, "VMCOREINFO's LENGTH(array): its number of elements", "input"),
    _D("linux.vmcoreinfo.NUMBER.{name}", int, "VMCOREINFO's NUMBER(name): a constant of the kernel", "input"),
    # what the filter decided (write contexts)
    _D("filter.dump_level", int, "the dump level the pages were filtered at", "filter"),
    _D("filter.erase", "EraseSet", "what --config erases, and (once the pages are written) what was erased",
       "filter"),
    _D("filter.vmemmap_excluded", int, "-e: the vmemmap pages left out because they describe only pages left out",
       "filter"),
    _D("filter.stats", "FilterStats", "pages excluded per category, warnings, pages unreadable while filtering",
       "filter"),
)

BY_KEY: dict[str, AttrDef] = {d.key: d for d in ATTRIBUTES if "{" not in d.key}
_PATTERNS: list[tuple[re.Pattern[str], AttrDef]] = [
    (re.compile(re.escape(d.key).replace(r"\{n\}", r"\d+").replace(r"\{name\}", r".+") + r"\Z"), d)
    for d in ATTRIBUTES if "{" in d.key
]


def lookup(key: str) -> AttrDef | None:
    """The declaration of ``key`` (an exact key or one matching a pattern), or None."""
    d = BY_KEY.get(key)
    if d is not None:
        return d
    for pat, d in _PATTERNS:
        if pat.match(key):
            return d
    return None


def check(key: str, value: Any) -> None:
    """Raise TypeError if ``value`` is not of the type declared for ``key`` (undeclared keys
    are an API user's own and are not checked)."""
    d = lookup(key)
    if d is None:
        return
    want = d.type
    if want == "pagemap":
        ok = hasattr(value, "runs") and hasattr(value, "count")
    elif want == "EraseSet":
        ok = hasattr(value, "patch") and hasattr(value, "eraseinfo")
    elif want == "FilterStats":
        ok = hasattr(value, "excluded") and hasattr(value, "warnings")
    else:
        assert not isinstance(want, str)
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if not ok:
        raise TypeError(f"attribute {key} must be {want if isinstance(want, str) else _name(want)}, "
                        f"not {type(value).__name__}")


def _name(t: type | tuple[type, ...]) -> str:
    return " or ".join(x.__name__ for x in t) if isinstance(t, tuple) else t.__name__
