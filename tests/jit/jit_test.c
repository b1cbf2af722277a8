/* jit_test.c - the JIT plugin against clang's own build: every generated model bit for bit, and the plugin's error cases.
 *
 *   jit_test PLUGIN GENERATED_DIR RUNTIME_DIR [MODEL...]
 *
 * For each MODEL (a folder of GENERATED_DIR), compiles MODEL.c from memory
 * with the plugin (MODEL.h an in-memory header, OpenMP on) and the same file
 * with `$CLANG -std=c99 -O3 -march=native -ffp-contract=off -fopenmp
 * -shared -fPIC` into a temporary .so; runs init (seed 1), three train steps,
 * forward and encode on the same batch in both and compares the losses, the
 * whole state and the outputs with memcmp, for a batch of 7 rows and one of
 * MAX_BATCH (JIT_TEST_N=n: only n). Prints one line per model, with the
 * plugin's compile time against the targets, and ends with
 * `jit: N passed, M failed`. With the runtime library linked in (-DHAVE_RT),
 * also compiles the first model's MODEL_main.c with it as a second unit. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"

static aecc_jit_compile_fn jit_compile;
static aecc_jit_lookup_fn jit_lookup;
static aecc_jit_free_fn jit_free;
static aecc_jit_last_times_fn jit_times;
static int passed, failed;
static const char *rt_dir; /* the runtime's include dir, for MODEL_main.c */

/* Compile-and-load targets in seconds, printed next to the times (not checked:
 * the machine may be busy). */
static const struct {
	const char *model;
	double seconds;
} targets[] = {{"fashion_ae", 0.8}, {"contractive_ae", 1.5}};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void check(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s: ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

/* The whole of a file, NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0, got;
	char *s = malloc(cap);
	while (s && (got = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len < 2) {
			char *t = realloc(s, cap *= 2);
			if (!t)
				free(s);
			s = t;
		}
	}
	fclose(f);
	if (s)
		s[len] = 0;
	return s;
}

static void *alloc(size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
		fputs("jit_test: out of memory\n", stderr);
		exit(2);
	}
	memset(p, 0, bytes);
	return p;
}

/* ---- the plugin's own cases ---- */

static aecc_jit *compile1(const char *name, const char *text, int openmp, char **err)
{
	aecc_jit_file u = {name, text};
	return jit_compile(&u, 1, NULL, 0, NULL, 0, NULL, 0, openmp, err);
}

static void test_errors(void)
{
	char *err = NULL;
	aecc_jit *j = compile1("broken.c", "int f(void)\n{\n\treturn undeclared_thing;\n}\n", 0, &err);
	int ok = !j && err && strstr(err, "broken.c:3:") && strstr(err, "undeclared_thing") && strstr(err, "^") &&
	         strstr(err, "1 error generated");
	check(ok, "a broken unit fails with its diagnostics (%s)", err ? strtok(err, "\n") : "no message");
	free(err);
	err = NULL;

	j = compile1("implicit.c", "int g(void) { return h(); }\n", 0, &err);
	check(!j && err && strstr(err, "implicit"), "an implicit declaration is an error");
	free(err);
	err = NULL;

	j = compile1("unresolved.c", "void not_anywhere(void);\nvoid f(void) { not_anywhere(); }\n", 0, &err);
	check(!j && err && strstr(err, "not_anywhere"), "an undefined function fails at link time");
	free(err);
	err = NULL;

	j = compile1("ok.c", "static int twice(int x) { return 2 * x; }\nint f(int x) { return twice(x) + 1; }\n", 0, &err);
	int (*f)(int) = j ? (int (*)(int))(uintptr_t)jit_lookup(j, "f") : NULL;
	check(j && !err && f && f(20) == 41, "a unit compiles and runs");
	check(j && !jit_lookup(j, "no_such_symbol") && !jit_lookup(j, "twice") && !jit_lookup(j, "printf"),
	      "a missing symbol is NULL, and so are a static and a library's");
	jit_free(j);
	free(err);
	err = NULL;

	/* Two units with a shared in-memory header call each other. */
	aecc_jit_file hdr = {"ab.h", "#define AB_SCALE 3\nint a(int x);\nint b(int x);\n"};
	aecc_jit_file two[2] = {{"a.c", "#include \"ab.h\"\nint a(int x) { return AB_SCALE * x; }\n"},
	                        {"b.c", "#include \"ab.h\"\nint b(int x) { return a(x) + K; }\n"}};
	const char *defs[] = {"K=4"};
	j = jit_compile(two, 2, &hdr, 1, NULL, 0, defs, 1, 0, &err);
	int (*b)(int) = j ? (int (*)(int))(uintptr_t)jit_lookup(j, "b") : NULL;
	check(j && b && b(5) == 19, "units call each other, with in-memory headers and -D%s%s", err ? ": " : "",
	      err ? err : "");
	jit_free(j);
	free(err);
	err = NULL;

	/* OpenMP comes from LLVM's libomp. */
	j = compile1("omp.c",
	             "#include <omp.h>\n"
	             "void *set_threads(void) { return (void *)&omp_set_num_threads; }\n"
	             "int team(void) { int n = 0;\n#pragma omp parallel num_threads(2)\n{\n#pragma omp atomic\nn++;\n}\nreturn n; }\n",
	             1, &err);
	void *(*st)(void) = j ? (void *(*)(void))(uintptr_t)jit_lookup(j, "set_threads") : NULL;
	int (*team)(void) = j ? (int (*)(void))(uintptr_t)jit_lookup(j, "team") : NULL;
	void *omp = dlopen("libomp.so.5", RTLD_NOW | RTLD_NOLOAD);
	void *want = omp ? dlsym(omp, "omp_set_num_threads") : NULL;
	check(j && st && team && want && st() == want && team() == 2, "omp_set_num_threads is libomp's%s%s",
	      err || !want ? ": " : "", err ? err : want ? "" : "libomp is not loaded");
	if (omp)
		dlclose(omp);
	jit_free(j);
	free(err);
}

/* ---- the precompiled header cache ---- */

/* Files in DIR (0 when there is no DIR); the first one's path into *first. */
static int count_files(const char *dir, char *first, size_t size)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.' && n++ == 0 && first)
			snprintf(first, size, "%s/%s", dir, e->d_name);
	closedir(d);
	return n;
}

