/* load.c - the model loader (load.h): the generated C of a planned model,
 * rendered in memory, compiled by the system compiler into a cached shared
 * object or by the JIT plugin, loaded, and its descriptor checked against
 * the model.
 *
 * The cache (cc): $AECC_CACHE, else $XDG_CACHE_HOME/aecc or ~/.cache/aecc,
 * holds one folder per key, NAME-KEY/, with the three C files and NAME.so.
 * KEY hashes everything the shared object is made of: the three rendered
 * files, PREFIX/include/aecc_rt.h (the descriptor's layout), the compiler's
 * command and flags, and the compiler's executable (path, size, time), so
 * an entry made by another aecc, runtime or compiler is another key and is
 * simply not looked at. A build writes NAME.so.tmp.PID, loads and checks it,
 * then renames it to NAME.so: processes building the same entry at once each
 * load their own build and the last rename wins, and a broken build never
 * takes the entry's name. An entry that does not load (truncated, say) or
 * whose descriptor is not the model's is removed and built again, once. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "c.h"
#include "cc.h"
#include "jit.h"
#include "load.h"
#include "pipeline.h"

/* What NAME_aert_model is. */
typedef const aert_model *(*model_fn)(void);

/* Store the symbol sym (from dlsym or the JIT) into the function pointer
 * at fn, of size bytes, and return it: POSIX makes the conversion work,
 * ISO C has no cast for it. */
static void *to_fn(void *sym, void *fn, size_t size)
{
	if (sym)
		memcpy(fn, &sym, size);
	return sym;
}

/* Why the loaded descriptor d is not the model's, or NULL if it is. */
static const char *mismatch(Model *m, const aert_model *d)
{
	Graph *g = m->g;
	if (!d || !d->name || strcmp(d->name, m->name) != 0)
		return "it describes another model";
	if (d->real_size != (m->f64 ? 8 : 4) || d->max_batch != m->train.batch ||
	    d->state_bytes != m->state_bytes || d->work_bytes != m->work_bytes ||
	    d->n_inputs != g->inputs.len || d->n_params != g->params.len || d->param_elems != g->param_elems ||
	    d->n_buffers != g->buffers.len || d->latent_size != shape_elems(g->latent->shape) ||
	    d->output_size != shape_elems(g->output->shape))
		return "its sizes are not the model's";
	return NULL;
}

/* ---- the system compiler, through the cache ---- */

/* FNV-1a over n bytes at p, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3u;
	return h;
}

/* h continued over the NUL-terminated s, NUL included (a separator). */
static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s, strlen(s) + 1);
}

/* The file that running `cmd` starts: cmd itself if it has a slash, else
 * the first executable of that name in $PATH; NULL if there is none. */
static const char *which(const char *cmd)
{
	if (strchr(cmd, '/'))
		return cmd;
	const char *path = getenv("PATH");
	for (char *d = strtok(xstrdup(path ? path : "/usr/bin:/bin"), ":"); d; d = strtok(NULL, ":")) {
		const char *file = xasprintf("%s/%s", *d ? d : ".", cmd);
		if (access(file, X_OK) == 0)
			return file;
	}
	return NULL;
}

/* The cache entry's key (see the top of the file); 0 after reporting that
 * the runtime's header is missing. */
static uint64_t cache_key(const CFiles *f, Vec cmd)
{
	const char *header = xasprintf("%s/include/aecc_rt.h", cc_prefix());
	char *rt = read_file(header, NULL);
	if (!rt) {
		diag_plain("the aecc runtime is missing: %s (set AECC_HOME to the prefix aecc was installed in)", header);
		return 0;
	}
	uint64_t h = fnv_str(0xcbf29ce484222325u, f->h.data);
	h = fnv_str(fnv_str(fnv_str(h, f->c.data), f->main.data), rt);
	for (int i = 0; i < cmd.len; i++)
		h = fnv_str(h, cmd.data[i]);
	const char *exe = which(cmd.data[0]);
	char real[PATH_MAX];
	struct stat st;
	if (exe && realpath(exe, real) && stat(real, &st) == 0) {
		h = fnv_str(h, real);
		h = fnv(h, &st.st_size, sizeof st.st_size);
		h = fnv(h, &st.st_mtime, sizeof st.st_mtime);
	}
	return h ? h : 1;
}

