/* Page classification: makedumpfile's dump-level decision chain applied to
 * an array of struct page records (docs/formats.md §5.2).
 *
 * Everything kernel-specific (field offsets, flag numbers, marker values)
 * comes in the params array, filled from VMCOREINFO by the caller. */
#include <string.h>
#include "accel.h"

static uint64_t rd(const uint8_t *p, int width, int big)
{
	uint64_t v = 0;
	int i;
	if (big) {
		for (i = 0; i < width; i++)
			v = (v << 8) | p[i];
	} else {
		for (i = width - 1; i >= 0; i--)
			v = (v << 8) | p[i];
	}
	return v;
}

/* makedumpfile's test_bit(): an int mask 1 << (nr & 31), sign-extended. */
static int test_bit(int64_t nr, uint64_t v)
{
	int32_t m = (int32_t)(1u << (nr & 31));
	return ((uint64_t)(int64_t)m & v) != 0;
}

#define P(i) (prm[(i)])

static int is_slab(const int64_t *prm, uint64_t flags, uint32_t mapcount)
{
	if (P(PMD_C_SLAB_MC_HAS) && mapcount == (uint32_t)P(PMD_C_SLAB_MC))
		return 1;
	return (flags & (1ull << (P(PMD_C_PG_SLAB) & 63))) != 0;
}

static int is_anon(const int64_t *prm, uint64_t mapping, uint64_t flags, uint32_t mapcount)
{
	return (mapping & 1) && !is_slab(prm, flags, mapcount);
}

static int is_cache(const int64_t *prm, uint64_t flags)
{
	if (test_bit(P(PMD_C_PG_LRU), flags))
		return 1;
	if ((P(PMD_C_PG_SWAPBACKED) < 0 || test_bit(P(PMD_C_PG_SWAPBACKED), flags)) &&
	    test_bit(P(PMD_C_PG_SWAPCACHE), flags))
		return 1;
	return 0;
}

static int is_hugetlb(const int64_t *prm, uint64_t dtor, int dtor_is_hugetlb)
{
	if (dtor_is_hugetlb)
		return 1;
	if (P(PMD_C_HUGETLB_DTOR_HAS) && dtor == (uint64_t)P(PMD_C_HUGETLB_DTOR))
		return 1;
	if (P(PMD_C_FREE_HUGE_PAGE_HAS) && dtor == (uint64_t)P(PMD_C_FREE_HUGE_PAGE))
		return 1;
	return 0;
}

static int is_buddy(const int64_t *prm, uint64_t flags, uint32_t mapcount)
{
	switch (P(PMD_C_BUDDY_MODE)) {
	case 3:
		return !is_slab(prm, flags, mapcount) && mapcount == (uint32_t)P(PMD_C_BUDDY_MC);
	case 2:
		return (flags & (1ull << (P(PMD_C_PG_BUDDY) & 63))) != 0;
	default:
		return 0;
	}
}

static inline int bit_test(const uint8_t *bm, uint64_t i)
{
	return (bm[i >> 3] >> (i & 7)) & 1;
}

