/* safetensors.c - the safetensors format: an 8-byte little-endian header
 * length N, N bytes of JSON describing each tensor's dtype, shape and byte
 * range, then the little-endian tensor data. Saving is atomic (a process
 * killed while it saves leaves the old file and, at worst, a temporary
 * file that the next save removes); loading validates the whole file
 * before it writes anything. */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference implementation's limit on the header length. */
#define MAX_HEADER_BYTES 100000000u
/* How deeply JSON values we skip may nest. */
enum { MAX_JSON_DEPTH = 64 };
/* Bytes staged at a time when the data needs converting on the way. */
enum { STAGE_BYTES = 1 << 16 };

static const char METADATA_KEY[] = "__metadata__";

/* ---- dtypes ---- */

/* A dtype of the format; only some have an aert_dtype, but every one has
 * a size, so that files holding others still validate. */
typedef struct st_dtype {
	const char *name; /* as written in the header */
	size_t size;      /* bytes per element */
	int ours;         /* the aert_dtype, or -1 */
} st_dtype;

static const st_dtype DTYPES[] = {
	{"F32", 4, AERT_F32}, {"F64", 8, AERT_F64}, {"U8", 1, AERT_U8},  {"I64", 8, AERT_I64},
	{"BOOL", 1, -1},      {"I8", 1, -1},        {"F8_E5M2", 1, -1},  {"F8_E4M3", 1, -1},
	{"I16", 2, -1},       {"U16", 2, -1},       {"F16", 2, -1},      {"BF16", 2, -1},
	{"I32", 4, -1},       {"U32", 4, -1},       {"U64", 8, -1},
};
enum { N_DTYPES = sizeof DTYPES / sizeof DTYPES[0] };

/* The index in DTYPES of an aert_dtype, or -1. */
static int dtype_index(aert_dtype t)
{
	for (int i = 0; i < N_DTYPES; i++)
		if (DTYPES[i].ours == (int)t)
			return i;
	return -1;
}

/* ---- shapes in messages ---- */

/* "[512, 784]", or as much of it as fits, then "...]". */
typedef struct shape_text {
	char s[96];
} shape_text;

static shape_text format_shape(const uint64_t *dims, int rank)
{
	shape_text t;
	size_t at = 1, cap = sizeof t.s - 5; /* room for "...]" */
	t.s[0] = '[';
	for (int i = 0; i < rank; i++) {
		char one[24];
		int len = snprintf(one, sizeof one, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
		if (at + (size_t)len > cap) {
			memcpy(t.s + at, "...", 3);
			at += 3;
			break;
		}
		memcpy(t.s + at, one, (size_t)len);
		at += (size_t)len;
	}
	memcpy(t.s + at, "]", 2);
	return t;
}

static shape_text tensor_shape(const aert_tensor *t)
{
	uint64_t dims[4];
	for (int i = 0; i < t->rank && i < 4; i++)
		dims[i] = t->dims[i];
	return format_shape(dims, t->rank);
}

/* Bytes of a tensor's data; fails on a bad rank or dtype, or overflow. */
static int tensor_bytes(const aert_tensor *t, const char *path, size_t *bytes, aert_err *err)
{
	if (t->rank < 0 || t->rank > 4)
		return aert_fail(err, path, "tensor %s: rank %d is not 0..4", t->name, t->rank);
	size_t total = aert_dtype_size(t->dtype);
	if (total == 0)
		return aert_fail(err, path, "tensor %s: unknown dtype %d", t->name, (int)t->dtype);
	for (int i = 0; i < t->rank; i++)
		if (aert_mul_size(total, t->dims[i], &total) != 0)
			return aert_fail(err, path, "tensor %s: shape %s is too large", t->name,
					 tensor_shape(t).s);
	*bytes = total;
	return 0;
}

/* ---- UTF-8 ---- */

/* The length of the valid UTF-8 sequence at p (before end), or 0. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
	if (p[0] < 0x80)
		return 1;
	size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
	if (len == 0 || p[0] > 0xF4 || (size_t)(end - p) < len)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) || /* overlong, surrogate */
	    (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))   /* overlong, > U+10FFFF */
		return 0;
	return len;
}

static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (p < end) {
		size_t len = utf8_length(p, end);
		if (len == 0)
			return 0;
		p += len;
	}
	return 1;
}

/* ---- a growing text buffer ---- */

typedef struct text {
	char *s;      /* NUL-terminated text */
	size_t len;   /* bytes before the NUL */
	size_t cap;   /* bytes allocated */
	int failed;   /* an allocation failed; the text is incomplete */
} text;

