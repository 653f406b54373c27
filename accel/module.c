/* Python binding of the accel kernels: argument conversion only.
 * Builds pymakedumpfile._accel.  Multi-phase init, no global state; the GIL
 * is released around every loop. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "accel.h"

static PyObject *
accel_is_zero(PyObject *self, PyObject *args)
{
	Py_buffer b;
	int r;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*:is_zero", &b))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = pmd_is_zero(b.buf, (size_t)b.len);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&b);
	return PyBool_FromLong(r);
}

static PyObject *
accel_zero_pages(PyObject *self, PyObject *args)
{
	Py_buffer b;
	Py_ssize_t page_size;
	size_t count, zeros;
	PyObject *out;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*n:zero_pages", &b, &page_size))
		return NULL;
	if (page_size <= 0 || b.len % page_size) {
		PyBuffer_Release(&b);
		PyErr_SetString(PyExc_ValueError, "buffer is not a whole number of pages");
		return NULL;
	}
	count = (size_t)(b.len / page_size);
	out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((count + 7) / 8));
	if (!out) {
		PyBuffer_Release(&b);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	zeros = pmd_zero_pages(b.buf, (size_t)page_size, count,
			       (uint8_t *)PyBytes_AS_STRING(out));
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&b);
	return Py_BuildValue("(Nn)", out, (Py_ssize_t)zeros);
}

static PyObject *
accel_popcount(PyObject *self, PyObject *args)
{
	Py_buffer b;
	uint64_t n;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*:popcount", &b))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	n = pmd_popcount(b.buf, (size_t)b.len);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&b);
	return PyLong_FromUnsignedLongLong(n);
}

static PyObject *
accel_lzo1x_1_compress(PyObject *self, PyObject *args)
{
	Py_buffer b;
	PyObject *out;
	void *wrk;
	size_t dst_len;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*:lzo1x_1_compress", &b))
		return NULL;
	if ((unsigned long long)b.len > 0xFFFFFFF0ull) {
		PyBuffer_Release(&b);
		PyErr_SetString(PyExc_ValueError, "lzo1x_1_compress: input of 4 GiB or more");
		return NULL;
	}
	dst_len = PMD_LZO_BOUND((size_t)b.len);
	out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)dst_len);
	wrk = malloc(PMD_LZO1X_1_MEM);
	if (!out || !wrk) {
		Py_XDECREF(out);
		free(wrk);
		PyBuffer_Release(&b);
		return PyErr_NoMemory();
	}
	Py_BEGIN_ALLOW_THREADS
	pmd_lzo1x_1_init(wrk);
	pmd_lzo1x_1_compress(b.buf, (size_t)b.len, (uint8_t *)PyBytes_AS_STRING(out),
			     &dst_len, wrk);
	Py_END_ALLOW_THREADS
	free(wrk);
	PyBuffer_Release(&b);
	if (_PyBytes_Resize(&out, (Py_ssize_t)dst_len) < 0)
		return NULL;
	return out;
}

static PyObject *
accel_lzo1x_decompress_safe(PyObject *self, PyObject *args)
{
	Py_buffer b;
	Py_ssize_t cap;
	PyObject *out;
	size_t dst_len;
	int r;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*n:lzo1x_decompress_safe", &b, &cap))
		return NULL;
	if (cap < 0) {
		PyBuffer_Release(&b);
		PyErr_SetString(PyExc_ValueError, "negative output size");
		return NULL;
	}
	out = PyBytes_FromStringAndSize(NULL, cap);
	if (!out) {
		PyBuffer_Release(&b);
		return NULL;
	}
	dst_len = (size_t)cap;
	Py_BEGIN_ALLOW_THREADS
	r = pmd_lzo1x_decompress_safe(b.buf, (size_t)b.len,
				      (uint8_t *)PyBytes_AS_STRING(out), &dst_len);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&b);
	if (r != 0) {
		Py_DECREF(out);
		PyErr_Format(PyExc_ValueError, "corrupt LZO data (error %d)", r);
		return NULL;
	}
	if (_PyBytes_Resize(&out, (Py_ssize_t)dst_len) < 0)
		return NULL;
	return out;
}

static PyObject *
accel_classify(PyObject *self, PyObject *args)
{
	Py_buffer pages, params, valid, keep, counters;
	unsigned long long nstruct, pfn0, count, skip_until, nbits, r = 0;
	int ok = 1;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*KKKKy*y*w*Kw*:classify", &pages, &nstruct, &pfn0,
			      &count, &skip_until, &params, &valid, &keep, &nbits, &counters))
		return NULL;
	if (params.len < (Py_ssize_t)(PMD_C_NPARAMS * sizeof(int64_t)) ||
	    counters.len < (Py_ssize_t)(PMD_CNT_N * sizeof(uint64_t))) {
		PyErr_SetString(PyExc_ValueError, "params or counters array too short");
		ok = 0;
	} else {
		const int64_t *prm = params.buf;
		uint64_t sz = (uint64_t)prm[PMD_C_SIZE_PAGE];
		if (sz == 0 || nstruct < count || (uint64_t)pages.len / sz < nstruct ||
		    (uint64_t)valid.len * 8 < nbits || (uint64_t)keep.len * 8 < nbits) {
			PyErr_SetString(PyExc_ValueError, "buffer sizes do not match the arguments");
			ok = 0;
		} else {
			/* every field offset must lie inside a struct page */
			static const int offs[] = {PMD_C_OFF_FLAGS, PMD_C_OFF_MAPPING, PMD_C_OFF_MAPCOUNT,
				PMD_C_OFF_PRIVATE, PMD_C_OFF_COMPOUND_HEAD, PMD_C_ORDER_OFF, PMD_C_DTOR_OFF};
			size_t j;
			for (j = 0; j < sizeof(offs) / sizeof(offs[0]); j++)
				if (prm[offs[j]] < -1 || (prm[offs[j]] >= 0 && (uint64_t)prm[offs[j]] + 8 > sz))
					ok = 0;
			/* flags and mapping are always read; so are the order and
			 * destructor offsets when their width is set */
			if (prm[PMD_C_OFF_FLAGS] < 0 || prm[PMD_C_OFF_MAPPING] < 0 ||
			    (prm[PMD_C_ORDER_WIDTH] > 0 && prm[PMD_C_ORDER_OFF] < 0) ||
			    (prm[PMD_C_DTOR_WIDTH] > 0 && prm[PMD_C_DTOR_OFF] < 0) ||
			    prm[PMD_C_ORDER_WIDTH] < 0 || prm[PMD_C_DTOR_WIDTH] < 0)
				ok = 0;
			if (prm[PMD_C_ULONG_SIZE] != 4 && prm[PMD_C_ULONG_SIZE] != 8)
				ok = 0;
			if (prm[PMD_C_ORDER_WIDTH] > 8 || prm[PMD_C_DTOR_WIDTH] > 8)
				ok = 0;
			if (!ok)
				PyErr_SetString(PyExc_ValueError, "struct page field offsets out of range");
		}
	}
	if (ok) {
		Py_BEGIN_ALLOW_THREADS
		r = pmd_classify(pages.buf, nstruct, pfn0, count, skip_until, params.buf,
				 valid.buf, keep.buf, nbits, counters.buf);
		Py_END_ALLOW_THREADS
	}
	PyBuffer_Release(&pages);
	PyBuffer_Release(&params);
	PyBuffer_Release(&valid);
	PyBuffer_Release(&keep);
	PyBuffer_Release(&counters);
	if (!ok)
		return NULL;
	return PyLong_FromUnsignedLongLong(r);
}