static int compiles_with_simde(void)
{
	static const char unit[] = "#include <simde/x86/avx512.h>\n"
	                           "int three(void) { return (int)simde_mm_cvtss_f32(simde_mm_set1_ps(3.0f)); }\n";
	char *err = NULL;
	aecc_jit *j = compile1("uses_simde.c", unit, 0, &err);
	int (*three)(void) = j ? (int (*)(void))(uintptr_t)jit_lookup(j, "three") : NULL;
	int ok = three && three() == 3;
	jit_free(j);
	free(err);
	return ok;
}

/* AECC_JIT_NO_CACHE=1 and AECC_JIT_PCH=0 write nothing; otherwise one PCH,
 * replaced when it is corrupt. In a cache of its own under TMP. */
static void test_cache(const char *tmp)
{
	char dir[4096], pch[4096] = "", *saved = getenv("AECC_CACHE") ? strdup(getenv("AECC_CACHE")) : NULL;
	snprintf(dir, sizeof dir, "%s/cache", tmp);
	setenv("AECC_CACHE", dir, 1);
	setenv("AECC_JIT_NO_CACHE", "1", 1);
	check(compiles_with_simde() && count_files(dir, NULL, 0) == 0, "AECC_JIT_NO_CACHE=1 writes no file");
	unsetenv("AECC_JIT_NO_CACHE");
	setenv("AECC_JIT_PCH", "0", 1);
	check(compiles_with_simde() && count_files(dir, NULL, 0) == 0, "AECC_JIT_PCH=0 writes no file");
	unsetenv("AECC_JIT_PCH");
	int ok = compiles_with_simde() && count_files(dir, pch, sizeof pch) == 1;
	check(ok, "the first compile caches one precompiled header (%s)", pch);
	FILE *f = ok ? fopen(pch, "wb") : NULL;
	if (f) {
		fputs("not a precompiled header\n", f);
		fclose(f);
	}
	struct stat st;
	check(f && compiles_with_simde() && count_files(dir, NULL, 0) == 1 && stat(pch, &st) == 0 && st.st_size > 100000,
	      "a corrupt precompiled header is rebuilt");

	/* A header of the prefix changes (here one that -I puts before SIMDe's):
	 * clang finds the PCH stale, and it is rebuilt with the new header. */
	char inc[4096], hdir[4096], hfile[4200];
	snprintf(inc, sizeof inc, "%s/inc", tmp);
	snprintf(hdir, sizeof hdir, "%s/inc/simde/x86", tmp);
	snprintf(hfile, sizeof hfile, "%s/avx512.h", hdir);
	const char *dirs[1] = {inc};
	aecc_jit_file u = {"fake_simde.c", "#include <simde/x86/avx512.h>\nint fake(void) { return simde_fake(); }\n"};
	int got[2] = {0, 0};
	for (int round = 0; round < 2; round++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/inc", tmp), mkdir(path, 0777);
		snprintf(path, sizeof path, "%s/inc/simde", tmp), mkdir(path, 0777);
		mkdir(hdir, 0777);
		FILE *h = fopen(hfile, "w");
		if (h) {
			fprintf(h, "#ifndef FAKE_SIMDE_H\n#define FAKE_SIMDE_H\nstatic int simde_fake(void) { return %s; }\n#endif\n",
			        round ? "2 * 1" : "1");
			fclose(h);
		}
		char *err = NULL;
		aecc_jit *j = jit_compile(&u, 1, NULL, 0, dirs, 1, NULL, 0, 0, &err);
		int (*fake)(void) = j ? (int (*)(void))(uintptr_t)jit_lookup(j, "fake") : NULL;
		got[round] = fake ? fake() : -1;
		jit_free(j);
		free(err);
	}
	check(got[0] == 1 && got[1] == 2 && count_files(dir, NULL, 0) == 2, "a stale precompiled header is rebuilt (%d %d, %d files)", got[0], got[1], count_files(dir, NULL, 0));
	unlink(hfile);
	rmdir(hdir);
	snprintf(hdir, sizeof hdir, "%s/inc/simde", tmp), rmdir(hdir);
	rmdir(inc);

	for (char first[4096]; count_files(dir, first, sizeof first) > 0;)
		unlink(first);
	rmdir(dir);
	if (saved)
		setenv("AECC_CACHE", saved, 1);
	else
		unsetenv("AECC_CACHE");
	free(saved);
}

