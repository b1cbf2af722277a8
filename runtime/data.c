/* data.c - datasets: IDX (raw or gzipped), CSV and NPY loaders, the
 * conversion of samples into the batches a compiled model reads, and a
 * model's data checked against its inputs. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Total rank (sample axis included) of the files we accept. */
enum { MAX_FILE_RANK = 5 };

/* Reads are done in pieces gzread's int result can report. */
#define READ_CHUNK ((size_t)1 << 30)
/* A payload buffer starts this large and doubles up to the expected size,
 * so that a header claiming huge dims cannot make us allocate for nothing. */
#define FIRST_ALLOC ((size_t)1 << 24)
/* Deflate's largest compression ratio: a gzip stream of k bytes inflates to
 * less than MAX_INFLATE_RATIO * k bytes. */
#define MAX_INFLATE_RATIO 1032
/* NPY headers longer than this are refused (numpy's own limit is 10000). */
#define NPY_MAX_HEADER ((size_t)1 << 20)

size_t aert_dtype_size(aert_dtype t)
{
	switch (t) {
	case AERT_U8:
		return 1;
	case AERT_F32:
		return 4;
	case AERT_F64:
	case AERT_I64:
		return 8;
	}
	return 0;
}

void aert_dataset_free(aert_dataset *ds)
{
	free(ds->data);
	free(ds->path);
	memset(ds, 0, sizeof *ds);
}

static char *copy_string(const char *s)
{
	size_t len = strlen(s) + 1;
	char *c = malloc(len);
	if (c)
		memcpy(c, s, len);
	return c;
}

/* ---- shapes ---- */

/* "60000x28x28": room for MAX_FILE_RANK 20-digit numbers and separators. */
typedef struct dims_text {
	char s[MAX_FILE_RANK * 21 + 1];
} dims_text;

static dims_text format_dims(const uint64_t *dims, int rank)
{
	dims_text t;
	size_t at = 0;
	t.s[0] = '\0';
	for (int i = 0; i < rank; i++)
		at += (size_t)snprintf(t.s + at, sizeof t.s - at, "%s%llu", i ? "x" : "",
				       (unsigned long long)dims[i]);
	return t;
}

/* Set up ds for `rank` file dims (dims[0] is the sample axis) of `dtype`
 * and compute the payload size; fails on a rank we cannot hold or dims
 * whose byte count overflows. Allocates nothing but the path copy. */
static int shape_dataset(aert_dataset *ds, const char *path, aert_dtype dtype, const uint64_t *dims,
			 int rank, size_t *bytes, aert_err *err)
{
	if (rank < 1 || rank > MAX_FILE_RANK)
		return aert_fail(err, path, "rank %d is not supported (1..%d)", rank, MAX_FILE_RANK);
	size_t total = aert_dtype_size(dtype);
	for (int i = 0; i < rank; i++) {
		if (dims[i] > SIZE_MAX || aert_mul_size(total, (size_t)dims[i], &total) != 0)
			return aert_fail(err, path, "dims %s are too large", format_dims(dims, rank).s);
	}
	ds->dtype = dtype;
	ds->n = (size_t)dims[0];
	ds->rank = rank - 1;
	ds->sample = 1;
	for (int i = 1; i < rank; i++) {
		ds->dims[i - 1] = (size_t)dims[i];
		ds->sample *= (size_t)dims[i];
	}
	ds->path = copy_string(path);
	if (!ds->path)
		return aert_fail(err, path, "out of memory");
	*bytes = total;
	return 0;
}

/* Fail, naming the sample and the element (both from 0), if a loaded
 * float dataset holds a NaN or an infinity. */