/* Room for `more` bytes and a NUL; on failure marks the text failed. */
static int text_reserve(text *b, size_t more)
{
	if (b->failed)
		return -1;
	if (more < b->cap - b->len)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap <= b->len + more && cap <= SIZE_MAX / 2)
		cap *= 2;
	char *s = cap > b->len + more ? realloc(b->s, cap) : NULL;
	if (!s) {
		b->failed = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

static void text_add(text *b, const char *s, size_t len)
{
	if (text_reserve(b, len) != 0)
		return;
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

static void text_printf(text *b, const char *fmt, ...) AERT_PRINTF(2, 3);
static void text_printf(text *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || text_reserve(b, (size_t)len) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)len + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)len;
}

/* s as a JSON string literal. */
static void text_json_string(text *b, const char *s)
{
	text_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			text_printf(b, "\\%c", c);
		else if (c < 0x20)
			text_printf(b, "\\u%04x", c);
		else
			text_add(b, s, 1);
	}
	text_add(b, "\"", 1);
}

/* ---- JSON ---- */

/* A strict JSON reader over the header bytes (RFC 8259: no comments, no
 * trailing commas, no leading zeros, valid UTF-8 and escapes). */
typedef struct json {
	const char *start, *p, *end; /* the text and the read position */
	const char *path;            /* for messages */
	aert_err *err;               /* where failures go */
} json;

static int json_fail(json *j, const char *what)
{
	return aert_fail(j->err, j->path, "invalid header JSON at byte %zu: %s", (size_t)(j->p - j->start),
			 what);
}

static void json_space(json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* The next character after whitespace, or -1 at the end. */
static int json_peek(json *j)
{
	json_space(j);
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static int json_expect(json *j, char c)
{
	if (json_peek(j) != (unsigned char)c)
		return aert_fail(j->err, j->path, "invalid header JSON at byte %zu: expected '%c'",
				 (size_t)(j->p - j->start), c);
	j->p++;
	return 0;
}

/* Four hex digits of a \u escape. */
static int json_hex4(json *j, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++, j->p++) {
		char c = j->p < j->end ? *j->p : 0;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d == 16)
			return json_fail(j, "bad \\u escape");
		*v = *v << 4 | d;
	}
	return 0;
}

/* A \u escape (the backslash and u consumed), surrogate pairs joined;
 * appends its UTF-8 form to out (if not NULL). */
static int json_unicode(json *j, text *out)
{
	unsigned c, lo;
	if (json_hex4(j, &c) != 0)
		return -1;
	if (c >= 0xDC00 && c <= 0xDFFF)
		return json_fail(j, "lone low surrogate");
	if (c >= 0xD800 && c <= 0xDBFF) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return json_fail(j, "lone high surrogate");
		j->p += 2;
		if (json_hex4(j, &lo) != 0)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return json_fail(j, "bad surrogate pair");
		c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (c == 0)
		return json_fail(j, "\\u0000 in a string");
	if (!out)
		return 0;
	char u[4];
	size_t n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
	static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
	for (size_t i = n - 1; i > 0; i--, c >>= 6)
		u[i] = (char)(0x80 | (c & 0x3F));
	u[0] = (char)(lead[n] | c);
	text_add(out, u, n);
	return 0;
}

/* A string; its decoded text goes to *out (malloc'd) unless out is NULL. */
static int json_string(json *j, char **out)
{
	/* Pairs: the letter after a backslash, then the character it means. */
	static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	text s = {0};
	if (json_expect(j, '"') != 0)
		return -1;
	text_add(&s, "", 0);
	while (j->p < j->end && *j->p != '"') {
		const unsigned char *u = (const unsigned char *)j->p;
		size_t len = utf8_length(u, (const unsigned char *)j->end);
		if (*u < 0x20 || len == 0) {
			free(s.s);
			return json_fail(j, *u < 0x20 ? "control character in a string" : "invalid UTF-8");
		}
		if (*u != '\\') {
			text_add(&s, j->p, len);
			j->p += len;
			continue;
		}
		j->p++;
		const char *e = j->p < j->end ? strchr(escapes, *j->p) : NULL;
		if (j->p < j->end && *j->p == 'u') {
			j->p++;
			if (json_unicode(j, &s) != 0) {
				free(s.s);
				return -1;
			}
		} else if (e && *e && (e - escapes) % 2 == 0) {
			text_add(&s, e + 1, 1);
			j->p++;
		} else {
			free(s.s);
			return json_fail(j, "bad escape");
		}
	}
	if (j->p >= j->end || s.failed) {
		free(s.s);
		return s.failed ? aert_fail(j->err, j->path, "out of memory") : json_fail(j, "unterminated string");
	}
	j->p++;
	if (out)
		*out = s.s;
	else
		free(s.s);
	return 0;
}