/* ---- the generated models ---- */

typedef struct {
	double lr, beta1, beta2, eps, weight_decay;
	int stochastic;
} hparams;

/* A model's entry points, in the JIT or in the reference .so. */
typedef struct {
	void (*init)(void *, uint64_t);
	void *train_step, *forward, *encode;
} entries;

/* The sizes of a model, from its header's #define lines. */
typedef struct {
	long max_batch, state_bytes, work_bytes, num_inputs, input_size[4], latent, output;
	int real_size;
} sizes;

static int read_sizes(const char *header, const char *upper, const char *name, sizes *z)
{
	memset(z, 0, sizeof *z);
	z->real_size = 4;
	char typedef_double[128];
	snprintf(typedef_double, sizeof typedef_double, "typedef double %s_real;", name);
	if (strstr(header, typedef_double))
		z->real_size = 8;
	size_t plen = strlen(upper);
	for (const char *p = header; (p = strstr(p, "#define ")) != NULL; p++) {
		char macro[128];
		long v;
		if (sscanf(p, "#define %127s %ld", macro, &v) != 2 || strncmp(macro, upper, plen) || macro[plen] != '_')
			continue;
		const char *m = macro + plen + 1;
		int i;
		if (!strcmp(m, "MAX_BATCH"))
			z->max_batch = v;
		else if (!strcmp(m, "STATE_BYTES"))
			z->state_bytes = v;
		else if (!strcmp(m, "WORK_BYTES"))
			z->work_bytes = v;
		else if (!strcmp(m, "NUM_INPUTS"))
			z->num_inputs = v;
		else if (!strcmp(m, "LATENT_SIZE"))
			z->latent = v;
		else if (!strcmp(m, "OUTPUT_SIZE"))
			z->output = v;
		else if (sscanf(m, "INPUT%d_SIZE", &i) == 1 && i >= 0 && i < 4)
			z->input_size[i] = v;
	}
	return z->max_batch > 0 && z->state_bytes > 0 && z->num_inputs >= 1 && z->num_inputs <= 3 && z->latent > 0 &&
	       z->output > 0;
}

