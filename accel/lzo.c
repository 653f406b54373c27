/* LZO1X compressor and safe decompressor, written for pymakedumpfile.
 *
 * The bitstream is the one read by liblzo2's lzo1x_decompress_safe.  This is
 * an independent implementation from the format description; the compressor
 * is a single-probe hash-table LZ77 in the spirit of lzo1x_1, but it does not
 * try to reproduce liblzo2's output byte for byte.  pymakedumpfile/_lzo_py.py
 * is its pure-Python twin and must produce the same bytes: any change to the
 * match finder here has to be mirrored there.
 *
 * Format summary (S = number of literals, 0..3, that follow an instruction;
 * it sits in the two low bits of the instruction's next-to-last byte):
 *
 *   first byte 18..255  copy (byte - 17) literals; state = that count (max 4)
 *   state 0, 0000LLLL   literal run of L + 3 bytes (L = 0: 18 + extension)
 *   state 1-3, 0000DDSS DDDDDDDD   2-byte match, distance 1..1024
 *   state 4,   0000DDSS DDDDDDDD   3-byte match, distance 2049..3072
 *   LLLDDDSS DDDDDDDD (LLL >= 2)    L+1 = 3..8 bytes, distance 1..2048
 *   001LLLLL [ext] DDDDDDSS DDDDDDDD  L+2 bytes, distance 1..16384
 *   0001HLLL [ext] DDDDDDSS DDDDDDDD  L+2 bytes, distance 16385..49151;
 *                                     H = 0 with D = 0 marks the end,
 *                                     so distance 16384 must be an M3
 * Extensions: n zero bytes then a non-zero byte b add 255 * n + b to the
 * field's maximum (15, 31 or 7).  State after a match is S, after a literal
 * run 4.  Streams end with 0x11 0x00 0x00.
 */
#include "accel.h"

#include <string.h>

#define HASH_BITS 14
#define HASH_MUL 0x9E3779B1u
#define M2_MAX_LEN 8
#define M2_MAX_DIST 0x0800
#define M3_MAX_DIST 0x4000
#define M4_MAX_DIST 0xBFFF

#if defined(__GNUC__) || defined(__clang__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define UNLIKELY(x) (x)
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    (defined(__GNUC__) || defined(__clang__))
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

/* Little-endian 32-bit load (the hash must not depend on the host). */
static inline uint32_t load32(const uint8_t *p)
{
#if HOST_LE
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
#endif
}

static inline uint32_t hash4(uint32_t v)
{
    return (uint32_t)(v * HASH_MUL) >> (32 - HASH_BITS);
}

/* Length of the common prefix of a[] and b[], at most limit bytes. */
static inline size_t common_len(const uint8_t *a, const uint8_t *b, size_t limit)
{
    size_t k = 0;
#if HOST_LE
    while (k + 8 <= limit) {
        uint64_t x, y;
        memcpy(&x, a + k, 8);
        memcpy(&y, b + k, 8);
        if (x != y)
            return k + ((size_t)__builtin_ctzll(x ^ y) >> 3);
        k += 8;
    }
#endif
    while (k < limit && a[k] == b[k])
        k++;
    return k;
}

/* Extension bytes for value x >= 1: zero bytes worth 255 each, then 1..255. */
static inline uint8_t *put_ext(uint8_t *op, size_t x)
{
    size_t z = (x - 1) / 255;
    memset(op, 0, z);
    op += z;
    *op++ = (uint8_t)(x - z * 255);
    return op;
}

/* Literal run of len >= 1 bytes; op[-2] is the previous match's S byte. */
static inline uint8_t *put_literals(uint8_t *op, const uint8_t *dst,
                                    const uint8_t *lit, size_t len)
{
    if (op == dst && len <= 238) {
        *op++ = (uint8_t)(17 + len);
    } else if (len <= 3) {
        op[-2] |= (uint8_t)len;
    } else if (len <= 18) {
        *op++ = (uint8_t)(len - 3);
    } else {
        *op++ = 0;
        op = put_ext(op, len - 18);
    }
    memcpy(op, lit, len);
    return op + len;
}