static int check_finite(const aert_dataset *ds, aert_err *err)
{
	size_t count = ds->n * ds->sample;
	for (size_t i = 0; i < count; i++) {
		double x = ds->dtype == AERT_F32   ? ((const float *)ds->data)[i]
			   : ds->dtype == AERT_F64 ? ((const double *)ds->data)[i]
						   : 0;
		if (!isfinite(x))
			return aert_fail(err, ds->path, "sample %zu, element %zu is %s, not a finite number",
					 i / ds->sample, i % ds->sample, isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf");
	}
	return 0;
}

/* ---- reading files, gzipped or not ---- */

/* An open input file; zlib reads raw files transparently and inflates
 * gzip streams, which it recognises by their 1f 8b magic. */
typedef struct source {
	gzFile gz;        /* the stream */
	const char *path; /* for messages */
	long long size;   /* bytes in the file, or -1 if it is not a regular file */
} source;

static int source_open(source *s, const char *path, aert_err *err)
{
	s->gz = NULL;
	s->path = path;
	s->size = -1;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return aert_fail(err, path, "cannot open: %s", strerror(errno));
	struct stat st;
	int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (e != 0) {
		close(fd);
		return aert_fail(err, path, "cannot read: %s", strerror(e));
	}
	if (S_ISREG(st.st_mode))
		s->size = (long long)st.st_size;
	s->gz = gzdopen(fd, "rb");
	if (!s->gz) {
		close(fd);
		return aert_fail(err, path, "out of memory");
	}
	return 0;
}

static void source_close(source *s)
{
	if (s->gz)
		gzclose(s->gz);
	s->gz = NULL;
}

/* Why the stream stopped early, or NULL if it simply ended (a truncated
 * gzip stream counts as ended: the caller reports what it got). */
static const char *source_error(source *s)
{
	int code;
	const char *msg = gzerror(s->gz, &code);
	if (code == Z_OK || code == Z_BUF_ERROR)
		return NULL;
	if (code == Z_ERRNO)
		return strerror(errno);
	return code == Z_DATA_ERROR ? "corrupt gzip data" : msg;
}

/* Read up to len bytes into buf; *got < len only at the end of the data. */
static int source_read(source *s, void *buf, size_t len, size_t *got, aert_err *err)
{
	unsigned char *p = buf;
	*got = 0;
	while (*got < len) {
		size_t want = len - *got < READ_CHUNK ? len - *got : READ_CHUNK;
		int r = gzread(s->gz, p + *got, (unsigned)want);
		if (r < 0) {
			const char *why = source_error(s);
			return aert_fail(err, s->path, "cannot read: %s", why ? why : "read error");
		}
		*got += (size_t)r;
		if ((size_t)r < want)
			break;
	}
	const char *why = *got < len ? source_error(s) : NULL;
	if (why)
		return aert_fail(err, s->path, "cannot read: %s", why);
	return 0;
}

/* Fail unless the stream has ended: dims that describe fewer bytes than
 * the file holds are as wrong as a file that is too short. */
static int source_expect_end(source *s, size_t expected, const char *what, aert_err *err)
{
	unsigned char extra;
	size_t got;
	if (source_read(s, &extra, 1, &got, err) != 0)
		return -1;
	if (got)
		return aert_fail(err, s->path, "the header describes %zu bytes of %s, but the file holds more",
				 expected, what);
	return 0;
}

/* Fail, before anything is allocated for them, if the `bytes` bytes of
 * `what` for the n samples a header describes cannot be in the file: more
 * than a raw file holds after the header, or than a gzip stream of the
 * file's size can inflate to. */
static int source_check_size(source *s, size_t n, size_t bytes, const char *what, aert_err *err)
{
	if (s->size < 0)
		return 0;
	unsigned long long size = (unsigned long long)s->size;
	if (gzdirect(s->gz)) {
		unsigned long long at = (unsigned long long)gztell(s->gz);
		unsigned long long left = size > at ? size - at : 0;
		if (bytes > left)
			return aert_fail(err, s->path,
					 "truncated: expected %zu bytes of %s, found %llu (the header describes %zu samples)",
					 bytes, what, left, n);
	} else if (bytes / MAX_INFLATE_RATIO > size) {
		return aert_fail(err, s->path,
				 "truncated: expected %zu bytes of %s (the header describes %zu samples), more than "
				 "%llu bytes of gzip data can hold",
				 bytes, what, n, size);
	}
	return 0;
}

/* Read exactly `bytes` bytes of `what` into a new buffer and check that
 * nothing follows them. The buffer grows as data arrives. */
static int source_read_payload(source *s, size_t bytes, const char *what, void **out, aert_err *err)
{
	size_t cap = bytes < FIRST_ALLOC ? bytes : FIRST_ALLOC, have = 0;
	unsigned char *buf = malloc(cap ? cap : 1);
	if (!buf)
		return aert_fail(err, s->path, "out of memory for %zu bytes of %s", cap, what);
	for (;;) {
		size_t got;
		if (source_read(s, buf + have, cap - have, &got, err) != 0)
			break;
		have += got;
		if (have < cap) {
			aert_fail(err, s->path, "truncated: expected %zu bytes of %s, found %zu", bytes, what, have);
			break;
		}
		if (cap == bytes) {
			if (source_expect_end(s, bytes, what, err) != 0)
				break;
			*out = buf;
			return 0;
		}
		cap = cap > bytes / 2 ? bytes : 2 * cap;
		unsigned char *grown = realloc(buf, cap);
		if (!grown) {
			aert_fail(err, s->path, "out of memory for %zu bytes of %s", bytes, what);
			break;
		}
		buf = grown;
	}
	free(buf);
	return -1;
}

/* Read the whole stream into a new NUL-terminated buffer. */
static int source_read_all(source *s, char **out, size_t *len, aert_err *err)
{
	size_t cap = 1 << 16, have = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got;
		if (source_read(s, buf + have, cap - have - 1, &got, err) != 0)
			break;
		have += got;
		if (have < cap - 1) {
			buf[have] = '\0';
			*out = buf;
			*len = have;
			return 0;
		}
		char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, 2 * cap) : NULL;
		if (!grown) {
			aert_fail(err, s->path, "out of memory");
			break;
		}
		buf = grown;
		cap *= 2;
	}
	if (!buf)
		aert_fail(err, s->path, "out of memory");
	free(buf);
	return -1;
}

