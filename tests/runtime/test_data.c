/* test_data.c - IDX, CSV and NPY loading, batches and one-hot rows. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aecc_rt.h"
#include "helpers.h"

TestSuite(idx, .init = tmp_setup, .fini = tmp_teardown);
TestSuite(csv, .init = tmp_setup, .fini = tmp_teardown);
TestSuite(npy, .init = tmp_setup, .fini = tmp_teardown);
TestSuite(batch, .init = tmp_setup, .fini = tmp_teardown);

#define FASHION "/usr/share/datasets/fashion-mnist/"

/* Load path with aert_load_any and expect failure with a message that
 * starts with the path and contains `part`. */
static void expect_load_error(const char *path, const char *part)
{
	aert_dataset ds;
	aert_err err;
	memset(&ds, 0xA5, sizeof ds);
	cr_assert_eq(aert_load_any(path, &ds, &err), -1, "loading %s should fail", path);
	cr_expect_null(ds.data, "a failed load leaves no data");
	cr_expect_null(ds.path);
	cr_expect_eq(strncmp(err.msg, path, strlen(path)), 0, "message names the file: %s", err.msg);
	cr_expect_not_null(strstr(err.msg, part), "message '%s' should contain '%s'", err.msg, part);
}

/* ---- IDX ---- */

static const unsigned char PIXELS[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
static const uint32_t IMAGE_DIMS[3] = {3, 2, 2};

static void check_images(const aert_dataset *ds, const char *path)
{
	cr_assert_eq(ds->dtype, AERT_U8);
	cr_assert_eq(ds->n, 3);
	cr_assert_eq(ds->rank, 2);
	cr_assert_eq(ds->dims[0], 2);
	cr_assert_eq(ds->dims[1], 2);
	cr_assert_eq(ds->sample, 4);
	cr_assert_arr_eq(ds->data, PIXELS, sizeof PIXELS);
	cr_assert_str_eq(ds->path, path);
}

Test(idx, raw_round_trip)
{
	size_t len;
	unsigned char *img = make_idx(0x08, 3, IMAGE_DIMS, PIXELS, sizeof PIXELS, &len);
	char *path = tmp_path("images.idx");
	write_bytes(path, img, len);
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_idx(path, &ds, &err), 0, "%s", err.msg);
	check_images(&ds, path);
	aert_dataset_free(&ds);
	cr_assert_null(ds.data);
	free(img);
	free(path);
}

Test(idx, gzipped_round_trip)
{
	size_t len;
	unsigned char *img = make_idx(0x08, 3, IMAGE_DIMS, PIXELS, sizeof PIXELS, &len);
	char *path = tmp_path("images-idx3-ubyte.gz");
	write_gz(path, img, len);
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_any(path, &ds, &err), 0, "%s", err.msg);
	check_images(&ds, path);
	aert_dataset_free(&ds);
	free(img);
	free(path);
}

Test(idx, labels_have_rank_zero)
{
	const unsigned char labels[5] = {9, 0, 0, 3, 1};
	const uint32_t dims[1] = {5};
	size_t len;
	unsigned char *img = make_idx(0x08, 1, dims, labels, sizeof labels, &len);
	char *path = tmp_path("labels.idx");
	write_bytes(path, img, len);
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_idx(path, &ds, &err), 0, "%s", err.msg);
	cr_assert_eq(ds.n, 5);
	cr_assert_eq(ds.rank, 0);
	cr_assert_eq(ds.sample, 1);
	cr_assert_arr_eq(ds.data, labels, sizeof labels);
	aert_dataset_free(&ds);
	free(img);
	free(path);
}

/* Big-endian bytes of each value, as IDX stores them. */
static void be_floats(unsigned char *out, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		for (int k = 0; k < 4; k++)
			out[4 * i + (size_t)k] = (unsigned char)(bits >> (24 - 8 * k));
	}
}

static void be_doubles(unsigned char *out, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &v[i], 8);
		for (int k = 0; k < 8; k++)
			out[8 * i + (size_t)k] = (unsigned char)(bits >> (56 - 8 * k));
	}
}

