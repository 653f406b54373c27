/* The walk over the DIEs of a unit of .debug_info for the unit index of
 * pymakedumpfile/input/dwarf.py (Dwarf._index_unit): it passes over every
 * DIE that index would not keep and stops at the first one Python must
 * decode.  The pure-Python twin is dwarf_skip_python in
 * pymakedumpfile/accel/dwarf_py.py; the two stop at the same places.
 *
 * A stop is made at a DIE (its offset is returned, with the depth and enum
 * depth before it) when
 *   - it is at depth 0 (a unit's top DIE: Python reads its str_offsets_base);
 *   - its abbreviation code is not in the layout;
 *   - one of its attributes cannot be passed over with certainty: an
 *     unknown or indirect form, a read past the end of the section, an
 *     unterminated string, a LEB128 that does not end or is too long, a
 *     block longer than what is left, a strx index outside
 *     .debug_str_offsets (or str_base < 0: unknown);
 *   - it is a named struct, union, typedef or enum, a variable at depth 1
 *     or an enumerator inside an enum, and its name (a string form) is one
 *     of ``names`` (every string-form name when names is NULL).
 * Python decodes such a DIE as the index always did, so a damaged section
 * fails there exactly as before. */
#include <string.h>

#include "accel.h"

enum {
	T_ENUM = 0x04, T_STRUCT = 0x13, T_TYPEDEF = 0x16, T_UNION = 0x17,
	T_ENUMERATOR = 0x28, T_VARIABLE = 0x34,
};

static uint64_t
rd(const uint8_t *b, unsigned n, int big)
{
	uint64_t v = 0;
	unsigned i;
	if (big)
		for (i = 0; i < n; i++)
			v = (v << 8) | b[i];
	else
		for (i = n; i-- > 0;)
			v = (v << 8) | b[i];
	return v;
}

/* A LEB128's value (at most 9 bytes: 63 bits); -1 if it runs off the end
 * of the buffer or is longer. */
static int
leb_val(const uint8_t *b, uint64_t n, uint64_t *p, uint64_t *v)
{
	uint64_t r = 0, q = *p;
	unsigned s = 0;
	for (;;) {
		uint8_t x;
		if (q >= n || s >= 63)
			return -1;
		x = b[q++];
		r |= (uint64_t)(x & 0x7f) << s;
		s += 7;
		if (x < 0x80)
			break;
	}
	*p = q;
	*v = r;
	return 0;
}

/* Past a LEB128 of any length; -1 if it runs off the end. */
static int
leb_skip(const uint8_t *b, uint64_t n, uint64_t *p)
{
	uint64_t q = *p;
	for (;;) {
		if (q >= n)
			return -1;
		if (b[q++] < 0x80)
			break;
	}
	*p = q;
	return 0;
}

/* The NUL-terminated string at off of a string section (to its end when
 * unterminated, empty past it), as Python's cstr reads it. */
static void
cstr_at(const uint8_t *s, uint64_t slen, uint64_t off, const uint8_t **out, uint64_t *len)
{
	const uint8_t *z;
	if (off >= slen) {
		*out = s;
		*len = 0;
		return;
	}
	z = memchr(s + off, 0, (size_t)(slen - off));
	*out = s + off;
	*len = z ? (uint64_t)(z - (s + off)) : slen - off;
}

/* names: entries of one length byte and that many bytes. */
static int
wanted(const struct pmd_dwarf_in *in, const uint8_t *s, uint64_t len)
{
	uint64_t i = 0;
	if (!in->names)
		return 1;
	while (i < in->names_len) {
		uint64_t l = in->names[i];
		if (l == len && i + 1 + l <= in->names_len && memcmp(in->names + i + 1, s, (size_t)l) == 0)
			return 1;
		i += 1 + l;
	}
	return 0;
}

