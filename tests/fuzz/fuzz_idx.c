/* fuzz_idx.c - the IDX reader (aert_load_idx), raw and gzipped. The first
 * byte of an input chooses: even, the rest is the file as it is (which
 * covers damaged gzip streams too); odd, the rest is an IDX image that
 * the target gzips first, so that mutations reach the IDX header and
 * payload behind a valid gzip stream, cut short by byte >> 1 bytes. */
#include "fuzz.h"

#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* in gzipped into a new buffer (*out, *len). */
static void gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = {0};
	FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t cap = deflateBound(&z, (uLong)len);
	*out = malloc(cap);
	FUZZ_CHECK(*out);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	aert_dataset ds;
	aert_err err;
	const char *path;
	if (data[0] & 1) {
		uint8_t *gz;
		size_t len, cut = data[0] >> 1;
		gzip(data + 1, size - 1, &gz, &len);
		path = fuzz_file(gz, len > cut ? len - cut : 0);
		free(gz);
	} else {
		path = fuzz_file(data + 1, size - 1);
	}
	int rc = aert_load_idx(path, &ds, &err);
	fuzz_dataset(&ds, rc, &err);
	return 0;
}