/* Match of len >= 4 bytes at distance 1..M4_MAX_DIST. */
static inline uint8_t *put_match(uint8_t *op, size_t dist, size_t len)
{
    if (len <= M2_MAX_LEN && dist <= M2_MAX_DIST) {
        dist -= 1;
        *op++ = (uint8_t)(((len - 1) << 5) | ((dist & 7) << 2));
        *op++ = (uint8_t)(dist >> 3);
        return op;
    }
    if (dist <= M3_MAX_DIST) {
        dist -= 1;
        if (len <= 33) {
            *op++ = (uint8_t)(32 | (len - 2));
        } else {
            *op++ = 32;
            op = put_ext(op, len - 33);
        }
    } else {
        dist -= 0x4000;
        if (len <= 9) {
            *op++ = (uint8_t)(16 | ((dist >> 11) & 8) | (len - 2));
        } else {
            *op++ = (uint8_t)(16 | ((dist >> 11) & 8));
            op = put_ext(op, len - 9);
        }
        dist &= 0x3FFF;
    }
    *op++ = (uint8_t)(dist << 2);
    *op++ = (uint8_t)(dist >> 6);
    return op;
}

void pmd_lzo1x_1_init(void *wrkmem)
{
    memset(wrkmem, 0, PMD_LZO1X_1_MEM);
}

int pmd_lzo1x_1_compress(const uint8_t *src, size_t n, uint8_t *dst,
                         size_t *dst_len, void *wrkmem)
{
    /* The table is tagged instead of cleared: each call numbers its
     * positions from the work memory's running base, so an entry at or
     * below the base belongs to an earlier call and reads as position 0,
     * exactly what a cleared table would hold.  This saves clearing the
     * 32 KiB table of 16-bit positions for every page (about 8 % of the
     * compression time of a 4 GiB guest's -l -d 31 pages).
     * Distances are taken modulo 2^16, as if positions were stored in 16
     * bits: the output does not depend on the tagging at all. */
    uint32_t *base = (uint32_t *)wrkmem;
    uint32_t *tab = base + 1;
    uint8_t *op = dst;
    size_t ip = 0, lit = 0;

    if (n >= 5) {
        const size_t last = n - 4; /* last position with 4 readable bytes */
        uint32_t b;
        if (*base > UINT32_MAX - 1 - (uint32_t)n) {
            memset(tab, 0, PMD_LZO1X_1_MEM - sizeof(uint32_t));
            *base = 0;
        }
        b = *base;
        *base = b + (uint32_t)n + 1;
        while (ip <= last) {
            uint32_t v = load32(src + ip);
            uint32_t h = hash4(v);
            uint32_t e = tab[h];
            size_t prev = e > b ? (size_t)(e - b - 1) : 0;
            size_t dist = (uint16_t)((uint16_t)ip - (uint16_t)prev);
            size_t cand, len;
            tab[h] = b + (uint32_t)ip + 1;
            if (dist == 0 || dist > M4_MAX_DIST || load32(src + ip - dist) != v) {
                ip += 1 + ((ip - lit) >> 5);
                continue;
            }
            cand = ip - dist;
            while (ip > lit && cand > 0 && src[ip - 1] == src[cand - 1]) {
                ip--;
                cand--;
            }
            len = (size_t)4 + common_len(src + cand + 4, src + ip + 4, n - ip - 4);
            if (ip > lit)
                op = put_literals(op, dst, src + lit, ip - lit);
            op = put_match(op, dist, len);
            ip += len;
            lit = ip;
            if (ip <= last)
                tab[hash4(load32(src + ip - 2))] = b + (uint32_t)(ip - 2) + 1;
        }
    }
    if (n > lit)
        op = put_literals(op, dst, src + lit, n - lit);
    *op++ = 16 | 1;
    *op++ = 0;
    *op++ = 0;
    *dst_len = (size_t)(op - dst);
    return 0;
}

/* ---- decompression ---------------------------------------------------- */

/* Read an extension after a zero length field: returns base + 255 * zeros +
 * final byte, or 0 on truncated input / absurd length. */
static inline size_t get_ext(const uint8_t **pip, const uint8_t *ie, size_t base)
{
    const uint8_t *ip = *pip;
    size_t zeros;
    while (ip < ie && *ip == 0)
        ip++;
    if (ip >= ie)
        return 0;
    zeros = (size_t)(ip - *pip);
    if (zeros > ((size_t)-1 - 1024) / 255)
        return 0;
    *pip = ip + 1;
    return base + zeros * 255 + *ip;
}

