/* main.c - the aecc command line: check, build, train, summary, graph,
 * emit, ops. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops.h"
#include "pipeline.h"
#include "version.h"

static const char usage[] =
	"usage: aecc COMMAND [options] FILE.ae\n"
	"\n"
	"Compile an autoencoder described in a .ae file to standalone C.\n"
	"\n"
	"commands:\n"
	"  check FILE.ae                 report errors in the file, exit 1 if any\n"
	"  summary FILE.ae               layers, shapes, parameters, FLOPs, memory\n"
	"  graph FILE.ae [--dot] [--pass lower|grad|fuse|entry|plan]\n"
	"                                print the graph IR (text or Graphviz dot)\n"
	"  emit FILE.ae -o DIR           write DIR/NAME.h, NAME.c, NAME_main.c and\n"
	"                                NAME_torch.py (the same model in PyTorch)\n"
	"  build FILE.ae -o DIR          emit, then compile DIR/NAME-train\n"
	"  train FILE.ae [TRAINER OPTIONS]\n"
	"                                build (cached) and run the trainer; every\n"
	"                                option after FILE.ae goes to the trainer\n"
	"                                (see `aecc train FILE.ae --help`)\n"
	"  ops                           list the operations of the language\n"
	"\n"
	"options:\n"
	"  --dtype f32|f64               element type of the generated code (f32)\n"
	"  --kernels simd|scalar         vectorized kernels (SIMDe) or plain loops (simd)\n"
	"  --no-fuse                     keep every op a pass of its own (for comparison)\n"
	"  -o DIR                        output folder for emit and build\n"
	"  -d                            print the graph after every pass (stderr)\n"
	"  --help, --version\n"
	"\n"
	"environment: CC (C compiler, default cc), AECC_CFLAGS (more flags for it,\n"
	"after -std=c99 -O3 -march=native -fopenmp; -O1 compiles faster and\n"
	"computes the same), AECC_CACHE (build cache of `aecc train`, default\n"
	"$XDG_CACHE_HOME/aecc or ~/.cache/aecc).\n";

typedef struct Cli {
	const char *cmd;    /* the command */
	const char *file;   /* the .ae file */
	const char *out;    /* -o DIR */
	int dot;            /* graph --dot */
	int pass;           /* graph --pass */
	Options opt;        /* pipeline options */
	int rest;           /* train: index of the first trainer argument */
} Cli;

static _Noreturn void usage_error(const char *fmt, const char *arg)
{
	fputs("aecc: error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'aecc --help'.\n", stderr);
	exit(2);
}

static void parse_cli(Cli *c, int argc, char **argv)
{
	c->pass = PASS_ALL;
	c->opt.stop_after = PASS_ALL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "--version")) {
			printf("aecc %s\n", AECC_VERSION);
			exit(0);
		} else if (!strcmp(a, "--dtype")) {
			if (++i >= argc)
				usage_error("%s needs a value (f32 or f64)", a);
			if (!strcmp(argv[i], "f64"))
				c->opt.f64 = 1;
			else if (strcmp(argv[i], "f32") != 0)
				usage_error("unknown dtype '%s' (expected f32 or f64)", argv[i]);
		} else if (!strcmp(a, "--kernels")) {
			if (++i >= argc)
				usage_error("%s needs a value (simd or scalar)", a);
			if (!strcmp(argv[i], "scalar"))
				c->opt.scalar = 1;
			else if (strcmp(argv[i], "simd") != 0)
				usage_error("unknown kernels '%s' (expected simd or scalar)", argv[i]);
		} else if (!strcmp(a, "--no-fuse")) {
			c->opt.nofuse = 1;
		} else if (!strcmp(a, "-o")) {
			if (++i >= argc)
				usage_error("%s needs a folder", a);
			c->out = argv[i];
		} else if (!strcmp(a, "-d")) {
			c->opt.dump = 1;
		} else if (!strcmp(a, "--dot")) {
			c->dot = 1;
		} else if (!strcmp(a, "--pass")) {
			static const char *names[] = {"lower", "grad", "fuse", "entry", "plan"};
			static const int passes[] = {PASS_LOWER, PASS_GRAD, PASS_FUSE, PASS_ENTRY, PASS_ALL};
			if (++i >= argc)
				usage_error("%s needs a pass name", a);
			c->pass = -1;
			for (int k = 0; k < 4; k++)
				if (!strcmp(argv[i], names[k]))
					c->pass = passes[k];
			if (c->pass < 0)
				usage_error("unknown pass '%s' (lower, grad, fuse or plan)", argv[i]);
		} else if (a[0] == '-' && a[1]) {
			usage_error("unknown option '%s'", a);
		} else if (!c->cmd) {
			c->cmd = a;
		} else if (!c->file) {
			c->file = a;
			if (!strcmp(c->cmd, "train")) {
				c->rest = i + 1;
				return;
			}
		} else {
			usage_error("unexpected argument '%s'", a);
		}
	}
}

