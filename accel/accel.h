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
/* Bytes of scratch memory the compressor needs: a running base and a hash
 * table of 2^14 tagged positions. */
#define PMD_LZO1X_1_MEM (((1u << 14) + 1) * sizeof(uint32_t))

/* Prepare wrkmem (PMD_LZO1X_1_MEM bytes, 4-byte aligned) for its first use;
 * it may then serve any number of pmd_lzo1x_1_compress calls, one at a time. */
void pmd_lzo1x_1_init(void *wrkmem);

/* Compress src[0:n] into dst (capacity PMD_LZO_BOUND(n)); *dst_len receives
 * the compressed size.  n must be below 4 GiB; the output depends on src
 * alone, not on earlier calls with the same wrkmem.  Returns 0. */
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

/* ---- batches of pages for the kdump writer ---- */
#define PMD_PAGE_SKIPPED 0xffffffffu /* a zero page: descriptor -> shared zero page */
#define PMD_DESC_LZO 0x2u
#define PMD_DESC_ZLIB 0x1u
#define PMD_DESC_SNAPPY 0x4u
#define PMD_DESC_ZSTD 0x20u

/* LZO-compress the n pages of buf (page size ps) into out (capacity
 * n * PMD_LZO_BOUND(ps)); a page that does not shrink is copied raw (flag 0).
 * Pages with their bit set in skip (may be NULL) are left out and get flag
 * PMD_PAGE_SKIPPED.  Fills sizes[] and flags[]; returns the bytes used. */
size_t pmd_lzo_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		     uint8_t *out, uint32_t *sizes, uint32_t *flags, void *wrk);

#ifdef PMD_HAVE_LIBDEFLATE
/* Like pmd_zlib_pages, the zlib streams written by libdeflate at level (0-12). */
size_t pmd_deflate_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
			 uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err);
#endif
#ifdef PMD_HAVE_ZLIB
/* Like pmd_lzo_pages with zlib at level (compress2's stream); out must hold
 * n * ps bytes.  *err is set when zlib fails (out of memory). */
size_t pmd_zlib_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		      uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err);
#endif

#ifdef PMD_HAVE_ZSTD
/* The same with zstd at level (ZSTD_compressCCtx, as makedumpfile -z). */
size_t pmd_zstd_pages(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip,
		      uint8_t *out, uint32_t *sizes, uint32_t *flags, int level, int *err);
#endif

/* 24-byte page descriptors for n pages whose data follow one another from
 * data_pos (skipped pages point to zero_off); returns the data position
 * after them.  out must hold 24 * n bytes. */
uint64_t pmd_build_descs(const uint32_t *sizes, const uint32_t *flags, size_t n,
			 uint64_t data_pos, uint64_t zero_off, uint32_t ps,
			 int big, uint8_t *out);

/* ---- reading kdump pages (unpages.c) ---- */
/* Where page data come from: the file descriptor fd (read with pread), or
 * when fd < 0 the caller's regions of the file (mem[r] holds len[r] bytes
 * from offset base[r]).  need_off/need_len: the bytes of the file that the
 * page it stopped at wanted and no region held (0 when it stopped for
 * another reason). */
struct pmd_unpack_src {
	int fd;
	const uint8_t *mem[2];
	uint64_t base[2];
	size_t len[2];
	uint64_t need_off, need_len;
};

/* The n pages whose 24-byte page descriptors (byte order: big-endian when
 * big) are in descs, from a file of file_size bytes whose page data start
 * at data_start, decompressed into out (n * ps bytes).  Returns n, or the
 * index of the first page it could not read or decompress exactly (pages
 * before it are in out); 0 when out of memory. */
size_t pmd_kdump_unpack(struct pmd_unpack_src *src, const uint8_t *descs, size_t n, int big, size_t ps,
			uint64_t data_start, uint64_t file_size, uint8_t *out);

/* Number of set bits in bitmap[0:nbytes]. */
uint64_t pmd_popcount(const uint8_t *bitmap, size_t nbytes);

/* ---- page classification (classify.c) -------------------------------
 * params: an int64 array indexed by PMD_C_*; missing offsets are -1,
 * missing flag numbers -1, *_HAS says whether a marker value exists. */