/* A number; with v, it must be a non-negative integer that fits. */
static int json_number(json *j, uint64_t *v)
{
	json_space(j);
	const char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return json_fail(j, "expected a number");
	if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
		return json_fail(j, "leading zero");
	uint64_t x = 0;
	int overflow = 0;
	for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
		unsigned d = (unsigned)(*j->p - '0');
		overflow |= x > (UINT64_MAX - d) / 10;
		x = 10 * x + d;
	}
	int integer = 1;
	if (j->p < j->end && *j->p == '.') {
		integer = 0;
		if (++j->p >= j->end || *j->p < '0' || *j->p > '9')
			return json_fail(j, "bad fraction");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		integer = 0;
		if (++j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return json_fail(j, "bad exponent");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (!v)
		return 0;
	if (!integer || *s == '-' || overflow) {
		j->p = s;
		return json_fail(j, "expected a non-negative integer");
	}
	*v = x;
	return 0;
}

static int json_skip(json *j, int depth);

/* The rest of an array or object whose bracket has been read. */
static int json_skip_items(json *j, char close, int depth)
{
	if (json_peek(j) == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (close == '}' && (json_string(j, NULL) != 0 || json_expect(j, ':') != 0))
			return -1;
		if (json_skip(j, depth + 1) != 0)
			return -1;
		if (json_peek(j) == close) {
			j->p++;
			return 0;
		}
		if (json_expect(j, ',') != 0)
			return -1;
	}
}

/* Check and pass over any one value. */
static int json_skip(json *j, int depth)
{
	if (depth > MAX_JSON_DEPTH)
		return json_fail(j, "nested too deeply");
	int c = json_peek(j);
	if (c == '"')
		return json_string(j, NULL);
	if (c == '{' || c == '[') {
		j->p++;
		return json_skip_items(j, c == '{' ? '}' : ']', depth);
	}
	static const char *const words[3] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(words[i]);
		if ((size_t)(j->end - j->p) >= len && memcmp(j->p, words[i], len) == 0) {
			j->p += len;
			return 0;
		}
	}
	return json_number(j, NULL);
}

/* An array of non-negative integers into a new array *v of *n. */
static int json_uints(json *j, uint64_t **v, size_t *n)
{
	size_t cap = 0;
	*v = NULL;
	*n = 0;
	if (json_expect(j, '[') != 0)
		return -1;
	if (json_peek(j) == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			uint64_t *grown = cap < SIZE_MAX / 16 ? realloc(*v, cap * sizeof **v) : NULL;
			if (!grown)
				return aert_fail(j->err, j->path, "out of memory");
			*v = grown;
		}
		if (json_number(j, &(*v)[*n]) != 0)
			return -1;
		++*n;
		if (json_peek(j) == ']') {
			j->p++;
			return 0;
		}
		if (json_expect(j, ',') != 0)
			return -1;
	}
}

/* ---- the header ---- */

/* One tensor as the header describes it. */
typedef struct st_entry {
	char *name;      /* decoded name */
	int dtype;       /* index in DTYPES, -1 until read */
	size_t rank;     /* entries of dims */
	uint64_t *dims;  /* shape */
	uint64_t begin;  /* first byte, relative to the data section */
	uint64_t end;    /* byte after the last */
	int has_offsets; /* data_offsets was read */
	int has_shape;   /* shape was read */
} st_entry;

/* The parsed header and the mapped file it describes. */
typedef struct st_file {
	const char *path;       /* for messages */
	unsigned char *map;     /* the whole file */
	size_t size;            /* its bytes */
	const unsigned char *data; /* the data section */
	size_t data_len;        /* its bytes */
	st_entry *e;            /* tensors, sorted by name once read */
	size_t n, cap;          /* tensors and room */
	int has_metadata;       /* __metadata__ was seen */
	aert_err *err;          /* where failures go */
} st_file;

static void st_file_close(st_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->e[i].name);
		free(f->e[i].dims);
	}
	free(f->e);
	if (f->map)
		munmap(f->map, f->size);
	memset(f, 0, sizeof *f);
}

/* __metadata__: an object whose values are strings. */
static int parse_metadata(json *j, st_file *f)
{
	if (f->has_metadata)
		return aert_fail(f->err, f->path, "__metadata__ appears twice");
	f->has_metadata = 1;
	if (json_expect(j, '{') != 0)
		return -1;
	if (json_peek(j) == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (json_string(j, NULL) != 0 || json_expect(j, ':') != 0)
			return -1;
		if (json_peek(j) != '"')
			return json_fail(j, "__metadata__ values must be strings");
		if (json_string(j, NULL) != 0)
			return -1;
		if (json_peek(j) == '}') {
			j->p++;
			return 0;
		}
		if (json_expect(j, ',') != 0)
			return -1;
	}
}