static inline void bit_clear(uint8_t *bm, uint64_t i)
{
	bm[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

uint64_t pmd_classify(const uint8_t *pages, uint64_t nstruct, uint64_t pfn0,
		      uint64_t count, uint64_t skip_until, const int64_t *prm,
		      const uint8_t *valid, uint8_t *keep, uint64_t nbits,
		      uint64_t *counters)
{
	const uint64_t sz = (uint64_t)P(PMD_C_SIZE_PAGE);
	const int big = (int)P(PMD_C_BIG_ENDIAN);
	const int ul = (int)P(PMD_C_ULONG_SIZE);
	const uint64_t level = (uint64_t)P(PMD_C_DUMP_LEVEL);
	uint32_t mapcount = 0;
	uint64_t priv = 0, chead = 0;
	uint64_t pfn = pfn0 > skip_until ? pfn0 : skip_until;
	const uint64_t end = pfn0 + count;

	for (; pfn < end; pfn++) {
		const uint64_t i = pfn - pfn0;
		const uint8_t *pc = pages + i * sz;
		uint64_t flags, mapping, order = 0, dtor = 0, nr = 1, k, stop;
		int dtor_hugetlb = 0, counter = -1;

		if (pfn >= nbits || !bit_test(valid, pfn))
			continue; /* a memory hole */
		flags = rd(pc + P(PMD_C_OFF_FLAGS), ul, big);
		mapping = rd(pc + P(PMD_C_OFF_MAPPING), ul, big);
		if (P(PMD_C_OFF_MAPCOUNT) >= 0)
			mapcount = (uint32_t)rd(pc + P(PMD_C_OFF_MAPCOUNT), 4, big);

		if ((flags & (uint64_t)P(PMD_C_HEAD_MASK)) && i + 1 < nstruct) {
			const uint8_t *nx = pc + sz;
			switch (P(PMD_C_ORDER_MODE)) {
			case 3: /* 6.9+: order in page[1].flags, hugetlb by _mapcount */
				order = rd(nx + P(PMD_C_OFF_FLAGS), ul, big) & 0xff;
				dtor_hugetlb = mapcount == (uint32_t)P(PMD_C_HUGETLB_MC);
				break;
			case 2: { /* 6.6-6.8: order in page[1].flags, PG_hugetlb there */
				uint64_t f1 = rd(nx + P(PMD_C_OFF_FLAGS), ul, big);
				order = f1 & 0xff;
				dtor_hugetlb = (f1 & (1ull << (P(PMD_C_PG_HUGETLB) & 63))) != 0;
				break;
			}
			case 1:
				if (P(PMD_C_ORDER_WIDTH) > 0)
					order = rd(nx + P(PMD_C_ORDER_OFF), (int)P(PMD_C_ORDER_WIDTH), big);
				if (P(PMD_C_DTOR_WIDTH) > 0)
					dtor = rd(nx + P(PMD_C_DTOR_OFF), (int)P(PMD_C_DTOR_WIDTH), big);
				break;
			default:
				break;
			}
			if (order >= 64 || (pfn & ((1ull << order) - 1)) != 0)
				order = 0;
		}
		if (P(PMD_C_OFF_COMPOUND_HEAD) >= 0)
			chead = rd(pc + P(PMD_C_OFF_COMPOUND_HEAD), ul, big);
		if (P(PMD_C_OFF_PRIVATE) >= 0)
			priv = rd(pc + P(PMD_C_OFF_PRIVATE), ul, big);
		nr = 1ull << order;

		if (chead & 1)
			continue; /* a tail: its head decided for it */
		if ((level & 16) && is_buddy(prm, flags, mapcount)) {
			if (P(PMD_C_FREE_AREA_LEN) >= 0 && priv >= (uint64_t)P(PMD_C_FREE_AREA_LEN)) {
				counters[PMD_CNT_BAD_ORDER]++;
				continue;
			}
			nr = 1ull << (priv & 63);
			counter = PMD_CNT_FREE;
		} else if ((level & 16) && P(PMD_C_UNACCEPTED_HAS) && mapcount == (uint32_t)P(PMD_C_UNACCEPTED_MC)) {
			nr = 1ull << ((P(PMD_C_FREE_AREA_LEN) - 1) & 63);
			counter = PMD_CNT_FREE;
		} else if ((level & 2) && is_cache(prm, flags) &&
			   !test_bit(P(PMD_C_PG_PRIVATE), flags) &&
			   !is_anon(prm, mapping, flags, mapcount)) {
			counter = PMD_CNT_CACHE;
		} else if ((level & 4) && is_cache(prm, flags) && !is_anon(prm, mapping, flags, mapcount)) {
			counter = test_bit(P(PMD_C_PG_PRIVATE), flags) ? PMD_CNT_CACHE_PRIVATE : PMD_CNT_CACHE;
		} else if ((level & 8) && (is_anon(prm, mapping, flags, mapcount) || is_hugetlb(prm, dtor, dtor_hugetlb))) {
			counter = PMD_CNT_USER;
		} else if (P(PMD_C_PG_HWPOISON) >= 0 && test_bit(P(PMD_C_PG_HWPOISON), flags)) {
			counter = PMD_CNT_HWPOISON;
		} else if (P(PMD_C_OFFLINE_HAS) && !is_slab(prm, flags, mapcount) &&
			   mapcount == (uint32_t)P(PMD_C_OFFLINE_MC)) {
			counter = PMD_CNT_OFFLINE;
		} else {
			continue;
		}
		stop = pfn + nr;
		if (stop > nbits || stop < pfn)
			stop = nbits;
		for (k = pfn; k < stop; k++) {
			/* as makedumpfile: a page counts only if it was to be dumped
			 * (a block may span a hole or pages excluded already) */
			if (bit_test(keep, k)) {
				bit_clear(keep, k);
				counters[counter]++;
			}
		}
		pfn += nr - 1;
		if (pfn + 1 < pfn) /* overflow: a corrupt order */
			return UINT64_MAX;
	}
	return pfn;
}