/* ---- IDX ---- */

static uint32_t load_be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Big-endian IDX elements to host order, in place. */
static void idx_to_host(aert_dataset *ds)
{
	size_t width = aert_dtype_size(ds->dtype);
	if (width > 1 && aert_host_is_le())
		aert_swap_bytes(ds->data, ds->n * ds->sample, width);
}

/* The element type of IDX type code `code`. */
static int idx_dtype(unsigned code, aert_dtype *t)
{
	switch (code) {
	case 0x08:
		*t = AERT_U8;
		return 0;
	case 0x0D:
		*t = AERT_F32;
		return 0;
	case 0x0E:
		*t = AERT_F64;
		return 0;
	}
	return -1;
}

/* What the payload of a file of this shape is called in messages. */
static const char *idx_payload_name(int file_rank, aert_dtype t)
{
	if (file_rank == 1)
		return "labels";
	return file_rank >= 3 && t == AERT_U8 ? "pixels" : "data";
}

/* Read the magic and dims, and set up ds (without data) from them. */
static int idx_read_header(source *s, aert_dataset *ds, size_t *bytes, aert_err *err)
{
	unsigned char magic[4], raw[4 * MAX_FILE_RANK];
	size_t got;
	if (source_read(s, magic, sizeof magic, &got, err) != 0)
		return -1;
	if (got < sizeof magic)
		return aert_fail(err, s->path, "truncated: expected a 4-byte IDX header, found %zu bytes", got);
	aert_dtype dtype;
	if (magic[0] != 0 || magic[1] != 0 || idx_dtype(magic[2], &dtype) != 0) {
		if (magic[0] == 0 && magic[1] == 0)
			return aert_fail(err, s->path, "IDX element type 0x%02X is not supported (0x08, 0x0D, 0x0E)",
					 magic[2]);
		return aert_fail(err, s->path, "not an IDX file (bad magic %02x %02x %02x %02x)", magic[0],
				 magic[1], magic[2], magic[3]);
	}
	int rank = magic[3];
	if (rank < 1 || rank > MAX_FILE_RANK)
		return aert_fail(err, s->path, "IDX rank %d is not supported (1..%d)", rank, MAX_FILE_RANK);
	if (source_read(s, raw, 4 * (size_t)rank, &got, err) != 0)
		return -1;
	if (got < 4 * (size_t)rank)
		return aert_fail(err, s->path, "truncated: expected %d bytes of dims, found %zu", 4 * rank, got);
	uint64_t dims[MAX_FILE_RANK];
	for (int i = 0; i < rank; i++)
		dims[i] = load_be32(raw + 4 * i);
	return shape_dataset(ds, s->path, dtype, dims, rank, bytes, err);
}

int aert_load_idx(const char *path, aert_dataset *ds, aert_err *err)
{
	source s;
	size_t bytes;
	memset(ds, 0, sizeof *ds);
	if (source_open(&s, path, err) != 0)
		return -1;
	int rc = idx_read_header(&s, ds, &bytes, err);
	const char *what = rc == 0 ? idx_payload_name(ds->rank + 1, ds->dtype) : NULL;
	if (rc == 0)
		rc = source_check_size(&s, ds->n, bytes, what, err);
	if (rc == 0)
		rc = source_read_payload(&s, bytes, what, &ds->data, err);
	source_close(&s);
	if (rc == 0) {
		idx_to_host(ds);
		rc = check_finite(ds, err);
	}
	if (rc != 0) {
		aert_dataset_free(ds);
		return -1;
	}
	return 0;
}

/* ---- CSV ---- */

/* A growing array of floats. */
typedef struct floats {
	float *v;
	size_t len, cap;
} floats;

static int floats_push(floats *f, float x)
{
	if (f->len == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 1024;
		float *v = cap <= SIZE_MAX / 2 / sizeof *v ? realloc(f->v, cap * sizeof *v) : NULL;
		if (!v)
			return -1;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->len++] = x;
	return 0;
}

/* Parsing state of one CSV file. */
typedef struct csv {
	const char *path; /* for messages */
	size_t line;      /* 1-based number of the line being parsed */
	size_t cols;      /* fields per row, 0 until the first row */
	size_t first_row; /* line of the first row, for messages */
	floats values;    /* every field so far */
	aert_err *err;    /* where failures go */
} csv;

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parse one number starting at p; *end is just past it and any blanks. */
static int csv_number(const char *p, const char **end, double *v)
{
	char *stop;
	while (is_blank(*p))
		p++;
	*v = strtod(p, &stop);
	if (stop == p)
		return -1;
	while (is_blank(*stop))
		stop++;
	*end = stop;
	return *stop == ',' || *stop == '\0' ? 0 : -1;
}

