"""The kernel's ``struct new_utsname``: six NUL-padded strings of 65 bytes (sysname, nodename,
release, version, machine, domainname), as the kdump header stores it and as ``init_uts_ns.name``
holds it in memory."""

from __future__ import annotations

FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
FIELD_LEN = 65
SIZE = len(FIELDS) * FIELD_LEN


def decode(blob: bytes, offset: int = 0) -> dict[str, str]:
    """The six strings of the structure at ``offset`` of ``blob`` (which must hold it whole),
    each up to its first NUL, undecodable bytes replaced."""
    if offset < 0 or offset + SIZE > len(blob):
        raise ValueError(f"a utsname needs {SIZE} bytes at {offset}, the buffer has {len(blob)}")
    out = {}
    for i, name in enumerate(FIELDS):
        raw = blob[offset + i * FIELD_LEN : offset + (i + 1) * FIELD_LEN]
        out[name] = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    return out


def encode(uts: dict[str, str]) -> bytes:
    """The structure for ``uts`` (missing fields empty; each cut to 64 bytes and NUL-padded)."""
    return b"".join(uts.get(name, "").encode("utf-8")[: FIELD_LEN - 1].ljust(FIELD_LEN, b"\0") for name in FIELDS)
