/* Page and bitmap kernels. */
#include <string.h>
#include "accel.h"

int pmd_is_zero(const uint8_t *buf, size_t n)
{
	size_t i = 0;
	/* word-at-a-time; memcpy keeps it alignment-safe and compiles to loads */
	for (; i + 32 <= n; i += 32) {
		uint64_t w[4];
		memcpy(w, buf + i, 32);
		if (w[0] | w[1] | w[2] | w[3])
			return 0;
	}
	for (; i < n; i++)
		if (buf[i])
			return 0;
	return 1;
}

size_t pmd_zero_pages(const uint8_t *buf, size_t page_size, size_t count,
		      uint8_t *out)
{
	size_t zeros = 0;
	memset(out, 0, (count + 7) / 8);
	for (size_t i = 0; i < count; i++) {
		if (pmd_is_zero(buf + i * page_size, page_size)) {
			out[i >> 3] |= (uint8_t)(1u << (i & 7));
			zeros++;
		}
	}
	return zeros;
}

uint64_t pmd_popcount(const uint8_t *bitmap, size_t nbytes)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i + 8 <= nbytes; i += 8) {
		uint64_t w;
		memcpy(&w, bitmap + i, 8);
		n += (uint64_t)__builtin_popcountll(w);
	}
	for (; i < nbytes; i++)
		n += (uint64_t)__builtin_popcount(bitmap[i]);
	return n;
}

size_t pmd_lzo_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		     uint8_t *out, uint32_t *sizes, uint32_t *flags, void *wrk)
{
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		size_t clen = PMD_LZO_BOUND(ps);
		if (skip && (skip[i >> 3] >> (i & 7) & 1)) {
			sizes[i] = 0;
			flags[i] = PMD_PAGE_SKIPPED;
			continue;
		}
		pmd_lzo1x_1_compress(buf + i * ps, ps, out + pos, &clen, wrk);
		if (clen < ps) {
			sizes[i] = (uint32_t)clen;
			flags[i] = PMD_DESC_LZO;
		} else { /* no gain: stored raw, as makedumpfile does */
			memcpy(out + pos, buf + i * ps, ps);
			sizes[i] = (uint32_t)ps;
			flags[i] = 0;
		}
		pos += sizes[i];
	}
	return pos;
}

static void put64(uint8_t *p, uint64_t v, int big)
{
	for (int i = 0; i < 8; i++)
		p[big ? 7 - i : i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v, int big)
{
	for (int i = 0; i < 4; i++)
		p[big ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

uint64_t pmd_build_descs(const uint32_t *sizes, const uint32_t *flags, size_t n,
			 uint64_t data_pos, uint64_t zero_off, uint32_t ps,
			 int big, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *d = out + 24 * i;
		if (flags[i] == PMD_PAGE_SKIPPED) {
			put64(d, zero_off, big);
			put32(d + 8, ps, big);
			put32(d + 12, 0, big);
		} else {
			put64(d, data_pos, big);
			put32(d + 8, sizes[i], big);
			put32(d + 12, flags[i], big);
			data_pos += sizes[i];
		}
		put64(d + 16, 0, big);
	}
	return data_pos;
}