typedef size_t (*pmd_pages_fn)(const uint8_t *, size_t, size_t, const uint8_t *, uint8_t *, uint32_t *,
				 uint32_t *, int, int *);

/* (buf, page_size, skip, sizes, flags[, level]) -> data, for a batch
 * kernel: lzo_pages (no level), zlib_pages, zstd_pages.  out_bound: the
 * output room a page needs at worst; the page size must exceed smallest. */
static PyObject *
codec_pages(PyObject *args, const char *fmt, pmd_pages_fn fn, int minlevel, int maxlevel,
	    size_t (*out_bound)(size_t), Py_ssize_t smallest)
{
	Py_buffer b, skip = {0}, sizes, flags;
	Py_ssize_t ps;
	int level = 0, err = 0;
	PyObject *skipobj, *out = NULL;
	size_t n, used = 0;
	int ok = 1;
	if (!PyArg_ParseTuple(args, fmt, &b, &ps, &skipobj, &sizes, &flags, &level))
		return NULL;
	if (ps <= smallest || b.len % ps) {
		PyErr_SetString(PyExc_ValueError, "buffer is not a whole number of pages");
		ok = 0;
	}
	n = ok ? (size_t)(b.len / ps) : 0;
	if (ok && skipobj != Py_None) {
		if (PyObject_GetBuffer(skipobj, &skip, PyBUF_SIMPLE) < 0)
			ok = 0;
		else if ((size_t)skip.len * 8 < n) {
			PyErr_SetString(PyExc_ValueError, "skip bitmap too short");
			ok = 0;
		}
	}
	if (ok && ((size_t)sizes.len < n * 4 || (size_t)flags.len < n * 4)) {
		PyErr_SetString(PyExc_ValueError, "sizes/flags arrays too short");
		ok = 0;
	}
	if (ok && (level < minlevel || level > maxlevel)) {
		PyErr_SetString(PyExc_ValueError, "compression level out of range");
		ok = 0;
	}
	if (ok) {
		out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * out_bound((size_t)ps)));
		if (!out) {
			PyErr_NoMemory();
			ok = 0;
		}
	}
	if (ok) {
		Py_BEGIN_ALLOW_THREADS
		used = fn(b.buf, (size_t)ps, n, skip.buf, (uint8_t *)PyBytes_AS_STRING(out), sizes.buf, flags.buf,
			  level, &err);
		Py_END_ALLOW_THREADS
		if (err) {
			PyErr_NoMemory();
			ok = 0;
		}
	}
	PyBuffer_Release(&b);
	if (skip.obj)
		PyBuffer_Release(&skip);
	PyBuffer_Release(&sizes);
	PyBuffer_Release(&flags);
	if (!ok) {
		Py_XDECREF(out);
		return NULL;
	}
	if (_PyBytes_Resize(&out, (Py_ssize_t)used) < 0)
		return NULL;
	return out;
}