Test(idx, float_and_double_elements)
{
	const float f[4] = {1.5f, -2.25f, 3e10f, 0};
	const double d[2] = {0.1, -1e300};
	unsigned char be[32];
	const uint32_t fdims[2] = {2, 2}, ddims[1] = {2};
	size_t len;
	aert_dataset ds;
	aert_err err;

	be_floats(be, f, 4);
	unsigned char *img = make_idx(0x0D, 2, fdims, be, 16, &len);
	char *path = tmp_path("floats.idx");
	write_bytes(path, img, len);
	cr_assert_eq(aert_load_idx(path, &ds, &err), 0, "%s", err.msg);
	cr_assert_eq(ds.dtype, AERT_F32);
	cr_assert_eq(ds.n, 2);
	cr_assert_eq(ds.sample, 2);
	cr_assert_arr_eq(ds.data, f, sizeof f);
	aert_dataset_free(&ds);
	free(img);
	free(path);

	be_doubles(be, d, 2);
	img = make_idx(0x0E, 1, ddims, be, 16, &len);
	path = tmp_path("doubles.idx");
	write_gz(path, img, len);
	cr_assert_eq(aert_load_idx(path, &ds, &err), 0, "%s", err.msg);
	cr_assert_eq(ds.dtype, AERT_F64);
	cr_assert_arr_eq(ds.data, d, sizeof d);
	aert_dataset_free(&ds);
	free(img);
	free(path);
}

Test(idx, truncated_pixels)
{
	size_t len;
	unsigned char *img = make_idx(0x08, 3, IMAGE_DIMS, PIXELS, 10, &len);
	char *raw = tmp_path("short.idx"), *gz = tmp_path("short.idx.gz");
	write_bytes(raw, img, len);
	write_gz(gz, img, len);
	expect_load_error(raw, "truncated: expected 12 bytes of pixels, found 10");
	expect_load_error(gz, "truncated: expected 12 bytes of pixels, found 10");
	free(img);
	free(raw);
	free(gz);
}

Test(idx, truncated_gzip_stream)
{
	unsigned char pixels[4096];
	for (size_t i = 0; i < sizeof pixels; i++)
		pixels[i] = (unsigned char)(i * 7919 >> 3);
	const uint32_t dims[3] = {4, 32, 32};
	size_t len, gz_len;
	unsigned char *img = make_idx(0x08, 3, dims, pixels, sizeof pixels, &len);
	char *full = tmp_path("full.gz"), *cut = tmp_path("cut.gz");
	write_gz(full, img, len);
	unsigned char *bytes = read_bytes(full, &gz_len);
	write_bytes(cut, bytes, gz_len / 2);
	expect_load_error(cut, "truncated");
	free(bytes);
	free(img);
	free(full);
	free(cut);
}

Test(idx, short_header)
{
	char *path = tmp_path("tiny.idx");
	write_bytes(path, "\0\0\x08", 3);
	expect_load_error(path, "truncated: expected a 4-byte IDX header, found 3 bytes");
	write_bytes(path, "\0\0\x08\x03\0\0\0\x02\0\0", 10);
	expect_load_error(path, "truncated: expected 12 bytes of dims, found 6");
	free(path);
}

Test(idx, bad_magic_and_types)
{
	char *path = tmp_path("bad.idx");
	write_bytes(path, "\x01\x02\x08\x01\0\0\0\x01\x07", 9);
	expect_load_error(path, "not an IDX file (bad magic 01 02 08 01)");
	write_bytes(path, "\0\0\x0B\x01\0\0\0\x01\0\x07", 10);
	expect_load_error(path, "IDX element type 0x0B is not supported");
	write_bytes(path, "\0\0\x08\x00", 4);
	expect_load_error(path, "IDX rank 0 is not supported");
	write_bytes(path, "\0\0\x08\x06", 4);
	expect_load_error(path, "IDX rank 6 is not supported");
	free(path);
}

Test(idx, dims_disagree_with_size)
{
	unsigned char more[13];
	memcpy(more, PIXELS, 12);
	more[12] = 7;
	size_t len;
	unsigned char *img = make_idx(0x08, 3, IMAGE_DIMS, more, sizeof more, &len);
	char *path = tmp_path("long.idx");
	write_bytes(path, img, len);
	expect_load_error(path, "the header describes 12 bytes of pixels, but the file holds more");
	free(img);
	free(path);
}

