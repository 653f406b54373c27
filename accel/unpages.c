/* Reading a kdump-compressed file's pages in C: the page descriptors of a
 * run, the data read from the file descriptor in large preads (pages whose
 * data follow one another are read together), each page decompressed into
 * the caller's buffer.  No Python here; module.c releases the GIL around it.
 *
 * The kernel is stricter than the reader's Python path, never more lenient:
 * it stops at the first page it cannot take as it is (offset 0 or before
 * the page data, a size of 0 or over a page, flags other than one codec,
 * data that do not decompress to exactly one page with all of their input
 * used, a short read or an I/O error) and returns that page's index.  The
 * caller reads the rest its own way, which says why a page is bad. */
#define _XOPEN_SOURCE 700 /* pread under -std=c99 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"

#ifdef PMD_HAVE_LIBDEFLATE
#include <libdeflate.h>
#elif defined(PMD_HAVE_ZLIB)
#include <zlib.h>
#endif
#ifdef PMD_HAVE_ZSTD
#include <zstd.h>
#endif

static __thread uint8_t *tl_win; /* this thread's window (kept until the thread ends) */
static __thread size_t tl_cap;
#define WINDOW (2u << 20) /* bytes of page data read at once, at most (under the mmap threshold) */

static uint64_t get_u64(const uint8_t *p, int big)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[big ? 7 - i : i] << (8 * i);
	return v;
}

static uint32_t get_u32(const uint8_t *p, int big)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[big ? 3 - i : i] << (8 * i);
	return v;
}

/* Snappy's raw format, bounded: the length (a varint) must be ps, every
 * element must stay inside the input and the output, the output must be
 * filled exactly when the input ends. */
static int snappy_page(const uint8_t *in, size_t n, uint8_t *out, size_t ps)
{
	size_t ip = 0, op = 0;
	uint64_t len = 0;
	int shift = 0;
	for (;;) {
		if (ip >= n || shift > 28)
			return -1;
		len |= (uint64_t)(in[ip] & 0x7f) << shift;
		shift += 7;
		if (!(in[ip++] & 0x80))
			break;
	}
	if (len != ps)
		return -1;
	while (ip < n) {
		uint8_t tag = in[ip++];
		size_t l, off;
		switch (tag & 3) {
		case 0: /* literal */
			l = tag >> 2;
			if (l >= 60) {
				size_t nb = l - 59;
				if (n - ip < nb)
					return -1;
				l = 0;
				for (size_t k = 0; k < nb; k++)
					l |= (size_t)in[ip + k] << (8 * k);
				ip += nb;
			}
			l += 1;
			if (n - ip < l || ps - op < l)
				return -1;
			memcpy(out + op, in + ip, l);
			ip += l;
			op += l;
			continue;
		case 1: /* copy, 11-bit offset */
			if (n - ip < 1)
				return -1;
			l = 4 + ((tag >> 2) & 7);
			off = ((size_t)(tag >> 5) << 8) | in[ip];
			ip += 1;
			break;
		case 2: /* copy, 16-bit offset */
			if (n - ip < 2)
				return -1;
			l = 1 + (tag >> 2);
			off = in[ip] | ((size_t)in[ip + 1] << 8);
			ip += 2;
			break;
		default: /* copy, 32-bit offset */
			if (n - ip < 4)
				return -1;
			l = 1 + (tag >> 2);
			off = in[ip] | ((size_t)in[ip + 1] << 8) | ((size_t)in[ip + 2] << 16) |
			      ((size_t)in[ip + 3] << 24);
			ip += 4;
			break;
		}
		if (off == 0 || off > op || ps - op < l)
			return -1;
		for (size_t k = 0; k < l; k++) /* may overlap: byte by byte */
			out[op + k] = out[op - off + k];
		op += l;
	}
	return op == ps ? 0 : -1;
}

struct unpack_state {
#ifdef PMD_HAVE_LIBDEFLATE
	struct libdeflate_decompressor *inflater;
#endif
#ifdef PMD_HAVE_ZSTD
	ZSTD_DCtx *dctx;
#endif
	int unused;
};

/* One page's data in[0:n] with descriptor flags into out (ps bytes): 0, or
 * -1 when it is not exactly one page of that codec. */