static size_t page_bound(size_t ps) { return ps; }
static size_t lzo_bound(size_t ps) { return PMD_LZO_BOUND(ps); }

/* pmd_lzo_pages with the batch signature: its work memory made here */
static size_t lzo_pages_fn(const uint8_t *buf, size_t ps, size_t n, const uint8_t *skip, uint8_t *out,
			   uint32_t *sizes, uint32_t *flags, int level, int *err)
{
	void *wrk = malloc(PMD_LZO1X_1_MEM);
	size_t used;
	(void)level;
	*err = 0;
	if (!wrk) {
		*err = 1;
		return 0;
	}
	pmd_lzo1x_1_init(wrk);
	used = pmd_lzo_pages(buf, ps, n, skip, out, sizes, flags, wrk);
	free(wrk);
	return used;
}

static PyObject *
accel_lzo_pages(PyObject *self, PyObject *args)
{
	(void)self;
	return codec_pages(args, "y*nOw*w*:lzo_pages", lzo_pages_fn, 0, 0, lzo_bound, 0);
}

#ifdef PMD_HAVE_ZLIB
static PyObject *
accel_zlib_pages(PyObject *self, PyObject *args)
{
	(void)self;
	return codec_pages(args, "y*nOw*w*i:zlib_pages", pmd_zlib_pages, -1, 9, page_bound, 1);
}
#endif

#ifdef PMD_HAVE_LIBDEFLATE
static PyObject *
accel_deflate_pages(PyObject *self, PyObject *args)
{
	(void)self;
	return codec_pages(args, "y*nOw*w*i:deflate_pages", pmd_deflate_pages, 0, 12, page_bound, 1);
}
#endif

#ifdef PMD_HAVE_ZSTD
static PyObject *
accel_zstd_pages(PyObject *self, PyObject *args)
{
	(void)self;
	return codec_pages(args, "y*nOw*w*i:zstd_pages", pmd_zstd_pages, -7, 22, page_bound, 1);
}
#endif

static PyObject *
accel_build_descs(PyObject *self, PyObject *args)
{
	Py_buffer sizes, flags;
	unsigned long long data_pos, zero_off, end = 0;
	unsigned int ps;
	int big;
	PyObject *out = NULL;
	size_t n;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*y*KKIp:build_descs", &sizes, &flags, &data_pos, &zero_off, &ps, &big))
		return NULL;
	n = (size_t)sizes.len / 4;
	if ((size_t)flags.len / 4 != n) {
		PyErr_SetString(PyExc_ValueError, "sizes and flags differ in length");
	} else if ((out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(24 * n))) != NULL) {
		Py_BEGIN_ALLOW_THREADS
		end = pmd_build_descs(sizes.buf, flags.buf, n, data_pos, zero_off, ps, big,
				      (uint8_t *)PyBytes_AS_STRING(out));
		Py_END_ALLOW_THREADS
	}
	PyBuffer_Release(&sizes);
	PyBuffer_Release(&flags);
	if (!out)
		return NULL;
	return Py_BuildValue("(NK)", out, end);
}

