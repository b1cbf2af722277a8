/* fuzz.c - what the fuzz targets share (see fuzz.h). */
#define _GNU_SOURCE
#include "fuzz.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-input", 0);
		FUZZ_CHECK(fd >= 0);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	for (size_t at = 0; at < size;) {
		ssize_t w = pwrite(fd, data + at, size - at, (off_t)at);
		FUZZ_CHECK(w > 0);
		at += (size_t)w;
	}
	return path;
}

void fuzz_failed(const aert_err *err)
{
	size_t len = strnlen(err->msg, sizeof err->msg);
	FUZZ_CHECK(len > 0 && len < sizeof err->msg);
}

/* Every element of a dataset as a double (reads them all, so that ASan sees
 * a payload shorter than n x sample). */
static double sum_elements(const aert_dataset *ds)
{
	size_t count = ds->n * ds->sample;
	double sum = 0;
	for (size_t i = 0; i < count; i++) {
		double x = ds->dtype == AERT_U8    ? ((const uint8_t *)ds->data)[i]
			   : ds->dtype == AERT_F32 ? ((const float *)ds->data)[i]
						   : ((const double *)ds->data)[i];
		FUZZ_CHECK(isfinite(x)); /* the loaders refuse NaN and infinity */
		sum += x;
	}
	return sum;
}

void fuzz_dataset(aert_dataset *ds, int rc, const aert_err *err)
{
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		fuzz_failed(err);
		FUZZ_CHECK(!ds->data && !ds->path && ds->n == 0);
		return;
	}
	FUZZ_CHECK(ds->path && ds->data);
	FUZZ_CHECK(ds->dtype == AERT_U8 || ds->dtype == AERT_F32 || ds->dtype == AERT_F64);
	FUZZ_CHECK(ds->rank >= 0 && ds->rank <= 4);
	size_t sample = 1;
	for (int i = 0; i < ds->rank; i++)
		sample *= ds->dims[i];
	FUZZ_CHECK(sample == ds->sample);
	volatile double sum = sum_elements(ds);
	(void)sum;
	/* The first and last samples as a batch of each real type, into
	 * buffers of exactly their size. */
	if (ds->n > 0 && ds->sample > 0 && ds->sample < ((size_t)1 << 24)) {
		size_t idx[2] = {0, ds->n - 1};
		float *f = malloc(2 * ds->sample * sizeof *f);
		double *d = malloc(2 * ds->sample * sizeof *d);
		FUZZ_CHECK(f && d);
		aert_batch(ds, idx, 2, 1.0 / 255, AERT_F32, f);
		aert_batch(ds, idx, 2, 1.0 / 255, AERT_F64, d);
		free(f);
		free(d);
		if (ds->sample == 1) {
			enum { CLASSES = 10 };
			float *hot = malloc(2 * CLASSES * sizeof *hot);
			aert_err e;
			FUZZ_CHECK(hot);
			if (aert_batch_onehot(ds, idx, 2, CLASSES, AERT_F32, hot, &e) != 0)
				fuzz_failed(&e);
			free(hot);
		}
	}
	aert_dataset_free(ds);
}