/* One key of a tensor's object. */
static int parse_tensor_key(json *j, st_file *f, st_entry *e, const char *key)
{
	if (strcmp(key, "dtype") == 0) {
		char *name;
		if (e->dtype >= 0)
			return aert_fail(f->err, f->path, "tensor %s: dtype appears twice", e->name);
		if (json_string(j, &name) != 0)
			return -1;
		for (int i = 0; i < N_DTYPES && e->dtype < 0; i++)
			if (strcmp(name, DTYPES[i].name) == 0)
				e->dtype = i;
		int known = e->dtype >= 0;
		if (!known)
			aert_fail(f->err, f->path, "tensor %s: unknown dtype '%.32s'", e->name, name);
		free(name);
		return known ? 0 : -1;
	}
	if (strcmp(key, "shape") == 0) {
		if (e->has_shape)
			return aert_fail(f->err, f->path, "tensor %s: shape appears twice", e->name);
		e->has_shape = 1;
		return json_uints(j, &e->dims, &e->rank);
	}
	if (strcmp(key, "data_offsets") == 0) {
		uint64_t *v;
		size_t n;
		if (e->has_offsets)
			return aert_fail(f->err, f->path, "tensor %s: data_offsets appears twice", e->name);
		if (json_uints(j, &v, &n) != 0) {
			free(v);
			return -1;
		}
		if (n == 2) {
			e->begin = v[0];
			e->end = v[1];
			e->has_offsets = 1;
		}
		free(v);
		return n == 2 ? 0 : aert_fail(f->err, f->path, "tensor %s: data_offsets must be [begin, end]", e->name);
	}
	return json_skip(j, 1);
}

/* A tensor's object; e->name is set, the rest is read here. */
static int parse_tensor(json *j, st_file *f, st_entry *e)
{
	if (json_expect(j, '{') != 0)
		return -1;
	if (json_peek(j) != '}') {
		for (;;) {
			char *key;
			if (json_string(j, &key) != 0)
				return -1;
			int rc = json_expect(j, ':');
			if (rc == 0)
				rc = parse_tensor_key(j, f, e, key);
			free(key);
			if (rc != 0)
				return -1;
			if (json_peek(j) == '}')
				break;
			if (json_expect(j, ',') != 0)
				return -1;
		}
	}
	j->p++;
	if (e->dtype < 0 || !e->has_shape || !e->has_offsets)
		return aert_fail(f->err, f->path, "tensor %s: %s is missing", e->name,
				 e->dtype < 0 ? "dtype" : !e->has_shape ? "shape" : "data_offsets");
	return 0;
}

/* A new entry named `name` (taken over) at the end of f->e. */
static st_entry *add_entry(st_file *f, char *name)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		st_entry *e = cap < SIZE_MAX / 2 / sizeof *e ? realloc(f->e, cap * sizeof *e) : NULL;
		if (!e) {
			free(name);
			return NULL;
		}
		f->e = e;
		f->cap = cap;
	}
	st_entry *e = &f->e[f->n++];
	memset(e, 0, sizeof *e);
	e->name = name;
	e->dtype = -1;
	return e;
}

/* The top-level object. */
static int parse_header(json *j, st_file *f)
{
	if (json_expect(j, '{') != 0)
		return -1;
	if (json_peek(j) != '}') {
		for (;;) {
			char *key;
			if (json_string(j, &key) != 0)
				return -1;
			if (json_expect(j, ':') != 0) {
				free(key);
				return -1;
			}
			int rc;
			if (strcmp(key, METADATA_KEY) == 0) {
				free(key);
				rc = parse_metadata(j, f);
			} else {
				st_entry *e = add_entry(f, key);
				rc = e ? parse_tensor(j, f, e) : aert_fail(f->err, f->path, "out of memory");
			}
			if (rc != 0)
				return -1;
			if (json_peek(j) == '}')
				break;
			if (json_expect(j, ',') != 0)
				return -1;
		}
	}
	j->p++;
	if (json_peek(j) != -1)
		return json_fail(j, "text after the header object");
	return 0;
}

/* ---- validating a parsed header ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int by_offsets(const void *a, const void *b)
{
	const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

/* Each tensor's byte range must match its dtype and shape. */
static int check_sizes(st_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const st_entry *e = &f->e[i];
		uint64_t bytes = DTYPES[e->dtype].size;
		for (size_t d = 0; d < e->rank; d++) {
			if (e->dims[d] != 0 && bytes > UINT64_MAX / e->dims[d])
				return aert_fail(f->err, f->path, "tensor %s: shape %s is too large", e->name,
						 format_shape(e->dims, (int)e->rank).s);
			bytes *= e->dims[d];
		}
		if (e->end < e->begin || e->end - e->begin != bytes)
			return aert_fail(f->err, f->path,
					 "tensor %s: data_offsets [%llu, %llu] do not match %s %s (%llu bytes)", e->name,
					 (unsigned long long)e->begin, (unsigned long long)e->end, DTYPES[e->dtype].name,
					 format_shape(e->dims, (int)e->rank).s, (unsigned long long)bytes);
	}
	return 0;
}