Test(idx, huge_dims)
{
	const uint32_t overflow[5] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
	const uint32_t big[3] = {65535, 65535, 65535};
	size_t len;
	char *path = tmp_path("huge.idx");
	unsigned char *img = make_idx(0x0E, 5, overflow, PIXELS, 4, &len);
	write_bytes(path, img, len);
	expect_load_error(path, "are too large");
	free(img);
	/* 2.8e14 bytes claimed, 4 present: fails without allocating them. */
	img = make_idx(0x08, 3, big, PIXELS, 4, &len);
	write_bytes(path, img, len);
	expect_load_error(path, "truncated: expected 281462092005375 bytes of pixels, found 4");
	free(img);
	free(path);
}

Test(idx, header_claims_more_than_the_file_holds)
{
	/* 60000 images of 28 x 28 claimed; 12 bytes of pixels present. Both
	 * fail before the 47 MB are allocated: the raw file by its size, the
	 * gzipped one because deflate cannot inflate 36 bytes that far. */
	const uint32_t dims[3] = {60000, 28, 28};
	size_t len;
	unsigned char *img = make_idx(0x08, 3, dims, PIXELS, sizeof PIXELS, &len);
	char *raw = tmp_path("claims.idx"), *gz = tmp_path("claims.idx.gz");
	write_bytes(raw, img, len);
	write_gz(gz, img, len);
	expect_load_error(raw, "truncated: expected 47040000 bytes of pixels, found 12 (the header describes 60000 samples)");
	expect_load_error(gz, "truncated: expected 47040000 bytes of pixels (the header describes 60000 samples), "
			      "more than ");
	expect_load_error(gz, "bytes of gzip data can hold");
	free(img);
	free(raw);
	free(gz);
}

Test(idx, non_finite_floats)
{
	const float f[6] = {0, 1, 2, 3, NAN, 5};
	const double d[4] = {1, 2, 3, -INFINITY};
	const uint32_t fdims[2] = {2, 3}, ddims[2] = {2, 2};
	unsigned char be[sizeof f];
	size_t len;
	/* IDX stores big-endian elements. */
	for (size_t i = 0; i < sizeof f; i++)
		be[i] = ((const unsigned char *)f)[i / 4 * 4 + 3 - i % 4];
	unsigned char *img = make_idx(0x0D, 2, fdims, be, sizeof be, &len);
	char *path = tmp_path("nan.idx");
	write_bytes(path, img, len);
	expect_load_error(path, "sample 1, element 1 is NaN, not a finite number");
	free(img);
	unsigned char be8[sizeof d];
	for (size_t i = 0; i < sizeof d; i++)
		be8[i] = ((const unsigned char *)d)[i / 8 * 8 + 7 - i % 8];
	img = make_idx(0x0E, 2, ddims, be8, sizeof be8, &len);
	write_bytes(path, img, len);
	expect_load_error(path, "sample 1, element 1 is -inf, not a finite number");
	free(img);
	free(path);
}

Test(idx, missing_file)
{
	char *path = tmp_path("nope.idx");
	expect_load_error(path, "cannot open: No such file or directory");
	expect_load_error(tmp_dir, "Is a directory");
	free(path);
}

Test(idx, long_path_is_shortened_not_the_problem)
{
	char path[2100];
	memset(path, 'd', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_idx(path, &ds, &err), -1);
	cr_assert_lt(strlen(err.msg), sizeof err.msg);
	cr_assert_not_null(strstr(err.msg, "..."), "%s", err.msg);
	cr_assert(ends_with(err.msg, ": cannot open: File name too long"), "%s", err.msg);
}

