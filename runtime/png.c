/* png.c - pictures for the model commands: PNG files (libpng) and grids
 * of a model's samples drawn as images. Every file is written atomically.
 * Its own object, so that only programs that draw link libpng. */
#include "common.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>

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
						double v = aert_real_at(rows[r].dtype, rows[r].data, e);
						v = isfinite(v) ? v : 0;
						v = v < 0 ? 0 : v > 1 ? 1 : v;
						px[((y0 + y) * W + x0 + x) * C + c] = (unsigned char)lrint(v * 255);
					}
		}
	int rc = aert_write_png(path, px, W, H, im->channels, err);
	free(px);
	return rc;
}
