"""Pure-Python LZO1X: the fallback when the accel extension is absent.

Twin of ``accel/lzo.c``.  :func:`lzo1x_1_compress` runs the same match finder
as the C code and produces the same bytes; :func:`lzo1x_decompress_safe`
reads any LZO1X stream liblzo2's ``lzo1x_decompress_safe`` accepts and raises
:class:`ValueError` on anything malformed.  See the comment at the top of
``accel/lzo.c`` for a summary of the bitstream.
"""

from __future__ import annotations

import re
import struct

__all__ = ["lzo1x_1_compress", "lzo1x_decompress_safe", "lzo1x_bound"]

_HASH_SHIFT = 32 - 14
_HASH_MUL = 0x9E3779B1
_M2_MAX_LEN = 8
_M2_MAX_DIST = 0x0800
_M3_MAX_DIST = 0x4000
_M4_MAX_DIST = 0xBFFF
_END = b"\x11\x00\x00"

_u32 = struct.Struct("<I").unpack_from
_nonzero = re.compile(b"[^\x00]").search


def lzo1x_bound(n: int) -> int:
    """Worst-case compressed size of *n* bytes (PMD_LZO_BOUND)."""
    return n + n // 16 + 64 + 3


def _common_len(data: bytes, a: int, b: int, limit: int) -> int:
    """Length of the common prefix of data[a:] and data[b:], at most *limit*."""
    k = 0
    step = 16
    while k < limit:
        s = min(step, limit - k)
        if data[a + k : a + k + s] == data[b + k : b + k + s]:
            k += s
            if step < 65536:
                step <<= 1
            continue
        # A mismatch lies in [k, k + s): bisect for it.
        while s > 1:
            h = s >> 1
            if data[a + k : a + k + h] == data[b + k : b + k + h]:
                k += h
                s -= h
            else:
                s = h
        return k
    return k


def _ext(out: bytearray, x: int) -> None:
    z = (x - 1) // 255
    if z:
        out += bytes(z)
    out.append(x - z * 255)


def _put_literals(out: bytearray, data: bytes, start: int, end: int) -> None:
    n = end - start
    if not out and n <= 238:
        out.append(17 + n)
    elif n <= 3:
        out[-2] |= n
    elif n <= 18:
        out.append(n - 3)
    else:
        out.append(0)
        _ext(out, n - 18)
    out += data[start:end]


def _put_match(out: bytearray, dist: int, length: int) -> None:
    if length <= _M2_MAX_LEN and dist <= _M2_MAX_DIST:
        dist -= 1
        out.append(((length - 1) << 5) | ((dist & 7) << 2))
        out.append(dist >> 3)
        return
    if dist <= _M3_MAX_DIST:
        dist -= 1
        if length <= 33:
            out.append(32 | (length - 2))
        else:
            out.append(32)
            _ext(out, length - 33)
    else:
        dist -= 0x4000
        h = (dist >> 11) & 8
        if length <= 9:
            out.append(16 | h | (length - 2))
        else:
            out.append(16 | h)
            _ext(out, length - 9)
        dist &= 0x3FFF
    out.append((dist << 2) & 0xFF)
    out.append(dist >> 6)


def lzo1x_1_compress(data: bytes) -> bytes:
    """Compress *data* to an LZO1X stream, byte-identical to accel/lzo.c."""
    data = bytes(data)
    n = len(data)
    out = bytearray()
    ip = 0
    lit = 0
    if n >= 5:
        last = n - 4
        tab = [0] * (1 << 14)
        u32 = _u32
        while ip <= last:
            v = u32(data, ip)[0]
            h = ((v * _HASH_MUL) & 0xFFFFFFFF) >> _HASH_SHIFT
            dist = (ip - tab[h]) & 0xFFFF
            tab[h] = ip & 0xFFFF
            if dist == 0 or dist > _M4_MAX_DIST or u32(data, ip - dist)[0] != v:
                ip += 1 + ((ip - lit) >> 5)
                continue
            cand = ip - dist
            while ip > lit and cand > 0 and data[ip - 1] == data[cand - 1]:
                ip -= 1
                cand -= 1
            length = 4 + _common_len(data, cand + 4, ip + 4, n - ip - 4)
            if ip > lit:
                _put_literals(out, data, lit, ip)
            _put_match(out, dist, length)
            ip += length
            lit = ip
            if ip <= last:
                v = u32(data, ip - 2)[0]
                tab[((v * _HASH_MUL) & 0xFFFFFFFF) >> _HASH_SHIFT] = (ip - 2) & 0xFFFF
    if n > lit:
        _put_literals(out, data, lit, n)
    out += _END
    return bytes(out)