/* A run's results: losses of the train steps, state, outputs, latents. */
typedef struct {
	double loss[3];
	unsigned char *state;
	unsigned char *out, *z;
} results;

typedef float (*step1f)(void *, void *, const void *, int, const hparams *);
typedef float (*step2f)(void *, void *, const void *, const void *, int, const hparams *);
typedef float (*step3f)(void *, void *, const void *, const void *, const void *, int, const hparams *);
typedef double (*step1d)(void *, void *, const void *, int, const hparams *);
typedef double (*step2d)(void *, void *, const void *, const void *, int, const hparams *);
typedef double (*step3d)(void *, void *, const void *, const void *, const void *, int, const hparams *);
typedef void (*out1)(const void *, void *, const void *, int, void *);
typedef void (*out2)(const void *, void *, const void *, const void *, int, void *);
typedef void (*out3)(const void *, void *, const void *, const void *, const void *, int, void *);

static double train(const entries *e, const sizes *z, void *state, void *work, void *const *in, int n, const hparams *h)
{
	void *f = e->train_step;
	if (z->real_size == 4)
		switch (z->num_inputs) {
		case 1: return ((step1f)(uintptr_t)f)(state, work, in[0], n, h);
		case 2: return ((step2f)(uintptr_t)f)(state, work, in[0], in[1], n, h);
		default: return ((step3f)(uintptr_t)f)(state, work, in[0], in[1], in[2], n, h);
		}
	switch (z->num_inputs) {
	case 1: return ((step1d)(uintptr_t)f)(state, work, in[0], n, h);
	case 2: return ((step2d)(uintptr_t)f)(state, work, in[0], in[1], n, h);
	default: return ((step3d)(uintptr_t)f)(state, work, in[0], in[1], in[2], n, h);
	}
}

static void output(void *f, const sizes *z, const void *state, void *work, void *const *in, int n, void *out)
{
	switch (z->num_inputs) {
	case 1: ((out1)(uintptr_t)f)(state, work, in[0], n, out); break;
	case 2: ((out2)(uintptr_t)f)(state, work, in[0], in[1], n, out); break;
	default: ((out3)(uintptr_t)f)(state, work, in[0], in[1], in[2], n, out); break;
	}
}

static void run(const entries *e, const sizes *z, void *const *in, int n, results *r)
{
	hparams h = {1e-3, 0.9, 0.999, 1e-8, 0.0, 1};
	void *work = alloc((size_t)z->work_bytes);
	r->state = alloc((size_t)z->state_bytes);
	r->out = alloc((size_t)n * z->output * z->real_size);
	r->z = alloc((size_t)n * z->latent * z->real_size);
	e->init(r->state, 1);
	for (int s = 0; s < 3; s++)
		r->loss[s] = train(e, z, r->state, work, in, n, &h);
	output(e->forward, z, r->state, work, in, n, r->out);
	output(e->encode, z, r->state, work, in, n, r->z);
	free(work);
}

/* The entry points of MODEL through LOOK (jit_lookup or dlsym), or 0. */
static int find_entries(void *(*look)(void *, const char *), void *handle, const char *model, entries *e)
{
	char sym[160];
	void *p[4];
	const char *what[4] = {"init", "train_step", "forward", "encode"};
	for (int i = 0; i < 4; i++) {
		snprintf(sym, sizeof sym, "%s_%s", model, what[i]);
		if (!(p[i] = look(handle, sym)))
			return 0;
	}
	e->init = (void (*)(void *, uint64_t))(uintptr_t)p[0];
	e->train_step = p[1];
	e->forward = p[2];
	e->encode = p[3];
	return 1;
}

static void *jit_look(void *j, const char *s)
{
	return jit_lookup((aecc_jit *)j, s);
}

static void *dl_look(void *h, const char *s)
{
	return dlsym(h, s);
}

/* First difference of two blocks, as text, or "" when equal. */
static const char *diff(const char *what, const void *a, const void *b, size_t n)
{
	static char msg[160];
	if (!memcmp(a, b, n))
		return "";
	size_t i = 0;
	while (((const unsigned char *)a)[i] == ((const unsigned char *)b)[i])
		i++;
	snprintf(msg, sizeof msg, "%s differs from byte %zu of %zu", what, i, n);
	return msg;
}