/* Fail on field `field` (1-based) starting at p, quoting a piece of it. */
static int csv_bad_field(csv *c, size_t field, const char *p, const char *why)
{
	while (is_blank(*p))
		p++;
	size_t len = strcspn(p, ",\r");
	int shown = len > 40 ? 40 : (int)len;
	return aert_fail(c->err, c->path, "line %zu, field %zu: '%.*s%s' %s", c->line, field, shown, p,
			 len > 40 ? "..." : "", why);
}

/* Parse the fields of one NUL-terminated line. */
static int csv_row(csv *c, const char *p)
{
	size_t field = 0, sample = c->cols ? c->values.len / c->cols : 0;
	for (;;) {
		const char *start = p, *end;
		double v;
		field++;
		if (csv_number(p, &end, &v) != 0)
			return csv_bad_field(c, field, start, "is not a number");
		if (!isfinite(v) || fabs(v) > FLT_MAX) {
			char why[96];
			snprintf(why, sizeof why, "is not a finite number in float range (sample %zu, element %zu)",
				 sample, field - 1);
			return csv_bad_field(c, field, start, why);
		}
		if (floats_push(&c->values, (float)v) != 0)
			return aert_fail(c->err, c->path, "out of memory");
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (c->cols == 0) {
		c->cols = field;
		c->first_row = c->line;
	} else if (field != c->cols) {
		return aert_fail(c->err, c->path, "line %zu has %zu fields, expected %zu (as on line %zu)", c->line,
				 field, c->cols, c->first_row);
	}
	return 0;
}

/* 1 if the line holds nothing but blanks. */
static int csv_line_blank(const char *p)
{
	while (is_blank(*p))
		p++;
	return *p == '\0';
}

/* Parse the text (NUL-terminated at text[len]), one line at a time. The
 * first non-blank line is a header, and skipped, if its first field is not
 * a number. */
static int csv_parse(csv *c, char *text, size_t len)
{
	static const char bom[] = "\xEF\xBB\xBF";
	char *p = text, *end = text + len;
	int header_possible = 1;
	if (len >= 3 && memcmp(text, bom, 3) == 0)
		p += 3;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;
		*eol = '\0';
		c->line++;
		if (!csv_line_blank(p)) {
			const char *after;
			double v;
			int skip = header_possible && csv_number(p, &after, &v) != 0;
			header_possible = 0;
			if (!skip && csv_row(c, p) != 0)
				return -1;
		}
		p = eol + 1;
	}
	if (c->cols == 0)
		return aert_fail(c->err, c->path, "no data rows");
	return 0;
}

int aert_load_csv(const char *path, aert_dataset *ds, aert_err *err)
{
	memset(ds, 0, sizeof *ds);
	source s;
	char *text;
	size_t len;
	if (source_open(&s, path, err) != 0)
		return -1;
	int rc = source_read_all(&s, &text, &len, err);
	source_close(&s);
	if (rc != 0)
		return -1;
	csv c = {.path = path, .err = err};
	rc = csv_parse(&c, text, len);
	free(text);
	if (rc == 0) {
		uint64_t dims[2] = {c.values.len / c.cols, c.cols};
		size_t bytes;
		rc = shape_dataset(ds, path, AERT_F32, dims, 2, &bytes, err);
	}
	if (rc != 0) {
		free(c.values.v);
		aert_dataset_free(ds);
		return -1;
	}
	ds->data = c.values.v;
	return 0;
}

/* ---- NPY ---- */

/* The dict literal of an NPY header, e.g.
 * {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), } */
typedef struct npy_header {
	const char *p, *end;          /* the text and how far it goes */
	char descr[16];               /* the dtype string, if short enough */
	int fortran;                  /* fortran_order */
	int rank;                     /* entries of shape */
	uint64_t dims[MAX_FILE_RANK]; /* shape */
	unsigned seen;                /* bit per key found: descr, fortran_order, shape */
} npy_header;

static void npy_skip_space(npy_header *h)
{
	while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
		h->p++;
}