/* The byte ranges, in order, must tile the data section exactly. */
static int check_layout(st_file *f)
{
	const st_entry **order = malloc((f->n ? f->n : 1) * sizeof *order);
	if (!order)
		return aert_fail(f->err, f->path, "out of memory");
	for (size_t i = 0; i < f->n; i++)
		order[i] = &f->e[i];
	qsort(order, f->n, sizeof *order, by_offsets);
	uint64_t at = 0;
	int rc = 0;
	for (size_t i = 0; i < f->n && rc == 0; i++) {
		if (order[i]->begin != at)
			rc = aert_fail(f->err, f->path, "tensor %s: data at byte %llu, expected %llu (gap or overlap)",
				       order[i]->name, (unsigned long long)order[i]->begin, (unsigned long long)at);
		at = order[i]->end;
	}
	free(order);
	if (rc == 0 && at > f->data_len)
		rc = aert_fail(f->err, f->path, "truncated: tensor data needs %llu bytes, the file holds %zu",
			       (unsigned long long)at, f->data_len);
	if (rc == 0 && at < f->data_len)
		rc = aert_fail(f->err, f->path, "%llu bytes after the last tensor",
			       (unsigned long long)(f->data_len - at));
	return rc;
}

/* Names must be unique; sorts the entries by name for lookups. */
static int check_names(st_file *f)
{
	if (f->n > 1)
		qsort(f->e, f->n, sizeof *f->e, by_name);
	for (size_t i = 1; i < f->n; i++)
		if (strcmp(f->e[i - 1].name, f->e[i].name) == 0)
			return aert_fail(f->err, f->path, "tensor %s appears twice", f->e[i].name);
	return 0;
}

static const st_entry *find_entry(const st_file *f, const char *name)
{
	st_entry key = {0};
	key.name = (char *)name;
	return f->n ? bsearch(&key, f->e, f->n, sizeof *f->e, by_name) : NULL;
}

/* ---- opening a file ---- */

static uint64_t load_le64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Map the file and check the header length against its size. */
static int map_file(st_file *f)
{
	int fd = open(f->path, O_RDONLY);
	if (fd < 0)
		return aert_fail(f->err, f->path, "cannot open: %s", strerror(errno));
	struct stat st;
	int e = fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
	if (e != 0) {
		close(fd);
		return aert_fail(f->err, f->path, "cannot read: %s", e == EINVAL ? "not a regular file" : strerror(e));
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return aert_fail(f->err, f->path, "too large to map");
	}
	f->size = (size_t)st.st_size;
	if (f->size < 8) {
		close(fd);
		return aert_fail(f->err, f->path, "truncated: %zu bytes, too short for a header length", f->size);
	}
	void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	e = errno;
	close(fd);
	if (map == MAP_FAILED)
		return aert_fail(f->err, f->path, "cannot map: %s", strerror(e));
	f->map = map;
	return 0;
}

/* Open, map, parse and validate a file. */
static int st_file_open(st_file *f, const char *path, aert_err *err)
{
	memset(f, 0, sizeof *f);
	f->path = path;
	f->err = err;
	if (map_file(f) != 0)
		return -1;
	uint64_t hlen = load_le64(f->map);
	if (hlen > f->size - 8)
		return aert_fail(err, path, "header length %llu exceeds the file size (%zu bytes)",
				 (unsigned long long)hlen, f->size);
	if (hlen > MAX_HEADER_BYTES)
		return aert_fail(err, path, "header length %llu is too large", (unsigned long long)hlen);
	json j = {.start = (const char *)f->map + 8, .p = (const char *)f->map + 8,
		  .end = (const char *)f->map + 8 + hlen, .path = path, .err = err};
	f->data = f->map + 8 + hlen;
	f->data_len = f->size - 8 - (size_t)hlen;
	if (parse_header(&j, f) != 0 || check_sizes(f) != 0 || check_layout(f) != 0 || check_names(f) != 0)
		return -1;
	return 0;
}

/* ---- loading ---- */

/* One element of `width` (4 or 8) little-endian bytes. */
static double load_real(const unsigned char *b, size_t width)
{
	uint64_t bits = 0;
	for (size_t i = width; i-- > 0;)
		bits = bits << 8 | b[i];
	if (width == 4) {
		uint32_t b32 = (uint32_t)bits;
		float x;
		memcpy(&x, &b32, 4);
		return x;
	}
	double x;
	memcpy(&x, &bits, 8);
	return x;
}

/* Copy (and convert) an entry's data into t. */
static void copy_tensor(const st_file *f, const st_entry *e, const aert_tensor *t, size_t count)
{
	const unsigned char *src = f->data + e->begin;
	size_t from = DTYPES[e->dtype].size;
	if (count == 0)
		return;
	if (DTYPES[e->dtype].ours == (int)t->dtype) {
		memcpy(t->data, src, count * from);
		if (!aert_host_is_le() && from > 1)
			aert_swap_bytes(t->data, count, from);
	} else if (t->dtype == AERT_F32) {
		for (size_t i = 0; i < count; i++)
			((float *)t->data)[i] = (float)load_real(src + i * from, from);
	} else {
		for (size_t i = 0; i < count; i++)
			((double *)t->data)[i] = load_real(src + i * from, from);
	}
}