static int one_page(struct unpack_state *st, const uint8_t *in, size_t n, uint32_t flags, uint8_t *out,
		    size_t ps)
{
	switch (flags) {
	case 0:
		if (n != ps)
			return -1;
		memcpy(out, in, ps);
		return 0;
	case PMD_DESC_ZLIB: {
#ifdef PMD_HAVE_LIBDEFLATE
		size_t used = 0, got = 0;
		if (!st->inflater && !(st->inflater = libdeflate_alloc_decompressor()))
			return -1;
		if (libdeflate_zlib_decompress_ex(st->inflater, in, n, out, ps, &used, &got) != LIBDEFLATE_SUCCESS)
			return -1;
		return used == n && got == ps ? 0 : -1;
#elif defined(PMD_HAVE_ZLIB)
		uLongf got = (uLongf)ps;
		uLong used = (uLong)n;
		if (uncompress2(out, &got, in, &used) != Z_OK)
			return -1;
		return used == n && got == ps ? 0 : -1;
#else
		return -1;
#endif
	}
	case PMD_DESC_LZO: {
		size_t got = ps;
		if (pmd_lzo1x_decompress_safe(in, n, out, &got) != 0)
			return -1;
		return got == ps ? 0 : -1;
	}
	case PMD_DESC_SNAPPY:
		return snappy_page(in, n, out, ps);
	case PMD_DESC_ZSTD: {
#ifdef PMD_HAVE_ZSTD
		size_t got;
		if (ZSTD_findFrameCompressedSize(in, n) != n || ZSTD_getFrameContentSize(in, n) != ps)
			return -1; /* one frame of one page, all of the data */
		if (!st->dctx && !(st->dctx = ZSTD_createDCtx()))
			return -1;
		got = ZSTD_decompressDCtx(st->dctx, out, ps, in, n);
		return !ZSTD_isError(got) && got == ps ? 0 : -1;
#else
		return -1;
#endif
	}
	default:
		return -1;
	}
}

/* pread all of len bytes at off, or fail. */
static int read_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t r = pread(fd, buf, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* The window [off, end) of the file: read from the descriptor into win, or
 * found in one of the caller's regions; NULL when neither (src->need_* then
 * say which bytes were wanted). */
static const uint8_t *window(struct pmd_unpack_src *src, uint8_t *win, uint64_t off, uint64_t end)
{
	if (src->fd >= 0)
		return read_all(src->fd, win, (size_t)(end - off), off) == 0 ? win : NULL;
	for (int r = 0; r < 2; r++)
		if (src->mem[r] && off >= src->base[r] && end - src->base[r] <= src->len[r])
			return src->mem[r] + (off - src->base[r]);
	src->need_off = off;
	src->need_len = end - off;
	return NULL;
}

size_t pmd_kdump_unpack(struct pmd_unpack_src *src, const uint8_t *descs, size_t n, int big, size_t ps,
			uint64_t data_start, uint64_t file_size, uint8_t *out)
{
	struct unpack_state st;
	uint8_t *win = NULL;
	size_t i = 0, last = (size_t)-1; /* the last page read alone: the shared zero page, mostly */
	uint64_t last_off = 0;
	uint32_t last_size = 0, last_flags = 0;

	memset(&st, 0, sizeof(st));
	src->need_off = src->need_len = 0;
	if (src->fd >= 0) {
		/* one window per thread, kept: a fresh one each call would be new
		 * pages each time (malloc gives the top of the heap back when it is
		 * freed), and pread into them costs a page fault per 4 KiB */
		size_t need = WINDOW > ps ? WINDOW : ps;
		if (tl_cap < need) {
			free(tl_win);
			tl_cap = 0;
			if (!(tl_win = malloc(need)))
				return 0;
			tl_cap = need;
		}
		win = tl_win;
	}
	while (i < n) {
		const uint8_t *d = descs + 24 * i, *data;
		uint64_t off = get_u64(d, big), end;
		uint32_t size = get_u32(d + 8, big), flags = get_u32(d + 12, big);
		size_t j;
		if (off == 0 || off < data_start || size == 0 || size > ps || off > file_size ||
		    file_size - off < size)
			break;
		if (last != (size_t)-1 && off == last_off && size == last_size && flags == last_flags) {
			memcpy(out + i * ps, out + last * ps, ps); /* the same data as that page */
			i++;
			continue;
		}
		/* the pages after it whose data follow on, within the window */
		end = off + size;
		for (j = i + 1; j < n; j++) {
			const uint8_t *e = descs + 24 * j;
			uint32_t sz = get_u32(e + 8, big);
			if (get_u64(e, big) != end || sz == 0 || sz > ps || end + sz - off > WINDOW ||
			    end + sz > file_size)
				break;
			end += sz;
		}
		if (!(data = window(src, win, off, end)))
			break;
		size_t bad = j;
		for (size_t k = i; k < j; k++) {
			const uint8_t *e = descs + 24 * k;
			uint64_t o = get_u64(e, big);
			uint32_t sz = get_u32(e + 8, big);
			if (one_page(&st, data + (o - off), sz, get_u32(e + 12, big), out + k * ps, ps) != 0) {
				bad = k;
				break;
			}
		}
		if (bad < j) {
			i = bad;
			break;
		}
		if (j == i + 1) {
			last = i;
			last_off = off;
			last_size = size;
			last_flags = flags;
		}
		i = j;
	}
#ifdef PMD_HAVE_LIBDEFLATE
	if (st.inflater)
		libdeflate_free_decompressor(st.inflater);
#endif
#ifdef PMD_HAVE_ZSTD
	if (st.dctx)
		ZSTD_freeDCtx(st.dctx);
#endif
	return i;
}