/* Consume c (after blanks) if it is next. */
static int npy_accept(npy_header *h, char c)
{
	npy_skip_space(h);
	if (h->p < h->end && *h->p == c) {
		h->p++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes; *s and *len point into the header. */
static int npy_string(npy_header *h, const char **s, size_t *len)
{
	npy_skip_space(h);
	if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
		return -1;
	char quote = *h->p++;
	const char *start = h->p;
	while (h->p < h->end && *h->p != quote && *h->p != '\\')
		h->p++;
	if (h->p >= h->end || *h->p != quote)
		return -1;
	*s = start;
	*len = (size_t)(h->p - start);
	h->p++;
	return 0;
}

static int npy_word(npy_header *h, const char *word)
{
	size_t len = strlen(word);
	npy_skip_space(h);
	if ((size_t)(h->end - h->p) < len || memcmp(h->p, word, len) != 0)
		return 0;
	h->p += len;
	return 1;
}

/* (d0, d1, ...) with an optional trailing comma. */
static int npy_shape(npy_header *h, const char *path, aert_err *err)
{
	if (!npy_accept(h, '('))
		return aert_fail(err, path, "bad NPY header: 'shape' is not a tuple");
	h->rank = 0;
	while (!npy_accept(h, ')')) {
		npy_skip_space(h);
		if (h->p >= h->end || *h->p < '0' || *h->p > '9')
			return aert_fail(err, path, "bad NPY header: 'shape' holds something other than integers");
		uint64_t d = 0;
		while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
			unsigned digit = (unsigned)(*h->p++ - '0');
			if (d > (UINT64_MAX - digit) / 10)
				return aert_fail(err, path, "bad NPY header: a dimension is too large");
			d = 10 * d + digit;
		}
		if (h->rank == MAX_FILE_RANK)
			return aert_fail(err, path, "rank above %d is not supported", MAX_FILE_RANK);
		h->dims[h->rank++] = d;
		if (!npy_accept(h, ',')) {
			if (!npy_accept(h, ')'))
				return aert_fail(err, path, "bad NPY header: 'shape' is not a tuple");
			break;
		}
	}
	return 0;
}

/* Parse the value of `key` (len bytes at key). */
static int npy_value(npy_header *h, const char *key, size_t len, const char *path, aert_err *err)
{
	static const char *const keys[3] = {"descr", "fortran_order", "shape"};
	int k = 0;
	while (k < 3 && (strlen(keys[k]) != len || memcmp(keys[k], key, len) != 0))
		k++;
	if (k == 3)
		return aert_fail(err, path, "bad NPY header: unknown key '%.*s'", (int)(len > 40 ? 40 : len), key);
	if (h->seen & 1u << k)
		return aert_fail(err, path, "bad NPY header: '%s' appears twice", keys[k]);
	h->seen |= 1u << k;
	if (k == 0) {
		const char *s;
		size_t n;
		npy_skip_space(h);
		if (h->p < h->end && *h->p == '[')
			return aert_fail(err, path, "structured arrays are not supported");
		if (npy_string(h, &s, &n) != 0)
			return aert_fail(err, path, "bad NPY header: 'descr' is not a string");
		if (n >= sizeof h->descr)
			return aert_fail(err, path, "dtype '%.*s' is not supported", (int)(n > 40 ? 40 : n), s);
		memcpy(h->descr, s, n);
		h->descr[n] = '\0';
		return 0;
	}
	if (k == 1) {
		if (npy_word(h, "True"))
			h->fortran = 1;
		else if (npy_word(h, "False"))
			h->fortran = 0;
		else
			return aert_fail(err, path, "bad NPY header: 'fortran_order' is not True or False");
		return 0;
	}
	return npy_shape(h, path, err);
}

/* Parse the whole dict; only blanks may follow it. */
static int npy_parse_header(npy_header *h, const char *path, aert_err *err)
{
	if (!npy_accept(h, '{'))
		return aert_fail(err, path, "bad NPY header: not a dict");
	while (!npy_accept(h, '}')) {
		const char *key;
		size_t len;
		if (npy_string(h, &key, &len) != 0 || !npy_accept(h, ':'))
			return aert_fail(err, path, "bad NPY header: expected 'key': value");
		if (npy_value(h, key, len, path, err) != 0)
			return -1;
		if (!npy_accept(h, ',')) {
			if (!npy_accept(h, '}'))
				return aert_fail(err, path, "bad NPY header: expected ',' or '}'");
			break;
		}
	}
	npy_skip_space(h);
	if (h->p != h->end)
		return aert_fail(err, path, "bad NPY header: text after the dict");
	if (h->seen != 7)
		return aert_fail(err, path, "bad NPY header: '%s' is missing",
				 !(h->seen & 1) ? "descr" : !(h->seen & 2) ? "fortran_order" : "shape");
	return 0;
}

/* The element type of an NPY descr. */
static int npy_dtype(const char *descr, const char *path, aert_dtype *t, aert_err *err)
{
	if (strcmp(descr, "<f4") == 0)
		*t = AERT_F32;
	else if (strcmp(descr, "<f8") == 0)
		*t = AERT_F64;
	else if (strcmp(descr, "|u1") == 0 || strcmp(descr, "<u1") == 0)
		*t = AERT_U8;
	else if (descr[0] == '>')
		return aert_fail(err, path, "big-endian data ('%s') is not supported", descr);
	else if (strchr(descr, 'O'))
		return aert_fail(err, path, "object arrays are not supported");
	else
		return aert_fail(err, path, "dtype '%s' is not supported (<f4, <f8, |u1)", descr);
	return 0;
}

/* Read the magic, version and header; set up ds (without data). */
static int npy_read_header(source *s, aert_dataset *ds, size_t *bytes, aert_err *err)
{
	unsigned char pre[12];
	size_t got;
	if (source_read(s, pre, 10, &got, err) != 0)
		return -1;
	if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0)
		return aert_fail(err, s->path, "not an NPY file (bad magic)");
	if (got < 10)
		return aert_fail(err, s->path, "truncated: NPY preamble cut short");
	unsigned major = pre[6];
	if (major < 1 || major > 3)
		return aert_fail(err, s->path, "NPY version %u.%u is not supported", major, pre[7]);
	size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
	if (major >= 2) {
		if (source_read(s, pre + 10, 2, &got, err) != 0)
			return -1;
		if (got < 2)
			return aert_fail(err, s->path, "truncated: NPY preamble cut short");
		hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	}
	if (hlen > NPY_MAX_HEADER)
		return aert_fail(err, s->path, "NPY header of %zu bytes is too large", hlen);
	char *text = malloc(hlen ? hlen : 1);
	if (!text)
		return aert_fail(err, s->path, "out of memory");
	npy_header h = {.p = text, .end = text + hlen};
	int rc = source_read(s, text, hlen, &got, err);
	if (rc == 0 && got < hlen)
		rc = aert_fail(err, s->path, "truncated: expected a %zu-byte NPY header, found %zu bytes", hlen, got);
	if (rc == 0)
		rc = npy_parse_header(&h, s->path, err);
	free(text);
	if (rc != 0)
		return -1;
	aert_dtype dtype = AERT_U8;
	if (npy_dtype(h.descr, s->path, &dtype, err) != 0)
		return -1;
	if (h.fortran)
		return aert_fail(err, s->path, "Fortran-order arrays are not supported");
	if (h.rank == 0)
		return aert_fail(err, s->path, "a scalar array has no sample axis");
	return shape_dataset(ds, s->path, dtype, h.dims, h.rank, bytes, err);
}

