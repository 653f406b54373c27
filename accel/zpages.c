/* zlib and zstd compression of a batch of pages for the kdump writer (-c,
 * -z).  Each codec is built only when its header is there (PMD_HAVE_ZLIB,
 * PMD_HAVE_ZSTD, see setup.py).
 *
 * One loop serves both (codec_pages): skipped pages are left out, a page
 * that does not shrink is stored raw, and an all-zero page, which compresses
 * to the same bytes every time, is compressed once and copied for the rest.
 * zlib: one deflate stream per batch, reset for each page, gives the stream
 * of compress2(level) (makedumpfile: Z_BEST_SPEED) without a new stream per
 * page.  deflate (PMD_HAVE_LIBDEFLATE): the same zlib format written by
 * libdeflate, which at level 1 compresses as well as zlib at 2.5 times the
 * speed; every zlib reader (makedumpfile, crash, libkdumpfile) inflates it.
 * zstd: ZSTD_compressCCtx at level, as makedumpfile -z. */
#include <string.h>

#include "accel.h"

#if defined(PMD_HAVE_ZLIB) || defined(PMD_HAVE_ZSTD) || defined(PMD_HAVE_LIBDEFLATE)
/* Compress one page of ps bytes into dst (room for ps - 1 bytes): the
 * compressed size, 0 when it does not fit (stored raw), -1 on a failure. */
typedef long (*one_page_fn)(void *state, const uint8_t *page, size_t ps, uint8_t *dst, int level);

static size_t codec_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip, uint8_t *out,
			  uint32_t *sizes, uint32_t *flags, int level, uint32_t flag, one_page_fn one,
			  void *state, int *err)
{
	size_t pos = 0, zero_at = 0;
	long zero_len = -1;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *page = buf + i * ps;
		long clen;
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
			flags[i] = flag;
			pos += (size_t)zero_len;
			continue;
		}
		clen = one(state, page, ps, out + pos, level);
		if (clen < 0) {
			*err = 1;
			break;
		}
		if (clen > 0) {
			sizes[i] = (uint32_t)clen;
			flags[i] = flag;
			if (zero) {
				zero_at = pos;
				zero_len = clen;
			}
		} else { /* no gain: stored raw, as makedumpfile does */
			memcpy(out + pos, page, ps);
			sizes[i] = (uint32_t)ps;
			flags[i] = 0;
		}
		pos += sizes[i];
	}
	return pos;
}
#endif

#ifdef PMD_HAVE_ZLIB
#include <zlib.h>

static long zlib_one(void *state, const uint8_t *page, size_t ps, uint8_t *dst, int level)
{
	z_stream *zs = state;
	(void)level; /* set when the stream was made */
	if (deflateReset(zs) != Z_OK)
		return -1;
	zs->next_in = (Bytef *)page;
	zs->avail_in = (uInt)ps;
	zs->next_out = dst;
	zs->avail_out = (uInt)(ps - 1); /* only a page that shrinks is kept compressed */
	if (deflate(zs, Z_FINISH) != Z_STREAM_END)
		return 0;
	return (long)(ps - 1 - zs->avail_out);
}

size_t pmd_zlib_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		      uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err)
{
	z_stream zs;
	size_t pos;

	memset(&zs, 0, sizeof(zs));
	*err = 0;
	if (deflateInit(&zs, level) != Z_OK) {
		*err = 1;
		return 0;
	}
	pos = codec_pages(buf, ps, n, skip, out, sizes, flags, level, PMD_DESC_ZLIB, zlib_one, &zs, err);
	deflateEnd(&zs);
	return pos;
}
#endif

#ifdef PMD_HAVE_ZSTD
#include <zstd.h>

static long zstd_one(void *state, const uint8_t *page, size_t ps, uint8_t *dst, int level)
{
	/* makedumpfile: ZSTD_compressCCtx(cctx, out, bound, page, ps, 1); an
	 * error here is no room under a page: stored raw */
	size_t clen = ZSTD_compressCCtx(state, dst, ps - 1, page, ps, level);
	return ZSTD_isError(clen) ? 0 : (long)clen;
}

size_t pmd_zstd_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		      uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t pos;

	*err = 0;
	if (!cctx) {
		*err = 1;
		return 0;
	}
	pos = codec_pages(buf, ps, n, skip, out, sizes, flags, level, PMD_DESC_ZSTD, zstd_one, cctx, err);
	ZSTD_freeCCtx(cctx);
	return pos;
}
#endif

#ifdef PMD_HAVE_LIBDEFLATE
#include <libdeflate.h>

static long deflate_one(void *state, const uint8_t *page, size_t ps, uint8_t *dst, int level)
{
	(void)level; /* set when the compressor was made */
	/* a zlib stream (RFC 1950) as compress2 writes, by libdeflate: 0 when it
	 * does not fit under a page (stored raw) */
	return (long)libdeflate_zlib_compress(state, page, ps, dst, ps - 1);
}

size_t pmd_deflate_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
			 uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err)
{
	struct libdeflate_compressor *c;
	size_t pos;

	*err = 0;
	c = libdeflate_alloc_compressor(level);
	if (!c) {
		*err = 1;
		return 0;
	}
	pos = codec_pages(buf, ps, n, skip, out, sizes, flags, level, PMD_DESC_ZLIB, deflate_one, c, err);
	libdeflate_free_compressor(c);
	return pos;
}
#endif