static inline void copy_match(uint8_t *op, size_t dist, size_t len)
{
    const uint8_t *m = op - dist;
    if (dist >= len) {
        memcpy(op, m, len);
    } else if (len < 16) {
        while (len--)
            *op++ = *m++;
    } else {
        /* Overlapping copy: the output repeats with period dist, so copy
         * from m in chunks as long as the gap, which doubles each time. */
        while (len) {
            size_t c = (size_t)(op - m);
            if (c > len)
                c = len;
            memcpy(op, m, c);
            op += c;
            len -= c;
        }
    }
}

int pmd_lzo1x_decompress_safe(const uint8_t *src, size_t n, uint8_t *dst,
                              size_t *dst_len)
{
    const uint8_t *ip = src;
    const uint8_t *const ie = src + n;
    uint8_t *op = dst;
    uint8_t *const oe = dst + *dst_len;
    size_t t, len, dist;
    unsigned state = 0, s;
    int rc;

    if (n == 0)
        goto input_overrun;
    if (*ip > 17) {
        t = (size_t)*ip++ - 17;
        if (t > (size_t)(ie - ip))
            goto input_overrun;
        if (t > (size_t)(oe - op))
            goto output_overrun;
        memcpy(op, ip, t);
        op += t;
        ip += t;
        state = t < 4 ? (unsigned)t : 4;
    }
    for (;;) {
        if (UNLIKELY(ip >= ie))
            goto input_overrun;
        t = *ip++;
        if (t < 16) {
            if (state == 0) {
                /* literal run */
                if (t == 0) {
                    t = get_ext(&ip, ie, 15);
                    if (t == 0)
                        goto input_overrun;
                }
                len = t + 3;
                if (len > (size_t)(ie - ip))
                    goto input_overrun;
                if (len > (size_t)(oe - op))
                    goto output_overrun;
                memcpy(op, ip, len);
                op += len;
                ip += len;
                state = 4;
                continue;
            }
            if (UNLIKELY(ip >= ie))
                goto input_overrun;
            dist = (t >> 2) + ((size_t)*ip++ << 2) + 1;
            if (state == 4) {
                dist += M2_MAX_DIST;
                len = 3;
            } else {
                len = 2;
            }
        } else if (t >= 64) {
            if (UNLIKELY(ip >= ie))
                goto input_overrun;
            dist = ((t >> 2) & 7) + ((size_t)*ip++ << 3) + 1;
            len = (t >> 5) + 1;
        } else {
            unsigned w;
            if (t >= 32) {
                len = t & 31;
                if (len == 0 && (len = get_ext(&ip, ie, 31)) == 0)
                    goto input_overrun;
            } else {
                len = t & 7;
                if (len == 0 && (len = get_ext(&ip, ie, 7)) == 0)
                    goto input_overrun;
            }
            len += 2;
            if (UNLIKELY(ie - ip < 2))
                goto input_overrun;
            w = (unsigned)ip[0] | (unsigned)ip[1] << 8;
            ip += 2;
            if (t >= 32) {
                dist = (w >> 2) + 1;
            } else {
                dist = ((t & 8) << 11) + (w >> 2);
                if (dist == 0) {
                    /* end of stream */
                    rc = ip == ie ? 0 : PMD_LZO_E_INPUT_NOT_CONSUMED;
                    goto out;
                }
                dist += 0x4000;
            }
        }
        s = ip[-2] & 3u;
        if (UNLIKELY(dist > (size_t)(op - dst)))
            goto lookbehind;
        if (UNLIKELY(len > (size_t)(oe - op)))
            goto output_overrun;
        copy_match(op, dist, len);
        op += len;
        if (s) {
            if (UNLIKELY(s > (size_t)(ie - ip)))
                goto input_overrun;
            if (UNLIKELY(s > (size_t)(oe - op)))
                goto output_overrun;
            op[0] = ip[0];
            if (s > 1) {
                op[1] = ip[1];
                if (s > 2)
                    op[2] = ip[2];
            }
            op += s;
            ip += s;
        }
        state = s;
    }

input_overrun:
    rc = PMD_LZO_E_INPUT_OVERRUN;
    goto out;
output_overrun:
    rc = PMD_LZO_E_OUTPUT_OVERRUN;
    goto out;
lookbehind:
    rc = PMD_LZO_E_LOOKBEHIND;
out:
    *dst_len = (size_t)(op - dst);
    return rc;
}
