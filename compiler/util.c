/* util.c - allocation, buffers and the one diagnostic printer. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The registered source texts, newest first, and the errors so far. */
typedef struct Source {
	const char *file;
	const char *text;
	struct Source *next;
} Source;

static Source *sources;
static int nerrors;

static _Noreturn void oom(void)
{
	fputs("aecc: error: out of memory\n", stderr);
	exit(1);
}

/* Every block starts with this header, which links it into one list of
 * everything allocated, so that util_release() can free it all. */
typedef union Block {
	struct {
		union Block *prev, *next;
	} link;
	long double align_real; /* the payload after it stays aligned */
	long long align_int;    /* for any type, as malloc's is */
} Block;

static Block blocks = {.link = {&blocks, &blocks}}; /* the list's head */

static void *link_block(Block *b)
{
	b->link.prev = &blocks;
	b->link.next = blocks.link.next;
	blocks.link.next->link.prev = b;
	blocks.link.next = b;
	return b + 1;
}

static Block *unlink_block(void *p)
{
	Block *b = (Block *)p - 1;
	b->link.prev->link.next = b->link.next;
	b->link.next->link.prev = b->link.prev;
	return b;
}

void *xmalloc(size_t n)
{
	Block *b = n <= SIZE_MAX - sizeof *b ? malloc(sizeof *b + n) : NULL;
	if (!b)
		oom();
	return link_block(b);
}

void *xcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	void *p = xmalloc(n * size);
	memset(p, 0, n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	if (!p)
		return xmalloc(n);
	Block *b = unlink_block(p);
	Block *grown = n <= SIZE_MAX - sizeof *b ? realloc(b, sizeof *b + n) : NULL;
	if (!grown) {
		link_block(b);
		oom();
	}
	return link_block(grown);
}

void xfree(void *p)
{
	if (p)
		free(unlink_block(p));
}

void util_release(void)
{
	while (blocks.link.next != &blocks)
		free(unlink_block(blocks.link.next + 1));
	sources = NULL;
	nerrors = 0;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	Buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.data;
}

char *str_replace(const char *s, const char *from, const char *to)
{
	Buf b = {0};
	const size_t n = strlen(from);
	for (const char *p; (p = strstr(s, from)); s = p + n)
		buf_printf(&b, "%.*s%s", (int)(p - s), s, to);
	buf_puts(&b, s);
	return b.data;
}

void vec_push(Vec *v, void *p)
{
	if (v->len == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 8;
		v->data = xrealloc(v->data, sizeof(void *) * (size_t)v->cap);
	}
	v->data[v->len++] = p;
}

void buf_vprintf(Buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		ICE("bad format string %s", fmt);
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(Buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_puts(Buf *b, const char *s) { buf_printf(b, "%s", s); }

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	Buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n + 1 > b.cap) {
			b.cap = (b.len + n + 1) * 2;
			b.data = xrealloc(b.data, b.cap);
		}
		memcpy(b.data + b.len, chunk, n);
		b.len += n;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		errno = EIO;
		return NULL;
	}
	if (!b.data)
		b.data = xcalloc(1, 1);
	b.data[b.len] = 0;
	if (len)
		*len = b.len;
	return b.data;
}

/* ---- diagnostics ---- */


void diag_register_source(const char *file, const char *text)
{
	Source *s = xcalloc(1, sizeof *s);
	s->file = file;
	s->text = text;
	s->next = sources;
	sources = s;
}

static const char *find_line(const char *file, int line, int *len)
{
	for (Source *s = sources; s; s = s->next) {
		if (strcmp(s->file, file) != 0)
			continue;
		const char *p = s->text;
		for (int l = 1; l < line && *p; p++)
			if (*p == '\n')
				l++;
		const char *e = p;
		while (*e && *e != '\n')
			e++;
		if (e > p && e[-1] == '\r')
			e--;
		*len = (int)(e - p);
		return p;
	}
	return NULL;
}

static void vreport(Loc loc, const char *kind, const char *fmt, va_list ap)
{
	if (loc.file && loc.line > 0)
		fprintf(stderr, "%s:%d:%d: %s: ", loc.file, loc.line, loc.col, kind);
	else if (loc.file)
		fprintf(stderr, "%s: %s: ", loc.file, kind);
	else
		fprintf(stderr, "aecc: %s: ", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	int len;
	const char *line = loc.file && loc.line > 0 ? find_line(loc.file, loc.line, &len) : NULL;
	if (!line)
		return;
	fprintf(stderr, "%5d | %.*s\n      | ", loc.line, len, line);
	/* Keep tabs so the caret lines up under the source text. */
	for (int i = 0; i < loc.col - 1 && i < len; i++)
		fputc(line[i] == '\t' ? '\t' : ' ', stderr);
	fputs("^\n", stderr);
}

void diag_error(Loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(loc, "error", fmt, ap);
	va_end(ap);
	nerrors++;
}

void diag_warning(Loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(loc, "warning", fmt, ap);
	va_end(ap);
}

void diag_note(Loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(loc, "note", fmt, ap);
	va_end(ap);
}

void diag_plain(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("aecc: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	nerrors++;
}

int diag_errors(void) { return nerrors; }

void ice_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "aecc: internal compiler error at %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputs("\nPlease report this bug with the .ae file that triggered it.\n", stderr);
	va_end(ap);
	abort();
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
	const char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	int ok = f && fwrite(data, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = 0;
	if (ok && rename(tmp, path) != 0)
		ok = 0;
	if (!ok) {
		int err = errno;
		remove(tmp);
		diag_plain("cannot write %s: %s", path, strerror(err));
	}
	return ok;
}

size_t size_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

size_t size_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

size_t machine_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return SIZE_MAX;
	return size_mul((size_t)pages, (size_t)page);
}

char *str_upper(const char *s)
{
	char *u = xstrdup(s);
	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}