/* Whether an entry of file dtype `file` can fill a tensor of `want`. */
static int dtype_fits(int file, aert_dtype want)
{
	int ours = DTYPES[file].ours;
	if (ours == (int)want)
		return 1;
	return (ours == AERT_F32 || ours == AERT_F64) && (want == AERT_F32 || want == AERT_F64);
}

/* Match t against its entry (e may be NULL): shape, dtype. */
static int check_request(const st_file *f, const aert_tensor *t, const st_entry *e)
{
	size_t bytes;
	if (tensor_bytes(t, f->path, &bytes, f->err) != 0)
		return -1;
	if (!e)
		return aert_fail(f->err, f->path, "tensor %s is missing (model expects %s)", t->name,
				 tensor_shape(t).s);
	int same = e->rank == (size_t)t->rank;
	for (int d = 0; same && d < t->rank; d++)
		same = e->dims[d] == t->dims[d];
	if (!same)
		return aert_fail(f->err, f->path, "tensor %s has shape %s, model expects %s", t->name,
				 format_shape(e->dims, (int)e->rank).s, tensor_shape(t).s);
	if (!dtype_fits(e->dtype, t->dtype)) {
		int want = dtype_index(t->dtype);
		return aert_fail(f->err, f->path, "tensor %s has dtype %s, model expects %s", t->name,
				 DTYPES[e->dtype].name, want >= 0 ? DTYPES[want].name : "?");
	}
	return 0;
}

int aert_st_load(const char *path, aert_tensor *t, size_t n, int *found, aert_err *err)
{
	st_file f;
	if (st_file_open(&f, path, err) != 0) {
		st_file_close(&f);
		return -1;
	}
	/* Check every request before writing any data. */
	for (size_t i = 0; i < n; i++) {
		const st_entry *e = find_entry(&f, t[i].name);
		if ((e || !found || !found[i]) && check_request(&f, &t[i], e) != 0) {
			st_file_close(&f);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const st_entry *e = find_entry(&f, t[i].name);
		if (e)
			copy_tensor(&f, e, &t[i], (size_t)(e->end - e->begin) / DTYPES[e->dtype].size);
		if (found)
			found[i] = e != NULL;
	}
	st_file_close(&f);
	return 0;
}

/* ---- saving ---- */

/* Names must be valid, unique, and not the metadata key. */
static int check_save_names(const char *path, const aert_tensor *t, size_t n, aert_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, METADATA_KEY) == 0 || !valid_utf8(t[i].name))
			return aert_fail(err, path, "tensor %zu: bad name '%s'", i, t[i].name ? t[i].name : "");
		for (size_t k = 0; k < i; k++)
			if (strcmp(t[k].name, t[i].name) == 0)
				return aert_fail(err, path, "tensor %s appears twice", t[i].name);
	}
	return 0;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static int build_header(const char *path, const aert_tensor *t, size_t n, text *h, aert_err *err)
{
	uint64_t at = 0;
	text_printf(h, "{\"%s\":{\"format\":\"pt\"}", METADATA_KEY);
	for (size_t i = 0; i < n; i++) {
		size_t bytes;
		if (tensor_bytes(&t[i], path, &bytes, err) != 0)
			return -1;
		text_add(h, ",", 1);
		text_json_string(h, t[i].name);
		text_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", DTYPES[dtype_index(t[i].dtype)].name);
		for (int d = 0; d < t[i].rank; d++)
			text_printf(h, "%s%zu", d ? "," : "", t[i].dims[d]);
		text_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
			    (unsigned long long)(at + bytes));
		at += bytes;
	}
	text_add(h, "}", 1);
	while (h->len % 8 != 0)
		text_add(h, " ", 1);
	if (h->failed)
		return aert_fail(err, path, "out of memory");
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			errno = EIO;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A tensor's data, little-endian. */
static int write_tensor(int fd, const aert_tensor *t, size_t bytes)
{
	size_t width = aert_dtype_size(t->dtype);
	if (aert_host_is_le() || width == 1)
		return bytes ? write_all(fd, t->data, bytes) : 0;
	unsigned char stage[STAGE_BYTES];
	for (size_t at = 0; at < bytes; at += STAGE_BYTES) {
		size_t len = bytes - at < STAGE_BYTES ? bytes - at : STAGE_BYTES;
		memcpy(stage, (const unsigned char *)t->data + at, len);
		aert_swap_bytes(stage, len / width, width);
		if (write_all(fd, stage, len) != 0)
			return -1;
	}
	return 0;
}

/* Header length, header and data to fd. */
static int write_file(int fd, const aert_tensor *t, size_t n, const text *h)
{
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)h->len >> (8 * i));
	if (write_all(fd, len, 8) != 0 || write_all(fd, h->s, h->len) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t bytes;
		if (tensor_bytes(&t[i], NULL, &bytes, NULL) != 0 || write_tensor(fd, &t[i], bytes) != 0)
			return -1;
	}
	return 0;
}