int aert_load_npy(const char *path, aert_dataset *ds, aert_err *err)
{
	source s;
	size_t bytes;
	memset(ds, 0, sizeof *ds);
	if (source_open(&s, path, err) != 0)
		return -1;
	int rc = npy_read_header(&s, ds, &bytes, err);
	if (rc == 0)
		rc = source_check_size(&s, ds->n, bytes, "data", err);
	if (rc == 0)
		rc = source_read_payload(&s, bytes, "data", &ds->data, err);
	source_close(&s);
	if (rc == 0) {
		if (!aert_host_is_le() && aert_dtype_size(ds->dtype) > 1)
			aert_swap_bytes(ds->data, ds->n * ds->sample, aert_dtype_size(ds->dtype));
		rc = check_finite(ds, err);
	}
	if (rc != 0) {
		aert_dataset_free(ds);
		return -1;
	}
	return 0;
}

/* ---- dispatch ---- */

static int has_extension(const char *path, const char *ext)
{
	size_t len = strlen(path), elen = strlen(ext);
	return len >= elen && strcasecmp(path + len - elen, ext) == 0;
}

int aert_load_any(const char *path, aert_dataset *ds, aert_err *err)
{
	if (has_extension(path, ".csv"))
		return aert_load_csv(path, ds, err);
	if (has_extension(path, ".npy"))
		return aert_load_npy(path, ds, err);
	return aert_load_idx(path, ds, err);
}

/* ---- batches ---- */

/* One element of a dataset as a double (exact for every stored type but
 * int64 beyond 2^53). */
static double element(const aert_dataset *ds, size_t i)
{
	switch (ds->dtype) {
	case AERT_U8:
		return ((const uint8_t *)ds->data)[i];
	case AERT_F32:
		return ((const float *)ds->data)[i];
	case AERT_F64:
		return ((const double *)ds->data)[i];
	case AERT_I64:
		return (double)((const int64_t *)ds->data)[i];
	}
	return 0;
}

/* k elements from `from` on, converted to float, times scale. */
/* out[j] = src[j] * scale, j < k: in blocks of 16, which compilers
 * vectorize at -O2 too. It runs for every sample of every step. */
static void u8_f32(const uint8_t *restrict src, size_t k, float scale, float *restrict out)
{
	size_t j = 0;
	for (; j + 16 <= k; j += 16)
		for (size_t l = 0; l < 16; l++)
			out[j + l] = (float)src[j + l] * scale;
	for (; j < k; j++)
		out[j] = (float)src[j] * scale;
}