/* ---- finding the runtime and the C compiler ---- */

/* The prefix aecc runs from: PREFIX/bin/aecc -> PREFIX. */
static const char *prefix(void)
{
	const char *env = getenv("AECC_HOME");
	if (env && *env)
		return env;
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return "/usr/local";
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	return xstrdup(buf);
}

static int run(char **argv)
{
	pid_t pid = fork();
	if (pid < 0) {
		diag_plain("cannot start %s: %s", argv[0], strerror(errno));
		return 0;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "aecc: error: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Emit into dir and compile dir/NAME-train. */
static int build(Model *m, const char *dir)
{
	if (!emit_c(m, dir))
		return 0;
	const char *pre = prefix();
	const char *inc = xasprintf("-I%s/include", pre), *lib = xasprintf("%s/lib/libaecc_rt.a", pre);
	struct stat st;
	if (stat(lib, &st) != 0) {
		diag_plain("the aecc runtime is missing: %s (set AECC_HOME to the prefix aecc was installed in)", lib);
		return 0;
	}
	const char *cc = getenv("CC"), *flags = getenv("AECC_CFLAGS");
	const char *exe = xasprintf("%s/%s-train", dir, m->name), *tmp = xasprintf("%s.tmp", exe);
	Vec args = {0};
	const char *fixed[] = {cc && *cc ? cc : "cc", "-std=c99", "-O3", "-march=native", "-fopenmp"};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		vec_push(&args, (char *)fixed[i]);
	for (char *w = strtok(xstrdup(flags ? flags : ""), " \t"); w; w = strtok(NULL, " \t"))
		vec_push(&args, w);
	const char *rest[] = {inc, xasprintf("-I%s", dir), xasprintf("%s/%s.c", dir, m->name),
			      xasprintf("%s/%s_main.c", dir, m->name), lib, "-lz", "-lm", "-o", tmp};
	for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
		vec_push(&args, (char *)rest[i]);
	vec_push(&args, NULL);
	char **argv = (char **)args.data;
	if (!run(argv)) {
		remove(tmp);
		diag_plain("compiling the generated trainer failed (command: %s ... -o %s)", argv[0], exe);
		return 0;
	}
	if (rename(tmp, exe) != 0) {
		diag_plain("cannot create %s: %s", exe, strerror(errno));
		return 0;
	}
	return 1;
}

/* Write DIR/NAME_torch.py. The twin reads the forward graph as lowering
 * leaves it, before autodiff and fusion rewrite it: the pipeline again,
 * stopped after lowering (it reports nothing the first run did not). */
static int emit_twin(const Cli *c)
{
	Options o = c->opt;
	o.stop_after = PASS_LOWER;
	o.dump = 0;
	Model *fwd = pipeline_run(c->file, &o);
	return fwd && emit_torch(fwd, c->out);
}

/* FNV-1a over the bytes that decide the trainer binary. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3u;
	return h;
}

static const char *cache_dir(Model *m)
{
	const char *base = getenv("AECC_CACHE");
	if (!base || !*base) {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		base = xdg && *xdg ? xasprintf("%s/aecc", xdg) : xasprintf("%s/.cache/aecc", home ? home : "/tmp");
	}
	size_t len;
	char *text = read_file(m->file, &len);
	uint64_t h = fnv(0xcbf29ce484222325u, text, len);
	h = fnv(h, AECC_VERSION, strlen(AECC_VERSION));
	h = fnv(h, &m->f64, sizeof m->f64);
	h = fnv(h, &m->scalar, sizeof m->scalar);
	h = fnv(h, &m->nofuse, sizeof m->nofuse);
	const char *flags = getenv("AECC_CFLAGS");
	if (flags)
		h = fnv(h, flags, strlen(flags));
	char abs[PATH_MAX];
	if (realpath(m->file, abs))
		h = fnv(h, abs, strlen(abs));
	struct stat st;
	const char *lib = xasprintf("%s/lib/libaecc_rt.a", prefix());
	if (stat(lib, &st) == 0)
		h = fnv(h, &st.st_mtime, sizeof st.st_mtime);
	const char *bin = xasprintf("%s/bin/aecc", prefix());
	if (stat(bin, &st) == 0)
		h = fnv(h, &st.st_mtime, sizeof st.st_mtime);
	/* mkdir -p base */
	char *p = xstrdup(base);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0777);
			*s = '/';
		}
	mkdir(p, 0777);
	return xasprintf("%s/%s-%016llx", base, m->name, (unsigned long long)h);
}