uint64_t
pmd_dwarf_skip(const struct pmd_dwarf_in *in, uint64_t p, uint64_t end, int64_t *depth_io,
	       int64_t *enum_io)
{
	const uint8_t *b = in->info;
	const uint64_t n = in->info_len;
	const uint32_t *lay = in->layout;
	const uint64_t nlay = in->layout_len;
	const uint64_t ncodes = nlay ? lay[0] : 0;
	const unsigned osz = in->osz, asz = in->asz;
	const int big = in->big;
	int64_t depth = *depth_io, enum_depth = *enum_io;

	while (p < end) {
		uint64_t q = p, code, e, nspecs, k, name_pos = 0;
		uint32_t tag, name_idx, name_form = 0;
		int children, interesting;
		if (leb_val(b, n, &p, &code) < 0)
			goto stop;
		if (code == 0) {
			depth -= 1;
			if (depth <= enum_depth)
				enum_depth = -1;
			continue;
		}
		if (depth == 0 || code >= ncodes || 1 + code >= nlay || lay[1 + code] == 0)
			goto stop;
		e = lay[1 + code];
		if (e + 5 > nlay)
			goto stop;
		tag = lay[e];
		children = lay[e + 1] != 0;
		name_idx = lay[e + 2];
		nspecs = lay[e + 3];
		if (e + 5 + nspecs > nlay)
			goto stop;
		for (k = 0; k < nspecs; k++) {
			uint32_t form = lay[e + 5 + k];
			uint64_t len, v;
			unsigned size;
			if (k == name_idx) {
				name_form = form;
				name_pos = p;
			}
			switch (form) {
			case 0x0B: case 0x11: case 0x0C: /* data1, ref1, flag */
				len = 1;
				goto fixed;
			case 0x05: case 0x12:
				len = 2;
				goto fixed;
			case 0x06: case 0x13:
				len = 4;
				goto fixed;
			case 0x07: case 0x14: case 0x20:
				len = 8;
				goto fixed;
			case 0x1E: /* data16 */
				len = 16;
				goto fixed;
			case 0x29: case 0x2A: case 0x2B: case 0x2C: /* addrx1-4 */
				len = form - 0x28;
				goto fixed;
			case 0x1C: /* ref_sup4 */
				len = 4;
				goto fixed;
			case 0x24: /* ref_sup8 */
				len = 8;
				goto fixed;
			case 0x01: /* addr */
				len = asz;
				goto fixed;
			case 0x0D: case 0x0F: case 0x15: case 0x1B: case 0x22: case 0x23:
				if (leb_skip(b, n, &p) < 0)
					goto stop;
				break;
			case 0x08: { /* string */
				const uint8_t *z;
				if (p >= n)
					goto stop;
				z = memchr(b + p, 0, (size_t)(n - p));
				if (!z)
					goto stop;
				p = (uint64_t)(z - b) + 1;
				break;
			}
			case 0x0E: case 0x1F: case 0x17: case 0x10: case 0x1D:
				/* strp, line_strp, sec_offset, ref_addr, strp_sup: 4 or 8
				 * bytes read; ref_addr of DWARF 2 advances by the address size */
				size = (form != 0x10 || in->version > 2) ? osz : asz;
				if (p + (size == 8 ? 8 : 4) > n)
					goto stop;
				p += size;
				break;
			case 0x0A: case 0x03: case 0x04: case 0x09: case 0x18: /* blocks */
				if (form == 0x0A || form == 0x03 || form == 0x04) {
					unsigned w = form == 0x0A ? 1 : form == 0x03 ? 2 : 4;
					if (p + w > n)
						goto stop;
					len = rd(b + p, w, big);
					p += w;
				} else if (leb_val(b, n, &p, &len) < 0) {
					goto stop;
				}
				if (len > n - p)
					goto stop;
				p += len;
				break;
			case 0x19: case 0x21: /* flag_present, implicit_const */
				break;
			case 0x1A: case 0x25: case 0x26: case 0x27: case 0x28: /* strx */
				if (form == 0x1A) {
					if (leb_val(b, n, &p, &v) < 0)
						goto stop;
				} else {
					unsigned w = form - 0x24;
					if (p + w > n)
						goto stop;
					v = rd(b + p, w, big);
					p += w;
				}
				if (in->str_base < 0 || v > in->str_offsets_len / osz ||
				    (uint64_t)in->str_base + v * osz + osz > in->str_offsets_len)
					goto stop;
				break;
			default: /* indirect, unknown */
				goto stop;
			}
			continue;
fixed:
			if (len > n - p)
				goto stop;
			p += len;
		}
		interesting = tag == T_STRUCT || tag == T_UNION || tag == T_TYPEDEF || tag == T_ENUM ||
			      (tag == T_VARIABLE && depth == 1) || (tag == T_ENUMERATOR && enum_depth >= 0);
		if (interesting && name_idx < nspecs) {
			const uint8_t *s = NULL;
			uint64_t slen = 0, so, v = 0;
			switch (name_form) {
			case 0x08:
				s = b + name_pos;
				slen = (uint64_t)((const uint8_t *)memchr(s, 0, (size_t)(n - name_pos)) - s);
				break;
			case 0x0E: case 0x1F:
				so = rd(b + name_pos, osz == 8 ? 8 : 4, big);
				if (name_form == 0x0E)
					cstr_at(in->str, in->str_len, so, &s, &slen);
				else
					cstr_at(in->line_str, in->line_str_len, so, &s, &slen);
				break;
			case 0x1A: case 0x25: case 0x26: case 0x27: case 0x28:
				if (name_form == 0x1A) {
					uint64_t pp = name_pos;
					leb_val(b, n, &pp, &v);
				} else {
					v = rd(b + name_pos, name_form - 0x24, big);
				}
				so = rd(in->str_offsets + (uint64_t)in->str_base + v * osz, osz == 8 ? 8 : 4, big);
				cstr_at(in->str, in->str_len, so, &s, &slen);
				break;
			default: /* not a string: not indexed */
				break;
			}
			if (s && wanted(in, s, slen))
				goto stop;
		}
		if (children) {
			if (tag == T_ENUM && enum_depth < 0)
				enum_depth = depth;
			depth += 1;
		}
		continue;
stop:
		p = q;
		break;
	}
	*depth_io = depth;
	*enum_io = enum_depth;
	return p;
}

