/* helpers.h - temporary directories, file writers and captured output
 * shared by the runtime tests. */
#ifndef AERT_TEST_HELPERS_H
#define AERT_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A fresh directory per test (Criterion runs each test in its own
 * process): made by tmp_setup, removed with its contents by tmp_teardown. */
extern char *tmp_dir;
void tmp_setup(void);
void tmp_teardown(void);
/* tmp_dir/name, malloc'd. */
char *tmp_path(const char *name);

void write_bytes(const char *path, const void *data, size_t len);
void write_text(const char *path, const char *text);
/* data gzipped into path. */
void write_gz(const char *path, const void *data, size_t len);
/* The whole file, malloc'd and NUL-terminated; *len (if len is not NULL)
 * is its size. */
unsigned char *read_bytes(const char *path, size_t *len);
int file_exists(const char *path);
/* Entries in a directory, "." and ".." left out. */
int count_entries(const char *dir);

/* An IDX file image: magic, big-endian dims, then payload. */
unsigned char *make_idx(unsigned type, int rank, const uint32_t *dims, const void *payload, size_t payload_len,
			size_t *len);
/* An NPY file image of version major.0 with the header dict given, padded
 * to a multiple of 64 bytes, then payload. */
unsigned char *make_npy(int major, const char *dict, const void *payload, size_t payload_len, size_t *len);

/* Flush and close the redirected stdout (stderr), then return everything
 * written to it, malloc'd. Nothing may be printed to it afterwards. */
char *take_stdout(void);
char *take_stderr(void);

/* 1 if s ends with suffix. */
int ends_with(const char *s, const char *suffix);

#endif
