/* common.c - error messages, byte order, atomic file helpers and the
 * memory check of the runtime. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

/* The shortest a path is cut to, so that a long problem cannot hide it. */
enum { MIN_PATH_ROOM = 48 };

static const char ELLIPSIS[] = "...";

/* Copy at most room - 1 bytes of path into out (room >= sizeof ELLIPSIS + 2),
 * keeping its head and tail around "..." if it is longer. */
static void shorten_path(char *out, size_t room, const char *path)
{
	size_t len = strlen(path);
	if (len < room) {
		memcpy(out, path, len + 1);
		return;
	}
	size_t keep = room - sizeof ELLIPSIS; /* bytes of path that fit */
	size_t head = keep / 3, tail = keep - head;
	memcpy(out, path, head);
	memcpy(out + head, ELLIPSIS, sizeof ELLIPSIS - 1);
	memcpy(out + head + sizeof ELLIPSIS - 1, path + len - tail, tail);
	out[keep + sizeof ELLIPSIS - 1] = '\0';
}

int aert_fail(aert_err *err, const char *path, const char *fmt, ...)
{
	if (!err)
		return -1;
	enum { CAP = sizeof err->msg };
	char problem[CAP];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(problem, CAP, fmt, ap);
	va_end(ap);
	if (len < 0) {
		problem[0] = '\0';
		len = 0;
	}
	/* Leave a path at least MIN_PATH_ROOM bytes; cut a longer problem. */
	size_t max_problem = path ? CAP - MIN_PATH_ROOM - 2 : CAP - 1;
	if ((size_t)len > max_problem) {
		memcpy(problem + max_problem - (sizeof ELLIPSIS - 1), ELLIPSIS, sizeof ELLIPSIS);
		len = (int)max_problem;
	}
	if (!path) {
		memcpy(err->msg, problem, (size_t)len + 1);
		return -1;
	}
	/* path (shortened) + ": " + problem + NUL fits CAP by construction */
	shorten_path(err->msg, CAP - (size_t)len - 2, path);
	size_t at = strlen(err->msg);
	memcpy(err->msg + at, ": ", 2);
	memcpy(err->msg + at + 2, problem, (size_t)len + 1);
	return -1;
}

int aert_model_fits(const aert_model *m, aert_err *err)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	size_t memory = SIZE_MAX, need = m->state_bytes + m->work_bytes;
	if (pages > 0 && page > 0 && aert_mul_size((size_t)pages, (size_t)page, &memory) != 0)
		memory = SIZE_MAX;
	if (need < m->state_bytes || need > memory)
		return aert_fail(err, NULL,
				 "model '%s' needs %zu bytes of state and %zu bytes of work arena, more than this "
				 "machine's memory (%zu bytes)",
				 m->name, m->state_bytes, m->work_bytes, memory);
	return 0;
}

void aert_swap_bytes(void *p, size_t n, size_t width)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++, b += width) {
		for (size_t lo = 0, hi = width - 1; lo < hi; lo++, hi--) {
			unsigned char t = b[lo];
			b[lo] = b[hi];
			b[hi] = t;
		}
	}
}

int aert_create_temp(const char *tmp)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
	/* locked while this process has it open: aert_st_clean leaves it */
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	return fd;
}

void aert_sync_directory(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 1;
	char *dir = malloc(len + 1);
	if (!dir)
		return;
	if (!slash)
		memcpy(dir, ".", 2);
	else if (len == 0)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	int fd = open(dir, O_RDONLY);
	free(dir);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int aert_out_open(aert_out *o, const char *path, aert_err *err)
{
	*o = (aert_out){.path = path};
	size_t len = strlen(path) + 32;
	if (!(o->tmp = malloc(len)))
		return aert_fail(err, path, "out of memory");
	snprintf(o->tmp, len, "%s.tmp.%ld", path, (long)getpid());
	int fd = aert_create_temp(o->tmp);
	if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
		aert_fail(err, path, "cannot create a temporary file next to it: %s", strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	return 0;
}

int aert_out_commit(aert_out *o, aert_err *err)
{
	const char *failed = NULL;
	int e = 0;
	if (ferror(o->f) || fflush(o->f) != 0)
		failed = "cannot write";
	else if (fsync(fileno(o->f)) != 0)
		failed = "cannot sync";
	e = errno;
	if (fclose(o->f) != 0 && !failed) {
		failed = "cannot write";
		e = errno;
	}
	if (!failed && rename(o->tmp, o->path) != 0) {
		failed = "cannot rename the temporary file onto it";
		e = errno;
	}
	if (failed) {
		unlink(o->tmp);
		aert_fail(err, o->path, "%s: %s", failed, strerror(e ? e : EIO));
	}
	free(o->tmp);
	o->tmp = NULL;
	o->f = NULL;
	if (failed)
		return -1;
	aert_sync_directory(o->path);
	return 0;
}

void aert_out_abort(aert_out *o)
{
	if (o->f)
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	*o = (aert_out){0};
}
