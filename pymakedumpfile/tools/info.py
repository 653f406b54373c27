"""A report on a dump: what it is, what it holds and what was left out.

Per-category counts come from classifying every pfn's ``struct page``,
which any dump keeps (kernel data is never excluded), so they describe the
whole memory, stored pages and excluded ones alike.
"""

from __future__ import annotations

from ..core.context import Context
from ..core.errors import DumpError
from ..core.hints import Any


def dump_info(ctx: Context, classify: bool = True) -> dict[str, Any]:
    """A JSON-ready description of the dump behind ``ctx``."""
    a = ctx.attr
    mem = a["memory.pagemap"]
    stored = ctx.reader.pagemap
    info: dict[str, Any] = {
        "file": ctx.name,
        "format": a["file.format"],
        "description": a.get("file.description"),
        "incomplete": bool(a.get("file.incomplete", False)),
        "arch": a.get("arch.name"),
        "byte_order": a.get("arch.byte_order"),
        "ptr_size": a.get("arch.ptr_size"),
        "page_size": a.get("arch.page_size"),
        "max_pfn": a["max_pfn"],
        "kernel": {k: a.get(f"linux.uts.{k}") for k in ("sysname", "nodename", "release", "version", "machine")},
        "crashtime": a.get("linux.crashtime"),
        "cpus": a.get("cpu.number"),
        "phys_base": a.get("linux.phys_base"),
        "pages": {"ram": mem.count(), "stored": stored.count()},
    }
    info["pages"]["excluded"] = info["pages"]["ram"] - info["pages"]["stored"]
    if a["file.format"] == "kdump":
        info["kdump"] = {
            k: a.get(f"kdump.{k}")
            for k in ("signature", "header_version", "layout", "status", "dump_level", "split", "start_pfn", "end_pfn",
                      "num_dumpable")
        }
        info["compression"] = a.get("file.compression")
    if a.get("file.set.number"):
        info["split_set"] = [
            {"file": a[f"file.set.{i}.name"], "start_pfn": a[f"file.set.{i}.start_pfn"],
             "end_pfn": a[f"file.set.{i}.end_pfn"]}
            for i in range(a["file.set.number"])
        ]
        info["split_missing"] = [list(r) for r in a.get("file.set.missing", ())]
    if a["file.format"] == "elf":
        info["elf"] = {"class": a.get("elf.class"), "loads": len(a.get("elf.loads", ()))}
    if "image.ranges" in a:
        info["image"] = {"ranges": [list(r) for r in a["image.ranges"]],
                         "vmcoreinfo_at": a.get("image.vmcoreinfo_at")}
    if "xen.type" in a:
        info["xen"] = {k: a.get(f"xen.{k}") for k in ("type", "hvm", "version", "vcpus", "phys_start")}
        if a["xen.type"] == "hypervisor":
            info["xen"]["domains"] = xen_domains(ctx)
    regs = registers(ctx)
    if regs:
        info["registers"] = regs
    if classify:
        info["categories"] = _categories(ctx)
    return info




def xen_domains(ctx: Context) -> list[int] | None:
    """The domain ids of a Xen host's dump (domain_list, then dom_xen and dom_io); None when
    they cannot be read (no VMCOREINFO_XEN, Xen 3, ...)."""
    from ..filter.xen import XenHost

    try:
        return [did for _, did in XenHost(ctx).domains]
    except DumpError:
        return None


def registers(ctx: Context) -> list[dict[str, Any]]:
    """Each CPU's registers at the crash, from its PRSTATUS note (architectures whose register
    set translate/ names, of the dump's pointer size); a saved return address also without its pointer
    authentication code (``lr``, arm64)."""
    from ..translate import get_arch

    a = ctx.attr
    arch = get_arch(a.get("arch.name", ""))
    if arch is None or a.get("arch.ptr_size", arch.ptr_size) != arch.ptr_size:
        return []
    out = []
    for i in range(int(a.get("cpu.number", 0))):
        got = arch.prstatus(a.get(f"cpu.{i}.PRSTATUS") or b"", a.get("arch.byte_order") or None)
        if got is None:
            continue
        pid, regs = got
        cpu: dict[str, Any] = {"cpu": i, "pid": pid, "regs": regs}
        if arch.strip_pointer is not None and "x30" in regs:
            cpu["lr"] = arch.strip_pointer(regs["x30"], ctx.reader.vmcoreinfo)
        out.append(cpu)
    return out