static void row_f32(const aert_dataset *ds, size_t from, size_t k, float scale, float *out)
{
	switch (ds->dtype) {
	case AERT_U8:
		u8_f32((const uint8_t *)ds->data + from, k, scale, out);
		return;
	case AERT_F32: {
		const float *src = (const float *)ds->data + from;
		for (size_t j = 0; j < k; j++)
			out[j] = src[j] * scale;
		return;
	}
	case AERT_F64:
	case AERT_I64:
		for (size_t j = 0; j < k; j++)
			out[j] = (float)element(ds, from + j) * scale;
		return;
	}
}

/* k elements from `from` on, converted to double, times scale. */
static void row_f64(const aert_dataset *ds, size_t from, size_t k, double scale, double *out)
{
	switch (ds->dtype) {
	case AERT_U8: {
		const uint8_t *src = (const uint8_t *)ds->data + from;
		for (size_t j = 0; j < k; j++)
			out[j] = (double)src[j] * scale;
		return;
	}
	case AERT_F32: {
		const float *src = (const float *)ds->data + from;
		for (size_t j = 0; j < k; j++)
			out[j] = (double)src[j] * scale;
		return;
	}
	case AERT_F64:
	case AERT_I64:
		for (size_t j = 0; j < k; j++)
			out[j] = element(ds, from + j) * scale;
		return;
	}
}

/* Rows are fetched AHEAD rows before they are converted: a row of an
 * image is several cache lines from anywhere in the data, and without
 * that the conversion of a batch waited on memory for most of its time
 * (8% of small_ae's trainer on one thread, 2-4% with it). */
enum { AHEAD = 4 };

static void prefetch_row(const aert_dataset *ds, size_t row)
{
	const size_t bytes = ds->sample * aert_dtype_size(ds->dtype);
	for (size_t at = 0; at < bytes; at += 64)
		__builtin_prefetch((const char *)ds->data + row * bytes + at, 0, 3);
}

void aert_batch(const aert_dataset *ds, const size_t *idx, size_t n, double scale, aert_dtype out_dtype,
		void *out)
{
	size_t k = ds->sample;
	for (size_t i = 0; i < n; i++) {
		if (i + AHEAD < n)
			prefetch_row(ds, idx[i + AHEAD]);
		if (out_dtype == AERT_F32)
			row_f32(ds, idx[i] * k, k, (float)scale, (float *)out + i * k);
		else if (out_dtype == AERT_F64)
			row_f64(ds, idx[i] * k, k, scale, (double *)out + i * k);
	}
}

/* Write a one-hot row of `classes` elements with a one at `hot`. */
static void onehot_row(void *out, size_t row, int classes, int hot, aert_dtype out_dtype)
{
	size_t at = row * (size_t)classes;
	for (int c = 0; c < classes; c++) {
		if (out_dtype == AERT_F32)
			((float *)out)[at + (size_t)c] = c == hot ? 1.0f : 0.0f;
		else
			((double *)out)[at + (size_t)c] = c == hot ? 1.0 : 0.0;
	}
}

int aert_batch_onehot(const aert_dataset *ds, const size_t *idx, size_t n, int classes, aert_dtype out_dtype,
		      void *out, aert_err *err)
{
	if (ds->sample != 1)
		return aert_fail(err, ds->path, "not a label file: samples have %zu values", ds->sample);
	if (classes < 1)
		return aert_fail(err, ds->path, "one-hot rows need at least 1 class, not %d", classes);
	if (out_dtype != AERT_F32 && out_dtype != AERT_F64)
		return aert_fail(err, ds->path, "one-hot rows must be F32 or F64");
	for (size_t i = 0; i < n; i++) {
		double label = element(ds, idx[i]);
		if (!(label >= 0 && label < classes) || label != floor(label))
			return aert_fail(err, ds->path, "label %g of sample %zu is out of range for %d classes",
					 label, idx[i], classes);
		if (out)
			onehot_row(out, i, classes, (int)label, out_dtype);
	}
	return 0;
}

/* ---- a model's data ---- */

/* A loaded file must fit input i of the model, labels included. */
static int check_input(const aert_model *m, int i, const aert_dataset *ds, aert_err *err)
{
	const aert_input *x = &m->inputs[i];
	aert_dtype real = m->real_size == 8 ? AERT_F64 : AERT_F32;
	if (ds->n == 0)
		return aert_fail(err, ds->path, "no samples");
	if (x->onehot_classes > 0 && ds->sample != 1)
		return aert_fail(err, ds->path, "samples have %zu values, model input '%s' needs labels (1 value each)",
				 ds->sample, x->name);
	if (x->onehot_classes <= 0 && ds->sample != x->size)
		return aert_fail(err, ds->path, "samples have %zu value%s, model input '%s' needs %zu", ds->sample,
				 ds->sample == 1 ? "" : "s", x->name, x->size);
	/* Every label in range, before anything trains on them. */
	for (size_t k = 0; x->onehot_classes > 0 && k < ds->n; k++)
		if (aert_batch_onehot(ds, &k, 1, x->onehot_classes, real, NULL, err) != 0)
			return -1;
	return 0;
}

