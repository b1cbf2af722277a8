/* util.h - allocation, strings and diagnostics shared by every compiler pass.
 *
 * Memory policy: the compiler is a short-lived process. Everything it
 * allocates lives until exit and is never freed (as in chibicc); xmalloc
 * and friends exit with a message if memory runs out. They keep every
 * block on one list, so that a program that compiles many files in one
 * process (the fuzz target tests/fuzz/fuzz_ae.c) frees them all at once
 * with util_release().
 *
 * Error policy: mistakes in the user's .ae file go through diag_error(),
 * which prints GNU-style messages and counts them; the driver exits 1 when
 * the count is non-zero. Bugs in the compiler itself go through ICE(),
 * which prints the compiler's own file and line and aborts. */
#ifndef AECC_UTIL_H
#define AECC_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A position in a source file. line and col count from 1; col counts bytes. */
typedef struct Loc {
	const char *file; /* path as given on the command line (or "<builtin>") */
	int line;         /* 1-based line; 0 means "no position" */
	int col;          /* 1-based byte column of the first character */
} Loc;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Free one block of xmalloc and friends (the few that a pass drops). */
void xfree(void *p);
/* Free every block xmalloc and friends gave out, and forget the registered
 * sources and the error count: the state of a fresh process. */
void util_release(void);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s with every occurrence of `from` replaced by `to`, newly allocated. */
char *str_replace(const char *s, const char *from, const char *to);

/* Growable array of pointers. */
typedef struct Vec {
	void **data; /* elements */
	int len;     /* used */
	int cap;     /* allocated */
} Vec;
void vec_push(Vec *v, void *p);

/* Growable string buffer. */
typedef struct Buf {
	char *data; /* NUL-terminated contents */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
} Buf;
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(Buf *b, const char *fmt, va_list ap);
void buf_puts(Buf *b, const char *s);

/* Read a whole file; returns NULL and sets errno on failure. */
char *read_file(const char *path, size_t *len);
/* Write len bytes to path atomically: to a temporary file beside it, then
 * renamed over it, so readers see the old contents or the new, never a
 * part. Reports the error (naming path) and returns 0 on failure, leaving
 * no temporary file. */
int write_file_atomic(const char *path, const char *data, size_t len);
/* a * b and a + b, or SIZE_MAX when the result does not fit: a size that
 * saturates is larger than any machine's memory, which plan.c reports. */
size_t size_mul(size_t a, size_t b);
size_t size_add(size_t a, size_t b);
/* Bytes of physical memory of this machine (SIZE_MAX if unknown). */
size_t machine_memory(void);
/* s in upper case, newly allocated. */
char *str_upper(const char *s);

/* Diagnostics. The source text of each file is registered once so that the
 * printer can show the offending line with a caret under the column. */
void diag_register_source(const char *file, const char *text);
void diag_error(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_note(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_warning(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int diag_errors(void); /* errors reported so far */
/* An error not tied to a position in a .ae file (bad command-line use,
 * unreadable file): "aecc: error: ..." */
void diag_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

_Noreturn void ice_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define ICE(...) ice_at(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(c) ((c) ? (void)0 : ICE("assertion failed: %s", #c))

#endif
