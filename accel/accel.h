/* Pure C kernels of pymakedumpfile's accel module.  No Python.h here: the
 * binding (module.c) converts arguments and releases the GIL around calls. */
#ifndef PMD_ACCEL_H
#define PMD_ACCEL_H

#include <stddef.h>
#include <stdint.h>

/* ---- LZO1X (lzo.c) ---------------------------------------------------
 * Bitstream compatible with liblzo2's lzo1x_1_compress / lzo1x_decompress_safe. */

/* Worst-case compressed size for n input bytes (as liblzo2 documents). */
#define PMD_LZO_BOUND(n) ((n) + (n) / 16 + 64 + 3)
/* Bytes of scratch memory the compressor needs. */
#define PMD_LZO1X_1_MEM ((1u << 14) * sizeof(uint16_t))

/* Compress src[0:n] into dst (capacity PMD_LZO_BOUND(n)); *dst_len receives
 * the compressed size.  wrkmem must hold PMD_LZO1X_1_MEM bytes.  Returns 0. */
int pmd_lzo1x_1_compress(const uint8_t *src, size_t n, uint8_t *dst,
                         size_t *dst_len, void *wrkmem);

/* Decompress src[0:n] into dst of capacity *dst_len; on return *dst_len is
 * the number of bytes produced.  Returns 0 on success, or a negative code:
 * PMD_LZO_E_INPUT_OVERRUN, PMD_LZO_E_OUTPUT_OVERRUN, PMD_LZO_E_LOOKBEHIND,
 * PMD_LZO_E_INPUT_NOT_CONSUMED, PMD_LZO_E_ERROR.  Never reads or writes
 * outside the given buffers whatever the input. */
int pmd_lzo1x_decompress_safe(const uint8_t *src, size_t n, uint8_t *dst,
                              size_t *dst_len);

#define PMD_LZO_E_ERROR (-1)
#define PMD_LZO_E_INPUT_OVERRUN (-4)
#define PMD_LZO_E_OUTPUT_OVERRUN (-5)
#define PMD_LZO_E_LOOKBEHIND (-6)
#define PMD_LZO_E_INPUT_NOT_CONSUMED (-8)

/* ---- pages and bitmaps (pages.c) ------------------------------------- */

/* 1 if buf[0:n] is all zero bytes, else 0. */
int pmd_is_zero(const uint8_t *buf, size_t n);

/* For count pages of page_size bytes each in buf, set bit i of out (LSB
 * first) when page i is all zeros.  out must hold (count+7)/8 bytes and is
 * overwritten.  Returns the number of zero pages. */
size_t pmd_zero_pages(const uint8_t *buf, size_t page_size, size_t count,
                      uint8_t *out);

/* Number of set bits in bitmap[0:nbytes]. */
uint64_t pmd_popcount(const uint8_t *bitmap, size_t nbytes);

#endif