/* One pass over the abbreviation table at off of ab[0:n].  Without out:
 * sets *ncodes (1 + the largest code below 65536) and *size (the uint32s of
 * the layout).  With out (of *size uint32s, *ncodes as found): fills it.
 * Returns -1 when the table is not an ordinary one (it runs off the end, a
 * LEB128 longer than 9 bytes, a position from 2^32 up): Python then reads
 * it itself. */
static int
layout_pass(const uint8_t *ab, uint64_t n, uint64_t off, uint32_t *out, uint64_t *ncodes,
	    uint64_t *size)
{
	uint64_t p = off, at, form, code, tag, used, maxc = 0;
	used = out ? 1 + *ncodes : 0;
	if (out) {
		memset(out, 0, (size_t)(*size * 4));
		out[0] = (uint32_t)*ncodes;
	}
	for (;;) {
		uint64_t pos = p, nspecs = 0, e = used;
		int children, keep;
		if (leb_val(ab, n, &p, &code) < 0)
			return -1;
		if (code == 0)
			break;
		if (pos > 0xffffffffu || leb_val(ab, n, &p, &tag) < 0 || p >= n)
			return -1;
		children = ab[p++] != 0;
		keep = code < 65536;
		if (keep && code + 1 > maxc)
			maxc = code + 1;
		if (keep && out) {
			out[1 + code] = (uint32_t)e;
			out[e] = tag > 0xffffffffu ? 0xffffffffu : (uint32_t)tag;
			out[e + 1] = (uint32_t)children;
			out[e + 2] = 0xffffffffu;
			out[e + 4] = (uint32_t)pos;
		}
		for (;;) {
			if (leb_val(ab, n, &p, &at) < 0 || leb_val(ab, n, &p, &form) < 0)
				return -1;
			if (form == 0x21 && leb_skip(ab, n, &p) < 0)
				return -1;
			if (at == 0 && form == 0)
				break;
			if (keep && out) {
				if (at == 0x03)
					out[e + 2] = (uint32_t)nspecs;
				out[e + 5 + nspecs] = form > 0xffffffffu ? 0xffffffffu : (uint32_t)form;
			}
			nspecs++;
		}
		if (keep) {
			if (out)
				out[e + 3] = (uint32_t)nspecs;
			used += 5 + nspecs;
			if (!out && 1 + 65536 + used > 0x7fffffffu)
				return -1;
		}
	}
	if (!out) {
		*ncodes = maxc;
		*size = 1 + maxc + used;
	}
	return 0;
}

int
pmd_dwarf_layout_size(const uint8_t *ab, uint64_t n, uint64_t off, uint64_t *ncodes, uint64_t *size)
{
	return layout_pass(ab, n, off, NULL, ncodes, size);
}

int
pmd_dwarf_layout(const uint8_t *ab, uint64_t n, uint64_t off, uint64_t ncodes, uint64_t size,
		 uint32_t *out)
{
	return layout_pass(ab, n, off, out, &ncodes, &size);
}