/* The folder of path ("." if it has none) and the name in it. */
static char *split_path(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 1;
	char *dir = malloc(len + 1);
	if (!dir)
		return NULL;
	if (!slash)
		memcpy(dir, ".", 2);
	else if (len == 0)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	*name = slash ? slash + 1 : path;
	return dir;
}

/* The PID in a temporary file's name "NAME.tmp.PID", or 0. */
static long temp_owner(const char *entry, const char *name)
{
	size_t len = strlen(name);
	if (strncmp(entry, name, len) != 0 || strncmp(entry + len, ".tmp.", 5) != 0 || !entry[len + 5])
		return 0;
	long pid = 0;
	for (const char *p = entry + len + 5; *p; p++) {
		if (*p < '0' || *p > '9' || pid > 99999999)
			return 0;
		pid = 10 * pid + (*p - '0');
	}
	return pid;
}

/* Remove dir/entry if no process holds its lock (every save locks its
 * temporary file while it writes; the lock dies with the process). */
static void remove_if_unlocked(const char *dir, const char *entry)
{
	size_t len = strlen(dir) + strlen(entry) + 2;
	char *file = malloc(len);
	if (!file)
		return;
	snprintf(file, len, "%s/%s", dir, entry);
	int fd = open(file, O_RDONLY | O_NOFOLLOW);
	if (fd >= 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlink(file);
		close(fd);
	}
	free(file);
}