def _ext_len(src: bytes, ip: int, base: int) -> tuple[int, int]:
    """Decode a length extension at *ip*; returns (value, new ip)."""
    if src[ip]:  # the common case: no zero bytes
        return base + src[ip], ip + 1
    m = _nonzero(src, ip)
    if m is None:
        raise ValueError("lzo: input overrun in length")
    j = m.start()
    return base + (j - ip) * 255 + src[j], j + 1


def lzo1x_decompress_safe(data: bytes, out_len: int) -> bytes:
    """Decompress an LZO1X stream into at most *out_len* bytes.

    Raises ValueError on truncated or malformed input, on output that would
    exceed *out_len*, and on trailing bytes after the end marker.
    """
    src = data if isinstance(data, bytes) else bytes(data)
    n = len(src)
    if out_len < 0:
        raise ValueError("lzo: negative output size")
    out = bytearray()
    olen = 0  # == len(out), tracked to save calls
    ip = 0
    state = 0
    if n == 0:
        raise ValueError("lzo: empty input")
    try:
        if src[0] > 17:
            t = src[0] - 17
            ip = 1 + t
            if ip > n:
                raise ValueError("lzo: input overrun")
            if t > out_len:
                raise ValueError("lzo: output overrun")
            out += src[1:ip]
            olen = t
            state = t if t < 4 else 4
        while True:
            t = src[ip]
            ip += 1
            if t >= 64:
                dist = ((t >> 2) & 7) + (src[ip] << 3) + 1
                ip += 1
                length = (t >> 5) + 1
            elif t >= 32:
                length = t & 31
                if length == 0:
                    length, ip = _ext_len(src, ip, 31)
                dist = ((src[ip] | (src[ip + 1] << 8)) >> 2) + 1
                ip += 2
                length += 2
            elif t >= 16:
                length = t & 7
                if length == 0:
                    length, ip = _ext_len(src, ip, 7)
                dist = ((t & 8) << 11) + ((src[ip] | (src[ip + 1] << 8)) >> 2)
                ip += 2
                if dist == 0:
                    if ip != n:
                        raise ValueError("lzo: input not consumed")
                    return bytes(out)
                dist += 0x4000
                length += 2
            elif state == 0:
                # literal run
                if t == 0:
                    t, ip = _ext_len(src, ip, 15)
                t += 3
                end = ip + t
                if end > n:
                    raise ValueError("lzo: input overrun")
                olen += t
                if olen > out_len:
                    raise ValueError("lzo: output overrun")
                out += src[ip:end]
                ip = end
                state = 4
                continue
            else:
                dist = (t >> 2) + (src[ip] << 2) + 1
                ip += 1
                if state == 4:
                    dist += _M2_MAX_DIST
                    length = 3
                else:
                    length = 2
            s = src[ip - 2] & 3
            if dist > olen:
                raise ValueError("lzo: lookbehind overrun")
            start = olen - dist
            olen += length
            if olen > out_len:
                raise ValueError("lzo: output overrun")
            if dist >= length:
                out += out[start : start + length]
            elif dist == 1:
                out += bytes((out[start],)) * length
            else:
                pat = out[start:]
                out += (pat * (length // dist + 1))[:length]
            if s:
                end = ip + s
                if end > n:
                    raise ValueError("lzo: input overrun")
                olen += s
                if olen > out_len:
                    raise ValueError("lzo: output overrun")
                out += src[ip:end]
                ip = end
            state = s
    except IndexError:
        raise ValueError("lzo: input overrun") from None