Test(idx, fashion_mnist)
{
	aert_dataset images, labels, test_labels;
	aert_err err;
	if (!file_exists(FASHION "train-images-idx3-ubyte.gz"))
		cr_skip_test("Fashion-MNIST is not installed");
	cr_assert_eq(aert_load_any(FASHION "train-images-idx3-ubyte.gz", &images, &err), 0, "%s", err.msg);
	cr_assert_eq(images.dtype, AERT_U8);
	cr_assert_eq(images.n, 60000);
	cr_assert_eq(images.rank, 2);
	cr_assert_eq(images.dims[0], 28);
	cr_assert_eq(images.dims[1], 28);
	cr_assert_eq(images.sample, 784);
	unsigned sum = 0;
	for (size_t i = 0; i < 784; i++)
		sum += ((const uint8_t *)images.data)[i];
	cr_assert_eq(sum, 76247, "pixel sum of the first image");

	cr_assert_eq(aert_load_any(FASHION "train-labels-idx1-ubyte.gz", &labels, &err), 0, "%s", err.msg);
	cr_assert_eq(labels.n, 60000);
	cr_assert_eq(labels.rank, 0);
	cr_assert_eq(labels.sample, 1);
	cr_assert_eq(((const uint8_t *)labels.data)[0], 9, "the first label is 9 (ankle boot)");
	cr_assert_eq(aert_load_any(FASHION "t10k-labels-idx1-ubyte.gz", &test_labels, &err), 0, "%s", err.msg);
	cr_assert_eq(test_labels.n, 10000);
	cr_assert_eq(((const uint8_t *)test_labels.data)[0], 9);
	aert_dataset_free(&images);
	aert_dataset_free(&labels);
	aert_dataset_free(&test_labels);
}

/* ---- CSV ---- */

static void load_csv_text(const char *text, aert_dataset *ds)
{
	char *path = tmp_path("data.csv");
	write_text(path, text);
	aert_err err;
	cr_assert_eq(aert_load_csv(path, ds, &err), 0, "%s", err.msg);
	free(path);
}

Test(csv, with_header)
{
	aert_dataset ds;
	load_csv_text("a,b,c\n1,2,3\n4.5, -6 ,7e1\n\n", &ds);
	const float want[6] = {1, 2, 3, 4.5f, -6, 70};
	cr_assert_eq(ds.dtype, AERT_F32);
	cr_assert_eq(ds.n, 2);
	cr_assert_eq(ds.rank, 1);
	cr_assert_eq(ds.dims[0], 3);
	cr_assert_eq(ds.sample, 3);
	cr_assert_arr_eq(ds.data, want, sizeof want);
	aert_dataset_free(&ds);
}

Test(csv, without_header_crlf_no_final_newline)
{
	aert_dataset ds;
	load_csv_text("\xEF\xBB\xBF" "0.25,1\r\n\r\n-1,2", &ds);
	const float want[4] = {0.25f, 1, -1, 2};
	cr_assert_eq(ds.n, 2);
	cr_assert_eq(ds.sample, 2);
	cr_assert_arr_eq(ds.data, want, sizeof want);
	aert_dataset_free(&ds);
}

Test(csv, single_column_labels)
{
	aert_dataset ds;
	load_csv_text("label\n3\n1\n", &ds);
	cr_assert_eq(ds.n, 2);
	cr_assert_eq(ds.sample, 1);
	aert_dataset_free(&ds);
}

Test(csv, ragged)
{
	char *path = tmp_path("ragged.csv");
	write_text(path, "x,y,z\n1,2,3\n4,5\n");
	expect_load_error(path, "line 3 has 2 fields, expected 3 (as on line 2)");
	free(path);
}

Test(csv, not_numbers)
{
	char *path = tmp_path("bad.csv");
	write_text(path, "1,2\n3,abc\n");
	expect_load_error(path, "line 2, field 2: 'abc' is not a number");
	write_text(path, "1,2\n3,\n");
	expect_load_error(path, "line 2, field 2: '' is not a number");
	write_text(path, "1,2\n3,4 5\n");
	expect_load_error(path, "line 2, field 2: '4 5' is not a number");
	write_text(path, "1,nan\n");
	expect_load_error(path, "line 1, field 2: 'nan' is not a finite number in float range (sample 0, element 1)");
	write_text(path, "a,b\n1,2\n\n3,4\n-inf,6\n");
	expect_load_error(path, "line 5, field 1: '-inf' is not a finite number in float range (sample 2, element 0)");
	write_text(path, "1,1e39\n");
	expect_load_error(path, "'1e39' is not a finite number in float range");
	write_text(path, "a,b\n\n");
	expect_load_error(path, "no data rows");
	free(path);
}

/* ---- NPY ---- */

static char *write_npy(int major, const char *dict, const void *payload, size_t payload_len)
{
	size_t len;
	unsigned char *img = make_npy(major, dict, payload, payload_len, &len);
	char *path = tmp_path("array.npy");
	write_bytes(path, img, len);
	free(img);
	return path;
}