void aert_st_clean(const char *path)
{
	const char *name;
	char *dir = split_path(path, &name);
	DIR *d = dir ? opendir(dir) : NULL;
	for (struct dirent *e; d && (e = readdir(d));) {
		long pid = temp_owner(e->d_name, name);
		/* Another process's temporary file, and that process is gone. */
		if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			remove_if_unlocked(dir, e->d_name);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Write h and the data to PATH.tmp.PID, then rename it over PATH. */
static int save_atomically(const char *path, const aert_tensor *t, size_t n, const text *h, aert_err *err)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	if (!tmp)
		return aert_fail(err, path, "out of memory");
	snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
	aert_st_clean(path);
	int fd = aert_create_temp(tmp);
	if (fd < 0) {
		aert_fail(err, path, "cannot create a temporary file next to it: %s", strerror(errno));
		free(tmp);
		return -1;
	}
	const char *failed = NULL; /* what went wrong, errno saying why */
	int e = 0;
	/* A write beyond the file size limit (ulimit -f) fails with EFBIG
	 * instead of killing the process with SIGXFSZ, and is reported like a
	 * full disk. (The disposition is the process's, for these writes.) */
	struct sigaction ignore, before;
	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	int restore = sigaction(SIGXFSZ, &ignore, &before) == 0;
	if (write_file(fd, t, n, h) != 0)
		failed = "cannot write";
	else if (fsync(fd) != 0)
		failed = "cannot sync";
	e = errno;
	if (restore)
		sigaction(SIGXFSZ, &before, NULL);
	if (close(fd) != 0 && !failed) {
		failed = "cannot close";
		e = errno;
	}
	if (!failed && rename(tmp, path) != 0) {
		failed = "cannot rename the temporary file onto it";
		e = errno;
	}
	if (failed) {
		unlink(tmp);
		aert_fail(err, path, "%s: %s", failed, strerror(e));
	}
	free(tmp);
	if (failed)
		return -1;
	aert_sync_directory(path);
	return 0;
}

int aert_st_save(const char *path, const aert_tensor *t, size_t n, aert_err *err)
{
	text h = {0};
	if (check_save_names(path, t, n, err) != 0 || build_header(path, t, n, &h, err) != 0) {
		free(h.s);
		return -1;
	}
	int rc = save_atomically(path, t, n, &h, err);
	free(h.s);
	return rc;
}

/* ---- a compiled model's state ---- */

/* The tensors of a state: parameters, buffers, then with the optimizer the
 * first moments, the second moments and the step. */
typedef struct state_tensors {
	aert_tensor *t; /* the tensors */
	char **names;   /* names allocated here (optimizer ones), or NULL */
	size_t n;       /* tensors */
	size_t n_required; /* of which parameters and buffers, which a file must hold */
} state_tensors;

static void state_tensors_free(state_tensors *s)
{
	for (size_t i = 0; s->names && i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->t);
	memset(s, 0, sizeof *s);
}

/* PREFIX + name in a new string. */
static char *prefixed(const char *prefix, const char *name)
{
	size_t a = strlen(prefix), b = strlen(name);
	char *s = malloc(a + b + 1);
	if (s) {
		memcpy(s, prefix, a);
		memcpy(s + a, name, b + 1);
	}
	return s;
}

/* Point tensor t at parameter p inside `block` (elements of `dtype`). */
static void param_tensor(aert_tensor *t, const aert_param *p, const char *name, aert_dtype dtype, void *block)
{
	t->name = name;
	t->dtype = dtype;
	t->rank = p->rank;
	for (int d = 0; d < 4; d++)
		t->dims[d] = d < p->rank ? p->dims[d] : 0;
	t->data = (unsigned char *)block + p->offset * aert_dtype_size(dtype);
}

/* Point tensor t at buffer b inside the buffers starting at `base`. */
static void buffer_tensor(aert_tensor *t, const aert_buffer *b, void *base)
{
	t->name = b->name;
	t->dtype = b->dtype;
	t->rank = b->rank;
	for (int d = 0; d < 4; d++)
		t->dims[d] = d < b->rank ? b->dims[d] : 0;
	t->data = (unsigned char *)base + b->offset;
}

static int state_tensors_make(const aert_model *m, void *state, int optimizer, state_tensors *s,
			      const char *path, aert_err *err)
{
	memset(s, 0, sizeof *s);
	if (m->real_size != 4 && m->real_size != 8)
		return aert_fail(err, path, "model %s: real_size %d is not 4 or 8", m->name, m->real_size);
	aert_dtype dtype = m->real_size == 4 ? AERT_F32 : AERT_F64;
	size_t np = (size_t)(m->n_params > 0 ? m->n_params : 0);
	size_t nb = (size_t)(m->n_buffers > 0 ? m->n_buffers : 0);
	s->n_required = np + nb;
	s->n = optimizer ? np + nb + 2 * np + 1 : np + nb;
	s->t = calloc(s->n ? s->n : 1, sizeof *s->t);
	s->names = calloc(s->n ? s->n : 1, sizeof *s->names);
	if (!s->t || !s->names)
		return aert_fail(err, path, "out of memory");
	for (size_t i = 0; i < np; i++)
		param_tensor(&s->t[i], &m->params[i], m->params[i].name, dtype, m->params_of(state));
	for (size_t i = 0; i < nb; i++)
		buffer_tensor(&s->t[np + i], &m->buffers[i], m->buffers_of(state));
	if (!optimizer)
		return 0;
	aert_tensor *moments = s->t + np + nb;
	char **names = s->names + np + nb;
	for (size_t i = 0; i < np; i++) {
		names[i] = prefixed("optimizer.m.", m->params[i].name);
		names[np + i] = prefixed("optimizer.v.", m->params[i].name);
		if (!names[i] || !names[np + i])
			return aert_fail(err, path, "out of memory");
		param_tensor(&moments[i], &m->params[i], names[i], dtype, m->adam_m_of(state));
		param_tensor(&moments[np + i], &m->params[i], names[np + i], dtype, m->adam_v_of(state));
	}
	aert_tensor *step = &moments[2 * np];
	step->name = "optimizer.step";
	step->dtype = AERT_I64;
	step->rank = 0;
	step->data = m->step_of(state);
	return 0;
}

int aert_save_model(const aert_model *m, void *state, const char *path, int optimizer, aert_err *err)
{
	state_tensors s;
	int rc = state_tensors_make(m, state, optimizer, &s, path, err);
	if (rc == 0)
		rc = aert_st_save(path, s.t, s.n, err);
	state_tensors_free(&s);
	return rc;
}

/* The optimizer tensors (after the parameters and buffers) were all found or none. */
static int check_optimizer_found(const state_tensors *s, const int *found, const char *path, aert_err *err)
{
	size_t have = 0, first_missing = s->n;
	for (size_t i = s->n_required; i < s->n; i++) {
		have += found[i] != 0;
		if (!found[i] && first_missing == s->n)
			first_missing = i;
	}
	if (have != 0 && have != s->n - s->n_required)
		return aert_fail(err, path, "incomplete optimizer state: tensor %s is missing", s->t[first_missing].name);
	return 0;
}

int aert_load_model(const aert_model *m, void *state, const char *path, int optimizer, aert_err *err)
{
	void *copy = NULL;
	if (posix_memalign(&copy, 64, m->state_bytes ? m->state_bytes : 64) != 0)
		return aert_fail(err, path, "out of memory for a %zu-byte model state", m->state_bytes);
	memcpy(copy, state, m->state_bytes);
	state_tensors s;
	int *found = NULL;
	int rc = state_tensors_make(m, copy, optimizer, &s, path, err);
	if (rc == 0 && !(found = calloc(s.n ? s.n : 1, sizeof *found)))
		rc = aert_fail(err, path, "out of memory");
	if (rc == 0) {
		for (size_t i = s.n_required; i < s.n; i++)
			found[i] = 1; /* the optimizer state is optional */
		rc = aert_st_load(path, s.t, s.n, found, err);
	}
	if (rc == 0)
		rc = check_optimizer_found(&s, found, path, err);
	if (rc == 0)
		memcpy(state, copy, m->state_bytes);
	free(found);
	state_tensors_free(&s);
	free(copy);
	return rc;
}