int aert_data_load(const aert_model *m, const char *const *paths, aert_data *d, aert_err *err)
{
	const aert_dataset *first = NULL;
	memset(d, 0, sizeof *d);
	for (int i = 0; i < m->n_inputs; i++) {
		if (!paths[i])
			continue;
		aert_dataset *ds = &d->in[i];
		if (aert_load_any(paths[i], ds, err) != 0 || check_input(m, i, ds, err) != 0)
			goto fail;
		if (first && ds->n != first->n) {
			aert_fail(err, ds->path, "%zu samples, but %s has %zu", ds->n, first->path, first->n);
			goto fail;
		}
		if (!first)
			first = ds;
	}
	if (!first) {
		aert_fail(err, NULL, "no data file for any input of model '%s'", m->name);
		goto fail;
	}
	d->n = first->n;
	return 0;
fail:
	aert_data_free(d);
	return -1;
}

int aert_data_batch(const aert_model *m, const aert_data *d, const size_t *idx, size_t n, void *const *out,
		    aert_err *err)
{
	aert_dtype real = m->real_size == 8 ? AERT_F64 : AERT_F32;
	for (int i = 0; i < m->n_inputs; i++) {
		const aert_input *x = &m->inputs[i];
		if (!d->in[i].path)
			continue;
		if (x->onehot_classes > 0) {
			if (aert_batch_onehot(&d->in[i], idx, n, x->onehot_classes, real, out[i], err) != 0)
				return -1;
		} else {
			aert_batch(&d->in[i], idx, n, m->scale[i], real, out[i]);
		}
	}
	return 0;
}

void aert_data_prefetch(const aert_model *m, const aert_data *d, const size_t *idx, size_t n)
{
	for (int i = 0; i < m->n_inputs; i++)
		if (d->in[i].path)
			for (size_t r = 0; r < n && r < AHEAD; r++)
				prefetch_row(&d->in[i], idx[r]);
}

void aert_data_free(aert_data *d)
{
	for (int i = 0; i < AERT_MAX_INPUTS; i++)
		aert_dataset_free(&d->in[i]);
	d->n = 0;
}

/* ---- class labels and the class filter ---- */

int aert_labels_read(const aert_dataset *ds, int *out, aert_err *err)
{
	if (ds->sample != 1)
		return aert_fail(err, ds->path, "not a label file: samples have %zu values", ds->sample);
	for (size_t i = 0; i < ds->n; i++) {
		double v = element(ds, i);
		if (!(v >= 0 && v < AERT_MAX_CLASSES) || v != floor(v))
			return aert_fail(err, ds->path, "label %g of sample %zu is not a class number 0..%d", v, i,
					 AERT_MAX_CLASSES - 1);
		out[i] = (int)v;
	}
	return 0;
}

int aert_classes_parse(const char *spec, unsigned char *set, aert_err *err)
{
	memset(set, 0, AERT_MAX_CLASSES);
	const char *p = spec;
	int any = 0;
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p || lo < 0 || lo >= AERT_MAX_CLASSES)
			goto bad;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi >= AERT_MAX_CLASSES)
				goto bad;
			p = end;
		}
		for (long c = lo; c <= hi; c++)
			set[c] = 1;
		any = 1;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	if (any)
		return 0;
bad:
	return aert_fail(err, NULL, "classes '%s': expected class numbers 0..%d and ranges, as 0-8 or 0,2,5-7", spec,
			 AERT_MAX_CLASSES - 1);
}

int aert_data_filter(aert_data *d, const aert_dataset *labels, const unsigned char *set, aert_err *err)
{
	if (labels->n != d->n)
		return aert_fail(err, labels->path, "%zu labels for %zu samples", labels->n, d->n);
	int *y = malloc((d->n ? d->n : 1) * sizeof *y);
	if (!y)
		return aert_fail(err, labels->path, "out of memory");
	if (aert_labels_read(labels, y, err) != 0) {
		free(y);
		return -1;
	}
	size_t kept = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (!set[y[i]])
			continue;
		for (int k = 0; k < AERT_MAX_INPUTS; k++) {
			aert_dataset *ds = &d->in[k];
			if (!ds->data)
				continue;
			size_t w = ds->sample * aert_dtype_size(ds->dtype);
			memmove((char *)ds->data + kept * w, (char *)ds->data + i * w, w);
			ds->n = kept + 1;
		}
		kept++;
	}
	free(y);
	if (kept == 0)
		return aert_fail(err, labels->path, "no sample is of the classes asked for");
	for (int k = 0; k < AERT_MAX_INPUTS; k++)
		if (d->in[k].data)
			d->in[k].n = kept;
	d->n = kept;
	return 0;
}
