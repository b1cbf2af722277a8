/* output.c - the arrays the model commands write, as NPY or CSV,
 * atomically. */
#include "common.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

/* 1 if path ends in ext, in any case. */
static int has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), k = strlen(ext);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (tolower((unsigned char)path[n - k + i]) != ext[i])
			return 0;
	return 1;
}

double aert_real_at(aert_dtype t, const void *data, size_t i)
{
	return t == AERT_F64 ? ((const double *)data)[i] : ((const float *)data)[i];
}

/* NPY v1.0: magic, version, a little-endian header length, the header
 * padded with spaces to a multiple of 64 bytes, the data. */
static void write_npy(FILE *f, aert_dtype t, size_t rows, size_t cols, const void *data)
{
	char head[128];
	int len = snprintf(head, sizeof head, "{'descr': '<f%d', 'fortran_order': False, 'shape': (%zu, %zu), }",
			   t == AERT_F64 ? 8 : 4, rows, cols);
	int total = 10 + len + 1;
	int pad = (64 - total % 64) % 64;
	unsigned short hl = (unsigned short)(len + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc(hl & 0xff, f);
	fputc(hl >> 8, f);
	fwrite(head, 1, (size_t)len, f);
	for (int i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	size_t bytes = aert_dtype_size(t) * rows * cols;
	if (aert_host_is_le()) {
		fwrite(data, 1, bytes, f);
		return;
	}
	unsigned char buf[8];
	for (size_t i = 0; i < rows * cols; i++) {
		memcpy(buf, (const unsigned char *)data + i * aert_dtype_size(t), aert_dtype_size(t));
		aert_swap_bytes(buf, 1, aert_dtype_size(t));
		fwrite(buf, 1, aert_dtype_size(t), f);
	}
}

static void write_csv(FILE *f, aert_dtype t, size_t rows, size_t cols, const void *data, const char *const *names)
{
	if (names) {
		for (size_t j = 0; j < cols; j++)
			fprintf(f, "%s%s", j ? "," : "", names[j]);
		fputc('\n', f);
	}
	int digits = t == AERT_F64 ? 17 : 9;
	for (size_t i = 0; i < rows; i++) {
		for (size_t j = 0; j < cols; j++)
			fprintf(f, "%s%.*g", j ? "," : "", digits, aert_real_at(t, data, i * cols + j));
		fputc('\n', f);
	}
}

int aert_write_array(const char *path, aert_dtype t, size_t rows, size_t cols, const void *data,
		     const char *const *names, aert_err *err)
{
	if (t != AERT_F32 && t != AERT_F64)
		return aert_fail(err, path, "arrays are written as float32 or float64");
	aert_out o;
	if (aert_out_open(&o, path, err) != 0)
		return -1;
	if (has_ext(path, ".csv"))
		write_csv(o.f, t, rows, cols, data, names);
	else
		write_npy(o.f, t, rows, cols, data);
	return aert_out_commit(&o, err);
}

