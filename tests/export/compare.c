/* compare.c - two files of float (or, with -d, double) results against a
 * tolerance: the largest error |a - b| / max(|b|, 1) over their values,
 * relative where |b| >= 1 and absolute below.
 *
 *   compare [-d] A B TOLERANCE WHAT
 *
 * Prints the error and exits 0 if it is within the tolerance (0: the same
 * bits), 1 if not or if the files differ in length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double *read_values(const char *path, int f64, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long bytes = ftell(f);
	rewind(f);
	size_t w = f64 ? 8 : 4, count = (size_t)bytes / w;
	unsigned char *raw = malloc((size_t)bytes + 1);
	double *v = malloc((count + 1) * sizeof *v);
	if (!raw || !v || fread(raw, 1, (size_t)bytes, f) != (size_t)bytes)
		return NULL;
	fclose(f);
	for (size_t i = 0; i < count; i++) {
		float x;
		if (f64)
			memcpy(&v[i], raw + i * 8, 8);
		else
			memcpy(&x, raw + i * 4, 4), v[i] = x;
	}
	*n = count;
	return v;
}

int main(int argc, char **argv)
{
	int f64 = argc > 1 && !strcmp(argv[1], "-d");
	if (argc != 5 + f64)
		return 2;
	size_t na, nb;
	double *a = read_values(argv[1 + f64], f64, &na), *b = read_values(argv[2 + f64], f64, &nb);
	double tol = atof(argv[3 + f64]), worst = 0;
	if (!a || !b || na != nb || na == 0) {
		printf("%s: %s and %s hold different numbers of values\n", argv[4 + f64], argv[1 + f64], argv[2 + f64]);
		return 1;
	}
	size_t diff = 0;
	for (size_t i = 0; i < na; i++) {
		double e = fabs(a[i] - b[i]) / (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
		if (e > worst || e != e)
			worst = e != e ? INFINITY : e;
		diff += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
	}
	printf("%s: %zu values, %zu differ, largest error %.3g (tolerance %g)\n", argv[4 + f64], na, diff, worst, tol);
	return tol == 0 ? diff != 0 : !(worst <= tol);
}
