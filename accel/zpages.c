/* zlib compression of a batch of pages for the kdump writer (-c).  Built
 * only when zlib's headers are there (PMD_HAVE_ZLIB, see setup.py).
 *
 * One deflate stream per batch, reset for each page: the stream and output
 * are those of compress2(level) (makedumpfile: Z_BEST_SPEED), without its
 * allocation of a new stream per page.  An all-zero page compresses to the
 * same bytes every time: the first one's output is copied for the rest. */
#include <string.h>

#include "accel.h"

#ifdef PMD_HAVE_ZLIB
#include <zlib.h>

size_t pmd_zlib_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		      uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err)
{
	z_stream zs;
	size_t pos = 0, zero_at = 0;
	long zero_len = -1;

	memset(&zs, 0, sizeof(zs));
	*err = 0;
	if (deflateInit(&zs, level) != Z_OK) {
		*err = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *page = buf + i * ps;
		int zero;
		if (skip && (skip[i >> 3] >> (i & 7) & 1)) {
			sizes[i] = 0;
			flags[i] = PMD_PAGE_SKIPPED;
			continue;
		}
		zero = pmd_is_zero(page, ps);
		if (zero && zero_len >= 0) {
			memmove(out + pos, out + zero_at, (size_t)zero_len);
			sizes[i] = (uint32_t)zero_len;
			flags[i] = PMD_DESC_ZLIB;
			pos += (size_t)zero_len;
			continue;
		}
		if (deflateReset(&zs) != Z_OK) {
			*err = 1;
			break;
		}
		zs.next_in = (Bytef *)page;
		zs.avail_in = (uInt)ps;
		zs.next_out = out + pos;
		zs.avail_out = (uInt)(ps - 1); /* only a page that shrinks is kept compressed */
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END) {
			size_t clen = ps - 1 - zs.avail_out;
			sizes[i] = (uint32_t)clen;
			flags[i] = PMD_DESC_ZLIB;
			if (zero) {
				zero_at = pos;
				zero_len = (long)clen;
			}
		} else { /* no gain: stored raw, as makedumpfile does */
			memcpy(out + pos, page, ps);
			sizes[i] = (uint32_t)ps;
			flags[i] = 0;
		}
		pos += sizes[i];
	}
	deflateEnd(&zs);
	return pos;
}
#endif

#ifdef PMD_HAVE_ZSTD
#include <zstd.h>

size_t pmd_zstd_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		      uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t pos = 0, zero_at = 0;
	long zero_len = -1;

	*err = 0;
	if (!cctx) {
		*err = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *page = buf + i * ps;
		size_t clen;
		int zero;
		if (skip && (skip[i >> 3] >> (i & 7) & 1)) {
			sizes[i] = 0;
			flags[i] = PMD_PAGE_SKIPPED;
			continue;
		}
		zero = pmd_is_zero(page, ps);
		if (zero && zero_len >= 0) {
			memmove(out + pos, out + zero_at, (size_t)zero_len);
			sizes[i] = (uint32_t)zero_len;
			flags[i] = PMD_DESC_ZSTD;
			pos += (size_t)zero_len;
			continue;
		}
		/* makedumpfile: ZSTD_compressCCtx(cctx, out, bound, page, ps, 1) */
		clen = ZSTD_compressCCtx(cctx, out + pos, ps - 1, page, ps, level);
		if (!ZSTD_isError(clen)) {
			sizes[i] = (uint32_t)clen;
			flags[i] = PMD_DESC_ZSTD;
			if (zero) {
				zero_at = pos;
				zero_len = (long)clen;
			}
		} else { /* no gain (or no room under a page): stored raw */
			memcpy(out + pos, page, ps);
			sizes[i] = (uint32_t)ps;
			flags[i] = 0;
		}
		pos += sizes[i];
	}
	ZSTD_freeCCtx(cctx);
	return pos;
}
#endif