/* Run both on the same batch of n rows in [0, 1) from a fixed generator;
 * the first difference as text, or "". The losses go to loss. */
static const char *compare(const entries *je, const entries *re, const sizes *z, long n, double *loss)
{
	void *in[3] = {NULL, NULL, NULL};
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < z->num_inputs; i++) {
		size_t count = (size_t)n * z->input_size[i];
		in[i] = alloc(count * z->real_size);
		for (size_t e = 0; e < count; e++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			double u = (double)(seed >> 11) * (1.0 / 9007199254740992.0);
			if (z->real_size == 4)
				((float *)in[i])[e] = (float)u;
			else
				((double *)in[i])[e] = u;
		}
	}
	results a, b;
	run(je, z, in, (int)n, &a);
	run(re, z, in, (int)n, &b);
	const char *d = diff("the losses", a.loss, b.loss, sizeof a.loss);
	if (!*d)
		d = diff("the state", a.state, b.state, (size_t)z->state_bytes);
	if (!*d)
		d = diff("forward", a.out, b.out, (size_t)n * z->output * z->real_size);
	if (!*d)
		d = diff("encode", a.z, b.z, (size_t)n * z->latent * z->real_size);
	memcpy(loss, a.loss, sizeof a.loss);
	for (int i = 0; i < 3; i++)
		free(in[i]);
	free(a.state), free(a.out), free(a.z), free(b.state), free(b.out), free(b.z);
	return d;
}

