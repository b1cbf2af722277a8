/* fake_jit.c - a stand-in for the JIT plugin, with its interface
 * (compiler/backend/jit/jit.h), for tests/loader.sh: it writes the units and
 * headers it is given into a temporary folder, compiles them with cc into
 * a shared object and loads that, so the loader's JIT route runs where the
 * plugin is not built. It appends what it was given to $FAKE_JIT_LOG, and
 * with FAKE_JIT_FAIL set every compile fails with a message. A test helper:
 * paths without spaces, no quoting. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct aecc_jit {
	char dir[4096]; /* the temporary folder, in $FAKE_JIT_DIR (default /tmp) */
	void *lib;    /* the compiled units */
} aecc_jit;
typedef struct aecc_jit_file {
	const char *name;
	const char *text;
} aecc_jit_file;

static char *message(const char *text)
{
	char *m = malloc(strlen(text) + 1);
	strcpy(m, text);
	return m;
}

static int write_files(const char *dir, const aecc_jit_file *f, int n)
{
	for (int i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, f[i].name);
		FILE *o = fopen(path, "w");
		if (!o || fputs(f[i].text, o) < 0 || fclose(o) != 0)
			return -1;
	}
	return 0;
}

/* Append "what: a b c" to the log. */
static void log_names(FILE *log, const char *what, const aecc_jit_file *f, const char *const *s, int n)
{
	fprintf(log, "%s:", what);
	for (int i = 0; i < n; i++)
		fprintf(log, " %s", f ? f[i].name : s[i]);
	fprintf(log, "\n");
}

aecc_jit *aecc_jit_compile(const aecc_jit_file *units, int n_units, const aecc_jit_file *headers, int n_headers,
			   const char *const *include_dirs, int n_include, const char *const *defines, int n_defines,
			   int openmp, char **err)
{
	const char *log_path = getenv("FAKE_JIT_LOG");
	FILE *log = log_path ? fopen(log_path, "a") : NULL;
	if (log) {
		log_names(log, "units", units, NULL, n_units);
		log_names(log, "headers", headers, NULL, n_headers);
		log_names(log, "include", NULL, include_dirs, n_include);
		log_names(log, "defines", NULL, defines, n_defines);
		fprintf(log, "openmp: %d\n", openmp);
		fclose(log);
	}
	if (getenv("FAKE_JIT_FAIL")) {
		*err = message("NAME.c:1:1: error: the fake JIT was told to fail");
		return NULL;
	}
	aecc_jit *j = calloc(1, sizeof *j);
	const char *parent = getenv("FAKE_JIT_DIR");
	snprintf(j->dir, sizeof j->dir, "%s/fake-jit-XXXXXX", parent ? parent : "/tmp");
	if (!mkdtemp(j->dir) || write_files(j->dir, units, n_units) || write_files(j->dir, headers, n_headers)) {
		*err = message("cannot write the units");
		return NULL;
	}
	char cmd[16384];
	int at = snprintf(cmd, sizeof cmd, "cd %s && cc -std=c99 -O1 -march=native -shared -fPIC%s -I.", j->dir,
			  openmp ? " -fopenmp" : "");
	for (int i = 0; i < n_include; i++)
		at += snprintf(cmd + at, sizeof cmd - (size_t)at, " -I%s", include_dirs[i]);
	for (int i = 0; i < n_defines; i++)
		at += snprintf(cmd + at, sizeof cmd - (size_t)at, " -D%s", defines[i]);
	for (int i = 0; i < n_units; i++)
		at += snprintf(cmd + at, sizeof cmd - (size_t)at, " %s", units[i].name);
	snprintf(cmd + at, sizeof cmd - (size_t)at, " -lm -o jit.so");
	char so[4200];
	snprintf(so, sizeof so, "%s/jit.so", j->dir);
	if (system(cmd) != 0 || !(j->lib = dlopen(so, RTLD_NOW | RTLD_LOCAL))) {
		*err = message("cc failed");
		return NULL;
	}
	return j;
}

void *aecc_jit_lookup(aecc_jit *j, const char *symbol)
{
	return dlsym(j->lib, symbol);
}

void aecc_jit_free(aecc_jit *j)
{
	if (!j)
		return;
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", j->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fake_jit: cannot remove %s\n", j->dir);
	dlclose(j->lib);
	free(j);
}

void aecc_jit_last_times(double *frontend, double *backend)
{
	*frontend = *backend = 0;
}
