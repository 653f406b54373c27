"""The GDB remote serial protocol's framing (docs/gdbserver.md): packets, checksums, escapes
and run-length encoding, independent of what the packets ask.

A packet is ``$DATA#CS``: ``CS`` is two hex digits, the sum of DATA's bytes modulo 256.  In
DATA, ``#``, ``$``, ``}`` and ``*`` are escaped as ``}`` followed by the byte XOR 0x20; ``*``
repeats the byte before it (the next byte minus 29 more times).  Until no-acknowledgment
mode is agreed (``QStartNoAckMode``), each packet is answered ``+`` (good) or ``-`` (send it
again).  A lone 0x03 byte is an interrupt.
"""

from __future__ import annotations

from collections.abc import Iterator

MAX_PACKET = 1 << 20  # bytes of DATA in one packet we accept; more is a broken peer
INTERRUPT = b"\x03"


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    """``data`` with the four special bytes escaped."""
    out = bytearray()
    for b in data:
        if b in (0x23, 0x24, 0x7D, 0x2A):  # # $ } *
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def rle(data: bytes) -> bytes:
    """Run-length encoded ``data`` (already escaped; a reader expands runs before it undoes
    escapes): a run of 4 or more bytes becomes the byte, ``*`` and a count byte (the number
    of repeats + 29), never ``#`` or ``$`` and at most 126."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        j = i + 1
        while j < n and data[j] == b and j - i < 98:  # the count byte stays printable (<= 126)
            j += 1
        run = j - i
        if run >= 4 and b != 0x7D:  # not after the escape byte
            extra = run - 1
            while extra + 29 in (0x23, 0x24):  # '#' or '$' cannot be a count: shorten the run
                extra -= 1
            out.append(b)
            out += bytes((0x2A, extra + 29))
            i += extra + 1
        else:
            out.append(b)
            i += 1
    return bytes(out)


def frame(data: bytes, compress: bool = True) -> bytes:
    """The packet that carries ``data``."""
    body = escape(data)
    if compress:
        body = rle(body)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


def decode(body: bytes) -> bytes:
    """DATA of a received packet's body (between ``$`` and ``#``), in gdb's order: runs are
    expanded over the raw bytes first, then escapes undone.

    :raises ValueError: a run with nothing before it, or an escape at the end.
    """
    raw = bytearray()
    i, n = 0, len(body)
    while i < n:
        b = body[i]
        if b == 0x2A:
            if not raw or i + 1 >= n:
                raise ValueError("a run with nothing to repeat")
            count = body[i + 1] - 29
            if count < 0:
                raise ValueError("a run count below zero")
            raw += bytes((raw[-1],)) * count
            i += 2
        else:
            raw.append(b)
            i += 1
        if len(raw) > MAX_PACKET:
            raise ValueError("a packet too long")
    if 0x7D not in raw:
        return bytes(raw)
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        if raw[i] == 0x7D:
            if i + 1 >= n:
                raise ValueError("an escape at the end of a packet")
            out.append(raw[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


class Reader:
    """Splits a byte stream into events: ``("packet", data)``, ``("bad", body)`` (a wrong
    checksum or encoding: answer ``-``), ``("interrupt", b"")``, ``("ack", b"+"|b"-")``."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[str, bytes]]:
        self.buf += data
        while self.buf:
            b = self.buf[0]
            if b == 0x24:  # $
                end = self.buf.find(b"#", 1)
                if end < 0:
                    if len(self.buf) > 2 * MAX_PACKET + 4:
                        del self.buf[:]
                        yield "bad", b""
                    return
                if len(self.buf) < end + 3:
                    return  # the checksum has not come yet
                body, cs = bytes(self.buf[1:end]), bytes(self.buf[end + 1 : end + 3])
                del self.buf[: end + 3]
                try:
                    ok = int(cs, 16) == checksum(body)
                except ValueError:
                    ok = False
                if not ok:
                    yield "bad", body
                    continue
                try:
                    yield "packet", decode(body)
                except ValueError:
                    yield "bad", body
            elif b in (0x2B, 0x2D):  # + -
                del self.buf[:1]
                yield "ack", bytes((b,))
            elif b == 0x03:
                del self.buf[:1]
                yield "interrupt", b""
            else:  # noise between packets
                del self.buf[:1]


def hexbytes(data: bytes) -> bytes:
    return data.hex().encode()


def unhex(text: bytes) -> bytes:
    """Bytes of hex digits (``bytes.fromhex`` of ASCII).

    :raises ValueError: not hex digits.
    """
    return bytes.fromhex(text.decode("ascii"))


__all__ = ["INTERRUPT", "MAX_PACKET", "Reader", "checksum", "decode", "escape", "frame", "hexbytes", "rle", "unhex"]