enum {
	PMD_C_SIZE_PAGE, PMD_C_ULONG_SIZE, PMD_C_BIG_ENDIAN, PMD_C_DUMP_LEVEL,
	PMD_C_OFF_FLAGS, PMD_C_OFF_MAPPING, PMD_C_OFF_MAPCOUNT, PMD_C_OFF_PRIVATE,
	PMD_C_OFF_COMPOUND_HEAD,
	PMD_C_ORDER_MODE, /* 0 none, 1 offsets in page[1], 2 page[1].flags + PG_hugetlb, 3 page[1].flags + hugetlb mapcount */
	PMD_C_ORDER_OFF, PMD_C_ORDER_WIDTH, PMD_C_DTOR_OFF, PMD_C_DTOR_WIDTH,
	PMD_C_HEAD_MASK, PMD_C_PG_LRU, PMD_C_PG_PRIVATE, PMD_C_PG_SWAPCACHE,
	PMD_C_PG_SWAPBACKED, PMD_C_PG_SLAB, PMD_C_PG_HWPOISON, PMD_C_PG_BUDDY,
	PMD_C_PG_HUGETLB,
	PMD_C_BUDDY_MODE, /* 0 none, 2 PG_buddy flag, 3 _mapcount value */
	PMD_C_BUDDY_MC, PMD_C_SLAB_MC_HAS, PMD_C_SLAB_MC, PMD_C_OFFLINE_HAS,
	PMD_C_OFFLINE_MC, PMD_C_UNACCEPTED_HAS, PMD_C_UNACCEPTED_MC,
	PMD_C_HUGETLB_MC, PMD_C_HUGETLB_DTOR_HAS, PMD_C_HUGETLB_DTOR,
	PMD_C_FREE_HUGE_PAGE_HAS, PMD_C_FREE_HUGE_PAGE, PMD_C_FREE_AREA_LEN,
	PMD_C_NPARAMS
};

/* counters[] indexes */
enum {
	PMD_CNT_CACHE, PMD_CNT_CACHE_PRIVATE, PMD_CNT_USER, PMD_CNT_FREE,
	PMD_CNT_HWPOISON, PMD_CNT_OFFLINE, PMD_CNT_BAD_ORDER, PMD_CNT_N
};

/* Classify the struct pages of pfns pfn0 .. pfn0+count-1 held in pages
 * (nstruct records, one more than count when the next page is available, so
 * a head at the end can read its order).  Pfns below skip_until are not
 * examined (the tail of an exclusion begun in the previous batch).  Clears
 * the bits of excluded pfns in keep (nbits bits, absolute pfns), skips pfns
 * not set in valid, adds to counters[PMD_CNT_N].  Returns the next pfn to
 * examine, which is past pfn0+count when an exclusion ran beyond it. */
uint64_t pmd_classify(const uint8_t *pages, uint64_t nstruct, uint64_t pfn0,
		      uint64_t count, uint64_t skip_until, const int64_t *params,
		      const uint8_t *valid, uint8_t *keep, uint64_t nbits,
		      uint64_t *counters);

/* ---- DWARF unit index (dwarf.c) --------------------------------------
 * What pmd_dwarf_skip needs to know of a unit and its sections. */
struct pmd_dwarf_in {
	const uint8_t *info; uint64_t info_len;      /* .debug_info */
	const uint32_t *layout; uint64_t layout_len; /* the unit's abbreviations, in uint32s */
	const uint8_t *names; uint64_t names_len;    /* NULL: every name */
	const uint8_t *str; uint64_t str_len;
	const uint8_t *line_str; uint64_t line_str_len;
	const uint8_t *str_offsets; uint64_t str_offsets_len;
	int64_t str_base; /* < 0: unknown */
	unsigned osz, asz, version;
	int big;
};

/* Walk the DIEs from p (before end), with the depth and enum depth given,
 * up to the first DIE Python must decode; returns its offset (end or past
 * it when there is none) and leaves the depths as they are before it.
 * The layout: [ncodes, entry offset of each code 0..ncodes-1 (0: none)...]
 * and each entry [tag, has children, index of the name attribute (~0: none),
 * count, forms...].  names: a length byte and the bytes, for each name.
 * See dwarf.c. */
/* The layout above of the abbreviation table at off of .debug_abbrev
 * ab[0:n] (codes from 65536 up left out; an entry's fifth word is the
 * position of its code in ab): first its size in uint32s (and ncodes), then
 * the layout itself into out.  Both return -1 for a table Python must read
 * itself (see dwarf.c), else 0. */
int pmd_dwarf_layout_size(const uint8_t *ab, uint64_t n, uint64_t off, uint64_t *ncodes,
			  uint64_t *size);
int pmd_dwarf_layout(const uint8_t *ab, uint64_t n, uint64_t off, uint64_t ncodes, uint64_t size,
		     uint32_t *out);
uint64_t pmd_dwarf_skip(const struct pmd_dwarf_in *in, uint64_t p, uint64_t end,
			int64_t *depth, int64_t *enum_depth);

#endif