Test(npy, f4_version_1)
{
	const float v[6] = {1, 2, 3, -4, 5.5f, 6};
	char *path = write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v);
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_npy(path, &ds, &err), 0, "%s", err.msg);
	cr_assert_eq(ds.dtype, AERT_F32);
	cr_assert_eq(ds.n, 2);
	cr_assert_eq(ds.rank, 1);
	cr_assert_eq(ds.sample, 3);
	cr_assert_arr_eq(ds.data, v, sizeof v);
	aert_dataset_free(&ds);
	free(path);
}

Test(npy, f8_version_2_rank_3)
{
	double v[8];
	for (int i = 0; i < 8; i++)
		v[i] = i * 0.5;
	char *path = write_npy(2, "{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(2,2,2)}", v, sizeof v);
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_any(path, &ds, &err), 0, "%s", err.msg);
	cr_assert_eq(ds.dtype, AERT_F64);
	cr_assert_eq(ds.n, 2);
	cr_assert_eq(ds.rank, 2);
	cr_assert_eq(ds.dims[1], 2);
	cr_assert_eq(ds.sample, 4);
	cr_assert_arr_eq(ds.data, v, sizeof v);
	aert_dataset_free(&ds);
	free(path);
}

Test(npy, u1_version_3_labels)
{
	const unsigned char v[4] = {0, 9, 4, 2};
	char *path = write_npy(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", v, sizeof v);
	aert_dataset ds;
	aert_err err;
	cr_assert_eq(aert_load_npy(path, &ds, &err), 0, "%s", err.msg);
	cr_assert_eq(ds.dtype, AERT_U8);
	cr_assert_eq(ds.n, 4);
	cr_assert_eq(ds.rank, 0);
	cr_assert_eq(ds.sample, 1);
	cr_assert_arr_eq(ds.data, v, sizeof v);
	aert_dataset_free(&ds);
	free(path);
}

Test(npy, bad_headers)
{
	const float v[6] = {0};
	static const struct {
		const char *dict, *problem;
	} cases[] = {
		{"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", "big-endian data ('>f4')"},
		{"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran-order arrays"},
		{"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", "object arrays are not supported"},
		{"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", "dtype '<i4' is not supported"},
		{"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured arrays"},
		{"{'descr': '<f4', 'shape': (2, 3), }", "'fortran_order' is missing"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", "unknown key 'x'"},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", "'descr' appears twice"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) ", "expected ',' or '}'"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "other than integers"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "a scalar array has no sample axis"},
		{"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", "not True or False"},
		{"['descr']", "not a dict"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = write_npy(1, cases[i].dict, v, sizeof v);
		expect_load_error(path, cases[i].problem);
		free(path);
	}
}

Test(npy, bad_magic_and_sizes)
{
	const float v[6] = {0};
	char *path = tmp_path("bad.npy");
	write_bytes(path, "\x93NUMPX\x01\x00\x10\x00", 10);
	expect_load_error(path, "not an NPY file");
	free(path);
	path = write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v - 4);
	expect_load_error(path, "truncated: expected 24 bytes of data, found 20");
	free(path);
	path = write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, sizeof v);
	expect_load_error(path, "the header describes 16 bytes of data, but the file holds more");
	free(path);
	path = write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", v,
			 sizeof v);
	expect_load_error(path, "are too large");
	free(path);
	/* A header that claims far more than the file holds fails before the
	 * payload is allocated. */
	path = write_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 784), }", v, sizeof v);
	expect_load_error(path, "truncated: expected 6272000000 bytes of data, found 24 (the header describes 1000000 samples)");
	free(path);
}

Test(npy, non_finite_values)
{
	const float f[6] = {0, 1, 2, 3, 4, INFINITY};
	char *path = write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f, sizeof f);
	expect_load_error(path, "sample 2, element 1 is inf, not a finite number");
	free(path);
	const double d[8] = {0, 1, 2, 3, 4, 5, NAN, 7};
	path = write_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", d, sizeof d);
	expect_load_error(path, "sample 1, element 2 is NaN, not a finite number");
	free(path);
}

/* ---- batches ---- */

