/* io.h - what the test programs of tests/export.sh share: a whole file of
 * a known size read into memory, or the program exits. */
#ifndef EXPORT_TEST_IO_H
#define EXPORT_TEST_IO_H

#include <stdio.h>
#include <stdlib.h>

static void *read_all(const char *path, size_t bytes)
{
	FILE *f = fopen(path, "rb");
	void *p = malloc(bytes + 1);
	if (!f || !p || fread(p, 1, bytes, f) != bytes) {
		fprintf(stderr, "%s: cannot read %zu bytes\n", path, bytes);
		exit(1);
	}
	fclose(f);
	return p;
}

#endif
