/* output.c - what the model commands write: arrays as NPY or CSV, and
 * image grids as PNG (libpng). Every file is written atomically. */
#include "common.h"

#include <ctype.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
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

static double element(aert_dtype t, const void *data, size_t i)
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
			fprintf(f, "%s%.*g", j ? "," : "", digits, element(t, data, i * cols + j));
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

/* libpng reports errors through a longjmp; its message goes into err. */
typedef struct png_ctx {
	aert_err *err;
	const char *path;
	jmp_buf jump;
} png_ctx;

static void png_error_fn(png_structp png, png_const_charp msg)
{
	png_ctx *c = png_get_error_ptr(png);
	aert_fail(c->err, c->path, "cannot write the PNG: %s", msg);
	longjmp(c->jump, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int aert_write_png(const char *path, const unsigned char *pixels, size_t width, size_t height, int channels,
		   aert_err *err)
{
	if (width == 0 || height == 0 || width > 1000000 || height > 1000000 || (channels != 1 && channels != 3))
		return aert_fail(err, path, "cannot write a %zux%zu PNG of %d channels", width, height, channels);
	aert_out o;
	if (aert_out_open(&o, path, err) != 0)
		return -1;
	png_ctx c = {.err = err, .path = path};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_error_fn, png_warning_fn);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		aert_out_abort(&o);
		return aert_fail(err, path, "out of memory");
	}
	if (setjmp(c.jump)) {
		png_destroy_write_struct(&png, &info);
		aert_out_abort(&o);
		return -1;
	}
	png_init_io(png, o.f);
	png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
		     channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (size_t y = 0; y < height; y++)
		png_write_row(png, pixels + y * width * (size_t)channels);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return aert_out_commit(&o, err);
}

int aert_image_shape(const aert_input *in, aert_image *im)
{
	*im = (aert_image){0};
	if (in->rank == 3 && (in->dims[0] == 1 || in->dims[0] == 3))
		*im = (aert_image){(int)in->dims[0], in->dims[1], in->dims[2]};
	else if (in->rank == 2)
		*im = (aert_image){1, in->dims[0], in->dims[1]};
	else if (in->rank == 1) {
		size_t s = (size_t)(sqrt((double)in->size) + 0.5);
		if (s * s == in->size)
			*im = (aert_image){1, s, s};
	}
	return im->channels ? 0 : -1;
}

int aert_write_grid(const char *path, const aert_image *im, const aert_grid_row *rows, int nrows, int cols,
		    int zoom, aert_err *err)
{
	const int gap = 2; /* separator pixels between images and around the grid */
	if (nrows < 1 || cols < 1 || zoom < 1)
		return aert_fail(err, path, "an image grid needs at least one row and one column");
	size_t cw = im->width * (size_t)zoom, ch = im->height * (size_t)zoom, C = (size_t)im->channels;
	size_t W = (size_t)cols * (cw + gap) + gap, H = (size_t)nrows * (ch + gap) + gap;
	if (W > 1000000 || H > 1000000)
		return aert_fail(err, path, "the image grid would be %zux%zu pixels", W, H);
	unsigned char *px = malloc(W * H * C);
	if (!px)
		return aert_fail(err, path, "out of memory");
	memset(px, 96, W * H * C); /* grey separators */
	for (int r = 0; r < nrows; r++)
		for (int k = 0; k < rows[r].n && k < cols; k++) {
			size_t x0 = gap + (size_t)k * (cw + gap), y0 = gap + (size_t)r * (ch + gap);
			size_t sample = im->channels * im->height * im->width;
			for (size_t y = 0; y < ch; y++)
				for (size_t x = 0; x < cw; x++)
					for (size_t c = 0; c < C; c++) {
						/* channels first, as the model's [C, H, W] */
						size_t e = (size_t)k * sample + c * im->height * im->width +
							   (y / (size_t)zoom) * im->width + x / (size_t)zoom;
						double v = element(rows[r].dtype, rows[r].data, e);
						v = isfinite(v) ? v : 0;
						v = v < 0 ? 0 : v > 1 ? 1 : v;
						px[((y0 + y) * W + x0 + x) * C + c] = (unsigned char)lrint(v * 255);
					}
		}
	int rc = aert_write_png(path, px, W, H, im->channels, err);
	free(px);
	return rc;
}
