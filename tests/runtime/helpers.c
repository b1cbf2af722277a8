/* helpers.c - see helpers.h. */
#define _XOPEN_SOURCE 700
#include "helpers.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

char *tmp_dir;

void tmp_setup(void)
{
	static char templ[] = "/tmp/aert-test-XXXXXX";
	tmp_dir = mkdtemp(templ);
	cr_assert_not_null(tmp_dir, "cannot create a temporary directory");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tmp_teardown(void)
{
	if (tmp_dir)
		nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tmp_path(const char *name)
{
	size_t len = strlen(tmp_dir) + strlen(name) + 2;
	char *p = malloc(len);
	cr_assert_not_null(p);
	snprintf(p, len, "%s/%s", tmp_dir, name);
	return p;
}

void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

void write_gz(const char *path, const void *data, size_t len)
{
	gzFile gz = gzopen(path, "wb");
	cr_assert_not_null(gz, "cannot create %s", path);
	cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
	cr_assert_eq(gzclose(gz), Z_OK);
}

unsigned char *read_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	size_t cap = 4096, n = 0, got;
	unsigned char *buf = malloc(cap);
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

unsigned char *make_idx(unsigned type, int rank, const uint32_t *dims, const void *payload, size_t payload_len,
			size_t *len)
{
	size_t head = 4 + 4 * (size_t)rank;
	unsigned char *b = malloc(head + payload_len + 1);
	b[0] = 0;
	b[1] = 0;
	b[2] = (unsigned char)type;
	b[3] = (unsigned char)rank;
	for (int i = 0; i < rank; i++)
		for (int k = 0; k < 4; k++)
			b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
	memcpy(b + head, payload, payload_len);
	*len = head + payload_len;
	return b;
}

unsigned char *make_npy(int major, const char *dict, const void *payload, size_t payload_len, size_t *len)
{
	size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict);
	size_t hlen = dlen + 1;
	while ((pre + hlen) % 64)
		hlen++;
	unsigned char *b = malloc(pre + hlen + payload_len + 1);
	memcpy(b, "\x93NUMPY", 6);
	b[6] = (unsigned char)major;
	b[7] = 0;
	for (size_t k = 0; k < pre - 8; k++)
		b[8 + k] = (unsigned char)(hlen >> (8 * k));
	memcpy(b + pre, dict, dlen);
	memset(b + pre + dlen, ' ', hlen - dlen - 1);
	b[pre + hlen - 1] = '\n';
	memcpy(b + pre + hlen, payload, payload_len);
	*len = pre + hlen + payload_len;
	return b;
}

static char *take(FILE *stream, int fd, FILE *captured)
{
	fflush(stream);
	close(fd);
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap);
	while ((got = fread(buf + n, 1, cap - n - 1, captured)) > 0) {
		n += got;
		if (n + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	return buf;
}

char *take_stdout(void)
{
	return take(stdout, STDOUT_FILENO, cr_get_redirected_stdout());
}

char *take_stderr(void)
{
	return take(stderr, STDERR_FILENO, cr_get_redirected_stderr());
}

int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}
