/* Python binding of the accel kernels: argument conversion only.
 * Builds pymakedumpfile._accel.  Multi-phase init, no global state; the GIL
 * is released around every loop. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
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

static PyMethodDef accel_methods[] = {
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