static void test_model(const char *gen, const char *model, const char *tmp, int *first)
{
	char path[4096], upper[128], hname[160], uname[160];
	size_t k;
	for (k = 0; model[k] && k < sizeof upper - 1; k++)
		upper[k] = (char)(model[k] >= 'a' && model[k] <= 'z' ? model[k] - 32 : model[k]);
	upper[k] = 0;
	snprintf(path, sizeof path, "%s/%s/%s.c", gen, model, model);
	char *src = slurp(path);
	snprintf(path, sizeof path, "%s/%s/%s.h", gen, model, model);
	char *hdr = slurp(path);
	sizes z;
	if (!src || !hdr || !read_sizes(hdr, upper, model, &z)) {
		check(0, "%s: cannot read %s/%s/%s.{c,h} and their sizes", model, gen, model, model);
		free(src);
		free(hdr);
		return;
	}
	snprintf(hname, sizeof hname, "%s.h", model);
	snprintf(uname, sizeof uname, "%s.c", model);

	/* The plugin. */
	aecc_jit_file unit = {uname, src}, header = {hname, hdr};
	char *err = NULL;
	double t0 = now();
	aecc_jit *j = jit_compile(&unit, 1, &header, 1, NULL, 0, NULL, 0, 1, &err);
	double jit_s = now() - t0, fe = 0, be = 0;
	jit_times(&fe, &be);
	entries je, re;
	if (!j || !find_entries(jit_look, j, model, &je)) {
		check(0, "%s: the plugin does not compile it:\n%s", model, err ? err : "(entry points missing)");
		free(err);
		jit_free(j);
		free(src);
		free(hdr);
		return;
	}

	/* The reference: clang's own build of the same file. */
	char so[4096], cmd[12288];
	const char *clang = getenv("CLANG") ? getenv("CLANG") : "clang";
	snprintf(so, sizeof so, "%s/%s.so", tmp, model);
	snprintf(cmd, sizeof cmd,
	         "%s -std=c99 -O3 -march=native -ffp-contract=off -fopenmp -shared -fPIC -o '%s' '%s/%s/%s.c' -lm",
	         clang, so, gen, model, model);
	t0 = now();
	int rc = system(cmd);
	double clang_s = now() - t0;
	void *ref = rc == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
	const char *why = rc != 0 ? cmd : !ref ? dlerror() : "entry points missing";
	if (!ref || !find_entries(dl_look, ref, model, &re)) {
		check(0, "%s: no reference build (%s)", model, why ? why : "?");
		if (ref)
			dlclose(ref);
		jit_free(j);
		free(src);
		free(hdr);
		return;
	}

	/* n 7 (serial paths) and MAX_BATCH (the kernels' OpenMP paths), or JIT_TEST_N. */
	long ns[2] = {z.max_batch < 7 ? z.max_batch : 7, z.max_batch};
	int n_ns = ns[0] == ns[1] ? 1 : 2;
	if (getenv("JIT_TEST_N")) {
		ns[0] = atol(getenv("JIT_TEST_N"));
		n_ns = 1;
		if (ns[0] < 1 || ns[0] > z.max_batch)
			ns[0] = z.max_batch;
	}
	const char *d = "";
	double loss[3] = {0, 0, 0};
	for (int t = 0; t < n_ns && !*d; t++)
		d = compare(&je, &re, &z, ns[t], loss);
	char batches[64];
	snprintf(batches, sizeof batches, n_ns == 2 ? "n %ld and %ld" : "n %ld", ns[0], ns[1]);

	double target = 0;
	for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
		if (!strcmp(targets[t].model, model))
			target = targets[t].seconds;
	char timing[256], goal[64] = "";
	if (target)
		snprintf(goal, sizeof goal, ", target %.1f s", target);
	snprintf(timing, sizeof timing, "jit %.3f s = frontend %.3f + backend %.3f%s; clang -O3 .so %.3f s", jit_s, fe, be,
	         goal, clang_s);
	check(!*d, "%s: %s (%s, losses %.9g %.9g %.9g; %s)", model, *d ? d : "bit-identical to clang", batches, loss[0],
	      loss[1], loss[2], timing);

#ifdef HAVE_RT
	/* The trainer: MODEL_main.c as a second unit, against the runtime in this process. */
	if (*first) {
		*first = 0;
		snprintf(path, sizeof path, "%s/%s/%s_main.c", gen, model, model);
		char *main_src = slurp(path);
		char main_name[160];
		snprintf(main_name, sizeof main_name, "%s_main.c", model);
		aecc_jit_file units[2] = {{unit.name, src}, {main_name, main_src ? main_src : ""}};
		const char *dirs[1] = {rt_dir};
		char *err2 = NULL;
		aecc_jit *j2 = main_src ? jit_compile(units, 2, &header, 1, dirs, 1, NULL, 0, 1, &err2) : NULL;
		char init[160];
		snprintf(init, sizeof init, "%s_init", model);
		check(j2 && jit_lookup(j2, "main") && jit_lookup(j2, init) && !jit_lookup(j2, "aert_train_main"),
		      "%s: %s.c + %s_main.c link against the runtime%s%s", model, model, model, err2 ? ":\n" : "",
		      err2 ? err2 : "");
		jit_free(j2);
		free(err2);
		free(main_src);
	}
#else
	(void)first;
#endif
	dlclose(ref);
	unlink(so);
	jit_free(j);
	free(err);
	free(src);
	free(hdr);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s PLUGIN GENERATED_DIR RUNTIME_DIR [MODEL...]\n", argv[0]);
		return 2;
	}
	rt_dir = argv[3];
	void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!plugin) {
		printf("FAIL: cannot load %s: %s\njit: 0 passed, 1 failed\n", argv[1], dlerror());
		return 1;
	}
	jit_compile = (aecc_jit_compile_fn)(uintptr_t)dlsym(plugin, "aecc_jit_compile");
	jit_lookup = (aecc_jit_lookup_fn)(uintptr_t)dlsym(plugin, "aecc_jit_lookup");
	jit_free = (aecc_jit_free_fn)(uintptr_t)dlsym(plugin, "aecc_jit_free");
	jit_times = (aecc_jit_last_times_fn)(uintptr_t)dlsym(plugin, "aecc_jit_last_times");
	if (!jit_compile || !jit_lookup || !jit_free || !jit_times) {
		printf("FAIL: %s lacks the aecc_jit_* functions\njit: 0 passed, 1 failed\n", argv[1]);
		return 1;
	}
	char tmp[] = "/tmp/aecc-jit-test-XXXXXX";
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 2;
	}
	test_errors();
	test_cache(tmp);
	int first = 1;
	for (int i = 4; i < argc; i++)
		test_model(argv[2], argv[i], tmp, &first);
	rmdir(tmp);
	printf("jit: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