/* (fd, descs, big, ps, data_start, file_size[, regions]) -> (pages, count,
 * need_off, need_len): the pages of a kdump file's run read and decompressed;
 * count < the descriptors' when a page could not be (pages holds those before
 * it, and no more).  With fd < 0 the data come from regions, up to two
 * (offset, buffer) pairs; need_*: the bytes the page it stopped at wanted. */
static PyObject *
accel_kdump_unpack(PyObject *self, PyObject *args)
{
	Py_buffer descs, mem[2];
	int fd, big, nreg = 0, ok = 1;
	Py_ssize_t ps;
	unsigned long long data_start, file_size;
	PyObject *out = NULL, *regions = NULL, *seq = NULL;
	struct pmd_unpack_src src;
	size_t n, got = 0;
	(void)self;
	memset(&src, 0, sizeof(src));
	if (!PyArg_ParseTuple(args, "iy*pnKK|O:kdump_unpack", &fd, &descs, &big, &ps, &data_start, &file_size,
			      &regions))
		return NULL;
	src.fd = fd;
	n = (size_t)descs.len / 24;
	if (ps <= 0 || (size_t)descs.len % 24 || n > (size_t)PY_SSIZE_T_MAX / (size_t)ps) {
		PyErr_SetString(PyExc_ValueError, "bad page size or descriptors");
		ok = 0;
	}
	if (ok && regions && regions != Py_None) {
		seq = PySequence_Fast(regions, "regions must be a sequence of (offset, buffer)");
		if (!seq || PySequence_Fast_GET_SIZE(seq) > 2) {
			if (seq)
				PyErr_SetString(PyExc_ValueError, "at most two regions");
			ok = 0;
		}
		for (Py_ssize_t r = 0; ok && r < PySequence_Fast_GET_SIZE(seq); r++) {
			unsigned long long base;
			if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, r), "Ky*", &base, &mem[nreg])) {
				ok = 0;
				break;
			}
			src.mem[nreg] = mem[nreg].buf;
			src.base[nreg] = base;
			src.len[nreg] = (size_t)mem[nreg].len;
			nreg++;
		}
	}
	if (ok && !(out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * (size_t)ps))))
		ok = 0;
	if (ok) {
		Py_BEGIN_ALLOW_THREADS
		got = pmd_kdump_unpack(&src, descs.buf, n, big, (size_t)ps, data_start, file_size,
				       (uint8_t *)PyBytes_AS_STRING(out));
		Py_END_ALLOW_THREADS
	}
	for (int r = 0; r < nreg; r++)
		PyBuffer_Release(&mem[r]);
	Py_XDECREF(seq);
	PyBuffer_Release(&descs);
	if (!ok)
		return NULL;
	if (got < n && _PyBytes_Resize(&out, (Py_ssize_t)(got * (size_t)ps)) < 0)
		return NULL;
	return Py_BuildValue("(NnKK)", out, (Py_ssize_t)got, (unsigned long long)src.need_off,
			     (unsigned long long)src.need_len);
}

/* glibc's heap for this workload: the page batches (megabytes, freed and
 * allocated again for every batch) stay in one heap and are reused, instead
 * of being mapped and unmapped each time (the default once glibc's dynamic
 * threshold settles, and a page fault for every 4 KiB of every batch: most
 * of the system time of a dump).  A fixed mmap threshold of 4 MiB keeps
 * the threshold from growing, one arena keeps the worker threads from each
 * holding a heap of their own, and a 16 MiB trim threshold returns what is
 * beyond that, so memory stays flat over a long dump. */
static PyObject *accel_tune_malloc(PyObject *self, PyObject *noargs)
{
	(void)self;
	(void)noargs;
#ifdef __GLIBC__
	if (mallopt(M_MMAP_THRESHOLD, 4 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 16 << 20) == 1 &&
	    mallopt(M_ARENA_MAX, 1) == 1)
		Py_RETURN_TRUE;
#endif
	Py_RETURN_FALSE;
}