/* The cache's folder, made if missing (with its parents). */
static const char *cache_base(void)
{
	const char *base = getenv("AECC_CACHE");
	if (!base || !*base) {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		base = xdg && *xdg ? xasprintf("%s/aecc", xdg) : xasprintf("%s/.cache/aecc", home ? home : "/tmp");
	}
	char *p = xstrdup(base);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0777);
			*s = '/';
		}
	mkdir(p, 0777);
	return base;
}

/* 1 if the shared object at path holds every segment and the section table
 * its ELF headers promise. dlopen maps a truncated file without complaint
 * when its headers survive, and the process dies on the first missing page;
 * this finds it first. */
static int so_complete(const char *path)
{
	size_t len;
	const char *b = read_file(path, &len);
	ElfW(Ehdr) eh;
	if (!b || len < sizeof eh)
		return 0;
	memcpy(&eh, b, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_phentsize != sizeof(ElfW(Phdr)) ||
	    eh.e_phoff > len || eh.e_phnum > (len - eh.e_phoff) / sizeof(ElfW(Phdr)) || eh.e_shoff > len ||
	    (size_t)eh.e_shnum * eh.e_shentsize > len - eh.e_shoff)
		return 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		ElfW(Phdr) ph;
		memcpy(&ph, b + eh.e_phoff + (size_t)i * sizeof ph, sizeof ph);
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return 0;
	}
	return 1;
}

/* Load the shared object at path and check its descriptor; NULL with the
 * reason in *why if either fails (the library is closed again). */
static const aert_model *open_so(Model *m, const char *path, const char **why)
{
	if (!so_complete(path)) {
		*why = "the file is truncated or not a shared object";
		return NULL;
	}
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		*why = xstrdup(dlerror());
		return NULL;
	}
	model_fn get;
	const char *sym = xasprintf("%s_aert_model", m->name);
	if (!to_fn(dlsym(lib, sym), &get, sizeof get)) {
		*why = xasprintf("it has no %s", sym);
		dlclose(lib);
		return NULL;
	}
	const aert_model *d = get();
	if ((*why = mismatch(m, d))) {
		dlclose(lib);
		return NULL;
	}
	return d;
}

/* Build the entry in dir: write the C files, compile NAME.so.tmp.PID, load
 * and check it, rename it to so. NULL after reporting an error. */
static const aert_model *build_so(Model *m, const CFiles *f, Vec cmd, const char *dir, const char *so)
{
	if (!c_write(m, f, dir))
		return NULL;
	const char *rest[] = {xasprintf("-I%s", dir), xasprintf("%s/%s.c", dir, m->name),
			      xasprintf("%s/%s_main.c", dir, m->name), "-lm"};
	for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
		vec_push(&cmd, (char *)rest[i]);
	const char *tmp = cc_temp(so), *why;
	if (!cc_compile(cmd, tmp, so))
		return NULL;
	const aert_model *d = open_so(m, tmp, &why);
	if (!d) {
		remove(tmp);
		diag_plain("cannot load %s, compiled just now: %s", so, why);
		return NULL;
	}
	return cc_publish(tmp, so) ? d : NULL;
}

static const aert_model *load_cc(Model *m, const CFiles *f)
{
	Vec cmd = cc_command();
	const char *fixed[] = {"-shared", "-fPIC", "-DAERT_NO_MAIN", xasprintf("-I%s/include", cc_prefix())};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		vec_push(&cmd, (char *)fixed[i]);
	uint64_t key = cache_key(f, cmd);
	if (!key)
		return NULL;
	const char *dir = xasprintf("%s/%s-%016llx", cache_base(), m->name, (unsigned long long)key);
	const char *so = xasprintf("%s/%s.so", dir, m->name), *why = NULL;
	if (access(so, F_OK) == 0) {
		const aert_model *d = open_so(m, so, &why);
		if (d)
			return d;
		remove(so);
		fprintf(stderr, "aecc: building %s again: the cached copy does not load (%s)\n", so, why);
	} else {
		fprintf(stderr, "aecc: building %s\n", so);
	}
	return build_so(m, f, cmd, dir, so);
}

/* ---- the JIT plugin ---- */

static const char *jit_plugin(void)
{
	return xasprintf("%s/lib/aecc/aecc_jit.so", cc_prefix());
}