def _categories(ctx: Context) -> dict[str, Any]:
    """Pages of RAM per makedumpfile category, and how many of each are stored.

    One pass with every category's level bit (2|4|8|16): each page counts in the first
    category that takes it, in makedumpfile's order, as makedumpfile's own report of a
    ``-d 31`` run counts them."""
    from ..filter import make_write_context

    try:
        st = make_write_context(_as_unfiltered(ctx), format="kdump", dump_level=30).attr["filter.stats"]
    except DumpError as e:
        return {"error": str(e)}
    return {"cache": st.cache, "cache_private": st.cache_private, "user": st.user, "free": st.free,
            "hwpoison": st.hwpoison, "offline": st.offline}


def _as_unfiltered(ctx: Context) -> Context:
    """A clone that forgets the dump level the file was written at and what
    it left out, so that classification runs for every level bit over all of
    RAM (a page counts only when still to be dumped, as in makedumpfile)."""
    c = ctx.clone()
    c.attr["kdump.dump_level"] = 0
    c.attr["file.pagemap"] = ctx.attr["memory.pagemap"]
    return c


def format_text(info: dict[str, Any]) -> str:
    """The report for people."""
    lines = [f"File            : {info['file']}",
             f"Format          : {info['description']} ({info['format']})"
             + ("  INCOMPLETE" if info["incomplete"] else ""),
             f"Architecture    : {info['arch']} ({info['byte_order']} endian), page size {info['page_size']}",
             f"Kernel          : {info['kernel']['release']} {info['kernel']['version'] or ''}".rstrip(),
             f"Node            : {info['kernel']['nodename']}",
             f"CPUs            : {info['cpus']}"]
    if "kdump" in info:
        k = info["kdump"]
        lines.append(f"kdump header    : {k['signature'].strip()} v{k['header_version']} ({k['layout']}), "
                     f"status {k['status']:#x}, compression {info['compression']}, dump level {k['dump_level']}")
        if k["split"]:
            lines.append(f"Split part      : pfns {k['start_pfn']:#x}-{k['end_pfn']:#x}")
    if "split_set" in info:
        for p in info["split_set"]:
            lines.append(f"Split part      : {p['file']}: pfns {p['start_pfn']:#x}-{p['end_pfn']:#x}")
        for a, b in info.get("split_missing", ()):
            lines.append(f"Missing part    : pfns {a:#x}-{b:#x} are in no file given (read as excluded)")
    if "image" in info:
        at = info["image"]["vmcoreinfo_at"]
        lines.append(f"Memory ranges   : {len(info['image']['ranges'])}; VMCOREINFO "
                     + (f"found in memory at {at:#x}" if at is not None else
                        "given (-i/-x)" if info["kernel"]["release"] else "not found (give -i or -x)"))
    if "xen" in info:
        x = info["xen"]
        if x["type"] == "hypervisor":
            at = f", image at {x['phys_start']:#x}" if x["phys_start"] is not None else ""
            doms = x.get("domains")
            ids = ", ".join(f"{d:#x}" if d >= 0x7FF0 else str(d) for d in doms) if doms else "not read"
            lines.append(f"Xen             : host's crash, Xen {x['version'] or '?'}{at}; domains {ids} (-X keeps the "
                         "hypervisor and dom0)")
        else:
            lines.append(f"Xen             : {x['type']} ({'HVM' if x['hvm'] else 'PV'}), Xen {x['version'] or '?'}, "
                         f"{x['vcpus']} vCPUs")
    p = info["pages"]
    lines.append(f"Pages           : {p['ram']} of RAM (max pfn {info['max_pfn']:#x}), {p['stored']} stored, "
                 f"{p['excluded']} excluded")
    digits = 2 * int(info.get("ptr_size") or 8)  # a register's hex digits
    for cpu in info.get("registers", ()):
        lines.append(f"CPU {cpu['cpu']} (pid {cpu['pid']}):")
        w = max(7, 1 + max(len(n) for n in cpu["regs"]))  # names of 8 (psw_mask) keep a space
        items = [f"{n:>{w}} {v:0{digits}x}" for n, v in cpu["regs"].items()]
        if "lr" in cpu:
            items.append(f"{'lr':>{w}} {cpu['lr']:0{digits}x}")
        lines.extend("   " + "".join(items[j : j + 4]) for j in range(0, len(items), 4))
    cat = info.get("categories")
    if cat and "error" not in cat:
        lines.append("Categories      : " + ", ".join(f"{k} {v}" for k, v in cat.items()))
    elif cat:
        lines.append(f"Categories      : not available ({cat['error']})")
    return "\n".join(lines) + "\n"
