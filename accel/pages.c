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