/* The plugin at path, opened with dlopen(RTLD_NOW | flags); NULL after
 * reporting `missing` (a format taking the path) if there is no such file. */
static void *open_plugin(const char *path, const char *missing, int flags)
{
	if (access(path, F_OK) != 0) {
		diag_plain(missing, path);
		return NULL;
	}
	return dlopen(path, RTLD_NOW | flags);
}

static const aert_model *load_jit(Model *m, const CFiles *f)
{
	const char *plugin = jit_plugin();
	void *lib = open_plugin(plugin, "the JIT plugin is not installed: %s (install libclang-14-dev, llvm-14-dev and "
				"libomp-14-dev and rebuild)", RTLD_LOCAL);
	if (!lib && access(plugin, F_OK) != 0)
		return NULL;
	aecc_jit_compile_fn compile;
	aecc_jit_lookup_fn find;
	if (!lib || !to_fn(dlsym(lib, "aecc_jit_compile"), &compile, sizeof compile) ||
	    !to_fn(dlsym(lib, "aecc_jit_lookup"), &find, sizeof find)) {
		diag_plain("cannot load the JIT plugin %s: %s (--cc uses the system compiler)", plugin,
			   lib ? "it lacks aecc_jit_compile or aecc_jit_lookup" : dlerror());
		return NULL;
	}
	const aecc_jit_file units[2] = {{xasprintf("%s.c", m->name), f->c.data},
					{xasprintf("%s_main.c", m->name), f->main.data}};
	const aecc_jit_file header = {xasprintf("%s.h", m->name), f->h.data};
	const char *include = xasprintf("%s/include", cc_prefix()), *define = "AERT_NO_MAIN";
	char *err = NULL;
	aecc_jit *j = compile(units, 2, &header, 1, &include, 1, &define, 1, 1, &err);
	if (!j)
		ICE("the JIT cannot compile the generated code of %s:\n%s", m->name, err ? err : "(no message)");
	model_fn get;
	const char *sym = xasprintf("%s_aert_model", m->name);
	if (!to_fn(find(j, sym), &get, sizeof get))
		ICE("the JIT-compiled code of %s has no %s", m->name, sym);
	const aert_model *d = get();
	const char *why = mismatch(m, d);
	if (why)
		ICE("the JIT-compiled descriptor of %s does not fit the model: %s", m->name, why);
	return d;
}

/* ---- the MPI plugin ---- */

mpi_main_fn load_mpi_main(void)
{
	const char *plugin = xasprintf("%s/lib/aecc/aecc_mpi.so", cc_prefix());
	/* global: Open MPI's own components look up libmpi's symbols */
	void *lib = open_plugin(plugin, "aecc was built without MPI: %s is missing (install libopenmpi-dev and "
				"openmpi-bin, as scripts/deps.sh does, and rebuild)", RTLD_GLOBAL);
	if (!lib && access(plugin, F_OK) != 0)
		return NULL;
	mpi_main_fn fn;
	if (!lib || !to_fn(dlsym(lib, "aert_mpi_main"), &fn, sizeof fn)) {
		diag_plain("cannot load the MPI plugin %s: %s", plugin, lib ? "it lacks aert_mpi_main" : dlerror());
		return NULL;
	}
	return fn;
}

/* ---- choosing ---- */

const aert_model *load_model(Model *m, LoadWith with)
{
	const char *env = getenv("AECC_JIT");
	if (with == LOAD_AUTO && env && *env) {
		if (strcmp(env, "1") != 0 && strcmp(env, "0") != 0) {
			diag_plain("AECC_JIT is '%s': set it to 1 (the JIT) or 0 (the system compiler)", env);
			return NULL;
		}
		with = *env == '1' ? LOAD_JIT : LOAD_CC;
	}
	if (with == LOAD_AUTO)
		with = access(jit_plugin(), F_OK) == 0 ? LOAD_JIT : LOAD_CC;
	CFiles f;
	c_render(m, &f);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const aert_model *d = with == LOAD_JIT ? load_jit(m, &f) : load_cc(m, &f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const char *times = getenv("AECC_TIMES");
	if (d && times && !strcmp(times, "1"))
		fprintf(stderr, "aecc: %s compiled and loaded by %s in %.3f s\n", m->name, with == LOAD_JIT ? "the JIT" : "cc",
			(double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	return d;
}