Test(batch, u8_to_f32_and_f64_scaled)
{
	const unsigned char pix[6] = {0, 51, 255, 1, 2, 3};
	aert_dataset ds = {.dtype = AERT_U8, .n = 3, .rank = 1, .dims = {2}, .sample = 2, .data = (void *)pix};
	const size_t idx[3] = {2, 0, 1};
	float f[6];
	double d[6];
	aert_batch(&ds, idx, 3, 1 / 255.0, AERT_F32, f);
	aert_batch(&ds, idx, 3, 1 / 255.0, AERT_F64, d);
	const unsigned char order[6] = {2, 3, 0, 51, 255, 1};
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(f[i], (float)order[i] * (float)(1 / 255.0), "f32 element %d", i);
		cr_assert_eq(d[i], (double)order[i] * (1 / 255.0), "f64 element %d", i);
	}
	cr_assert_float_eq(f[3], 0.2f, 1e-7);
}

Test(batch, f32_and_f64_datasets)
{
	const float fv[4] = {1, -2, 3, -4};
	const double dv[2] = {0.5, 1e300};
	aert_dataset fs = {.dtype = AERT_F32, .n = 2, .rank = 1, .dims = {2}, .sample = 2, .data = (void *)fv};
	aert_dataset ds = {.dtype = AERT_F64, .n = 2, .rank = 0, .sample = 1, .data = (void *)dv};
	const size_t idx[2] = {1, 1};
	double d[4];
	float f[2];
	aert_batch(&fs, idx, 2, 2, AERT_F64, d);
	cr_assert_eq(d[0], 6);
	cr_assert_eq(d[1], -8);
	cr_assert_eq(d[3], -8);
	aert_batch(&ds, idx, 1, 1, AERT_F32, f);
	cr_assert(isinf(f[0]));
	const size_t first[1] = {0};
	aert_batch(&ds, first, 1, 4, AERT_F32, f);
	cr_assert_eq(f[0], 2.0f);
}

Test(batch, onehot)
{
	const unsigned char labels[4] = {0, 2, 1, 3};
	aert_dataset ds = {.dtype = AERT_U8, .n = 4, .rank = 0, .sample = 1, .data = (void *)labels, .path = "l.idx"};
	const size_t idx[3] = {1, 0, 2};
	float f[9];
	double d[9];
	aert_err err;
	cr_assert_eq(aert_batch_onehot(&ds, idx, 3, 3, AERT_F32, f, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_batch_onehot(&ds, idx, 3, 3, AERT_F64, d, &err), 0, "%s", err.msg);
	const float want[9] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
	for (int i = 0; i < 9; i++) {
		cr_assert_eq(f[i], want[i]);
		cr_assert_eq(d[i], want[i]);
	}
}

Test(batch, onehot_rejects_bad_labels)
{
	const unsigned char labels[4] = {0, 2, 1, 3};
	const float fl[2] = {1, 0.5f};
	const float pix[4] = {0};
	aert_dataset ds = {.dtype = AERT_U8, .n = 4, .rank = 0, .sample = 1, .data = (void *)labels, .path = "l.idx"};
	aert_dataset fs = {.dtype = AERT_F32, .n = 2, .rank = 0, .sample = 1, .data = (void *)fl, .path = "l.csv"};
	aert_dataset img = {.dtype = AERT_F32, .n = 1, .rank = 1, .dims = {4}, .sample = 4, .data = (void *)pix,
			    .path = "x.npy"};
	const size_t idx[4] = {0, 1, 2, 3};
	float f[16];
	aert_err err;
	cr_assert_eq(aert_batch_onehot(&ds, idx, 4, 3, AERT_F32, f, &err), -1);
	cr_assert_str_eq(err.msg, "l.idx: label 3 of sample 3 is out of range for 3 classes");
	cr_assert_eq(aert_batch_onehot(&fs, idx, 2, 3, AERT_F32, f, &err), -1);
	cr_assert_str_eq(err.msg, "l.csv: label 0.5 of sample 1 is out of range for 3 classes");
	cr_assert_eq(aert_batch_onehot(&img, idx, 1, 3, AERT_F32, f, &err), -1);
	cr_assert_str_eq(err.msg, "x.npy: not a label file: samples have 4 values");
	cr_assert_eq(aert_batch_onehot(&ds, idx, 1, 0, AERT_F32, f, &err), -1);
}