static int cmd_train(Model *m, int argc, char **argv, int rest)
{
	const char *dir = cache_dir(m);
	const char *exe = xasprintf("%s/%s-train", dir, m->name);
	if (access(exe, X_OK) != 0) {
		fprintf(stderr, "aecc: building %s\n", exe);
		if (!build(m, dir))
			return 1;
	}
	char **args = xcalloc((size_t)(argc - rest + 2), sizeof *args);
	args[0] = (char *)exe;
	for (int i = rest; i < argc; i++)
		args[i - rest + 1] = argv[i];
	fflush(stdout);
	execv(exe, args);
	diag_plain("cannot run %s: %s", exe, strerror(errno));
	return 1;
}

static void cmd_ops(void)
{
	int n;
	const OpDef *const *ops = op_all(&n);
	for (int i = 0; i < n; i++)
		if (ops[i]->lower)
			printf("%-12s %s\n", ops[i]->name, ops[i]->doc);
}

int main(int argc, char **argv)
{
	Cli c = {0};
	parse_cli(&c, argc, argv);
	if (!c.cmd)
		usage_error("%s", "no command given");
	static const char *cmds[] = {"check", "summary", "graph", "emit", "build", "train", "ops"};
	int known = 0;
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		known |= !strcmp(c.cmd, cmds[i]);
	if (!known)
		usage_error("unknown command '%s'", c.cmd);
	if (!strcmp(c.cmd, "ops")) {
		cmd_ops();
		return 0;
	}
	if (!c.file)
		usage_error("%s needs a .ae file", c.cmd);
	if ((!strcmp(c.cmd, "emit") || !strcmp(c.cmd, "build")) && !c.out)
		usage_error("%s needs an output folder: -o DIR", c.cmd);
	if (!strcmp(c.cmd, "graph"))
		c.opt.stop_after = c.pass;
	Model *m = pipeline_run(c.file, &c.opt);
	if (!m || diag_errors())
		return 1;
	if (!strcmp(c.cmd, "summary"))
		print_summary(stdout, m);
	else if (!strcmp(c.cmd, "graph"))
		c.dot ? graph_dot(stdout, m->g) : graph_dump(stdout, m->g);
	else if (!strcmp(c.cmd, "emit"))
		return emit_c(m, c.out) && emit_twin(&c) ? 0 : 1;
	else if (!strcmp(c.cmd, "build"))
		return build(m, c.out) ? 0 : 1;
	else if (!strcmp(c.cmd, "train"))
		return cmd_train(m, argc, argv, c.rest);
	return 0;
}