static PyObject *
accel_dwarf_skip(PyObject *self, PyObject *args)
{
	Py_buffer info, layout, str, line_str, str_offsets, names;
	PyObject *names_obj, *result = NULL;
	unsigned long long p, end;
	long long depth, enum_depth, str_base;
	unsigned int osz, asz, version;
	int big;
	struct pmd_dwarf_in in;
	int64_t d, ed;
	uint64_t r;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*KKLLy*Oy*y*y*LIIIp:dwarf_skip", &info, &p, &end, &depth,
			      &enum_depth, &layout, &names_obj, &str, &line_str, &str_offsets,
			      &str_base, &osz, &asz, &version, &big))
		return NULL;
	names.buf = NULL;
	names.obj = NULL;
	if (names_obj != Py_None && PyObject_GetBuffer(names_obj, &names, PyBUF_SIMPLE) < 0)
		goto fail;
	if ((osz != 4 && osz != 8) || layout.len % 4) {
		PyErr_SetString(PyExc_ValueError, "dwarf_skip: bad offset size or layout");
		goto fail;
	}
	in.info = info.buf;
	in.info_len = (uint64_t)info.len;
	in.layout = layout.buf;
	in.layout_len = (uint64_t)layout.len / 4;
	in.names = names.buf;
	in.names_len = names.buf ? (uint64_t)names.len : 0;
	in.str = str.buf;
	in.str_len = (uint64_t)str.len;
	in.line_str = line_str.buf;
	in.line_str_len = (uint64_t)line_str.len;
	in.str_offsets = str_offsets.buf;
	in.str_offsets_len = (uint64_t)str_offsets.len;
	in.str_base = str_base;
	in.osz = osz;
	in.asz = asz;
	in.version = version;
	in.big = big;
	d = depth;
	ed = enum_depth;
	Py_BEGIN_ALLOW_THREADS
	r = pmd_dwarf_skip(&in, p, end, &d, &ed);
	Py_END_ALLOW_THREADS
	result = Py_BuildValue("(KLL)", (unsigned long long)r, (long long)d, (long long)ed);
fail:  /* and the way out on success: the buffers are released either way */
	if (names.obj)
		PyBuffer_Release(&names);
	PyBuffer_Release(&info);
	PyBuffer_Release(&layout);
	PyBuffer_Release(&str);
	PyBuffer_Release(&line_str);
	PyBuffer_Release(&str_offsets);
	return result;
}

static PyObject *
accel_dwarf_layout(PyObject *self, PyObject *args)
{
	Py_buffer ab;
	unsigned long long off;
	uint64_t ncodes = 0, size = 0;
	PyObject *out;
	int r;
	(void)self;
	if (!PyArg_ParseTuple(args, "y*K:dwarf_layout", &ab, &off))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = pmd_dwarf_layout_size(ab.buf, (uint64_t)ab.len, off, &ncodes, &size);
	Py_END_ALLOW_THREADS
	if (r < 0) {
		PyBuffer_Release(&ab);
		Py_RETURN_NONE;
	}
	out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(size * 4));
	if (!out) {
		PyBuffer_Release(&ab);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	r = pmd_dwarf_layout(ab.buf, (uint64_t)ab.len, off, ncodes, size,
			     (uint32_t *)PyBytes_AS_STRING(out));
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&ab);
	if (r < 0) {
		Py_DECREF(out);
		Py_RETURN_NONE;
	}
	return out;
}

static PyMethodDef accel_methods[] = {
	{"tune_malloc", accel_tune_malloc, METH_NOARGS, NULL},
	{"lzo_pages", accel_lzo_pages, METH_VARARGS, NULL},
#ifdef PMD_HAVE_LIBDEFLATE
	{"deflate_pages", accel_deflate_pages, METH_VARARGS, NULL},
#endif
#ifdef PMD_HAVE_ZLIB
	{"zlib_pages", accel_zlib_pages, METH_VARARGS, NULL},
#endif
#ifdef PMD_HAVE_ZSTD
	{"zstd_pages", accel_zstd_pages, METH_VARARGS, NULL},
#endif
	{"build_descs", accel_build_descs, METH_VARARGS, NULL},
	{"kdump_unpack", accel_kdump_unpack, METH_VARARGS, NULL},
	{"classify", accel_classify, METH_VARARGS, NULL},
	{"dwarf_skip", accel_dwarf_skip, METH_VARARGS, NULL},
	{"dwarf_layout", accel_dwarf_layout, METH_VARARGS, NULL},
	{"is_zero", accel_is_zero, METH_VARARGS, NULL},
	{"zero_pages", accel_zero_pages, METH_VARARGS, NULL},
	{"popcount", accel_popcount, METH_VARARGS, NULL},
	{"lzo1x_1_compress", accel_lzo1x_1_compress, METH_VARARGS, NULL},
	{"lzo1x_decompress_safe", accel_lzo1x_decompress_safe, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot accel_slots[] = {
	{0, NULL},
};

static struct PyModuleDef accel_module = {
	PyModuleDef_HEAD_INIT, "pymakedumpfile._accel",
	"Compiled kernels of pymakedumpfile (see pymakedumpfile.accel).",
	0, accel_methods, accel_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
	return PyModuleDef_Init(&accel_module);
}
