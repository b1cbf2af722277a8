/* main.c - the aecc command line: check, build, train, summary, graph,
 * emit, export, ops, and the model commands of the runtime (encode, score, ...). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc.h"
#include "export.h"
#include "load.h"
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
	"  build FILE.ae -o DIR          emit, then compile the static trainer\n"
	"                                DIR/NAME-train\n"
	"  train FILE.ae [TRAINER OPTIONS]\n"
	"                                compile the model (cached), load it and train\n"
	"                                it in this process; every option after\n"
	"                                FILE.ae goes to the trainer (see\n"
	"                                `aecc train FILE.ae --help`)\n"
	"  export FILE.ae -o DIR [--weights W.safetensors] [--functions LIST]\n"
	"         [--batch N] [--weights-as static|extern] [--tile small|large]\n"
	"                                write DIR/NAME_infer.h and NAME_infer.c: inference\n"
	"                                only (LIST of encode, decode, forward, score; all\n"
	"                                that apply by default) for N samples a call (1),\n"
	"                                with the weights inside as constants, extern, or\n"
	"                                (without --weights) passed to every call; no\n"
	"                                allocation, stdio or threads; small kernels with\n"
	"                                no stack arrays at batch 1 (--tile)\n"
	"  ops                           list the operations of the language\n"
	"\n"
	"using a trained model (FILE.ae --weights W.safetensors [options]; each\n"
	"command's --help after FILE.ae lists its options):\n"
	"  encode FILE.ae ... -o Z.npy   the code of every sample ([n, latent])\n"
	"  reconstruct FILE.ae ...       the reconstructions; --png grid of originals\n"
	"                                over reconstructions\n"
	"  score FILE.ae ...             anomaly scores, threshold, flags (CSV);\n"
	"                                --normal CLASSES adds ROC-AUC\n"
	"  denoise FILE.ae ...           corrupt, reconstruct, MSE and PSNR\n"
	"  sample FILE.ae ...            decode draws from the prior (VAEs)\n"
	"  interpolate FILE.ae ...       decode between two codes, or --traverse DIM\n"
	"  probe FILE.ae ...             linear classifier on codes vs on inputs\n"
	"  plot-latent FILE.ae ... -o P.png  the codes in 2-D, coloured by class\n"
	"  plot-loss LOG.csv... -o P.png the loss curves of training runs (--log)\n"
	"\n"
	"options:\n"
	"  --dtype f32|f64               element type of the generated code (f32)\n"
	"  --kernels simd|scalar         vectorized kernels (SIMDe) or plain loops (simd)\n"
	"  --precision bf16|fp32         the products' operands, instead of the train\n"
	"                                section's precision (fp32; sums are fp32)\n"
	"  --no-fuse                     keep every op a pass of its own (for comparison)\n"
	"  --jit, --cc                   compile a model to load (train) with the JIT\n"
	"                                plugin or with the system C compiler (default:\n"
	"                                the JIT if its plugin is installed)\n"
	"  --mpi                         build, train: the data-parallel trainer, run as\n"
	"                                `mpirun -np N DIR/NAME-train ...` or\n"
	"                                `mpirun -np N aecc train --mpi FILE.ae ...`\n"
	"  -o DIR                        output folder for emit, build and export\n"
	"  -d                            print the graph after every pass (stderr)\n"
	"  --help, --version\n"
	"\n"
	"environment: CC (C compiler, default cc), AECC_CFLAGS (more flags for it,\n"
	"after -std=c99 -O3 -march=native -fopenmp; -O1 compiles faster and\n"
	"computes the same), AECC_CACHE (where the system compiler's builds of\n"
	"`aecc train` are kept, default $XDG_CACHE_HOME/aecc or ~/.cache/aecc),\n"
	"AECC_JIT (1: the JIT, 0: the system compiler, unless --jit or --cc),\n"
	"AECC_TIMES=1 (report how long compiling and loading the model took),\n"
	"AECC_PYTHON (the Python 3 with matplotlib that draws charts, default\n"
	"/usr/bin/python3).\n";

typedef struct Cli {
	const char *cmd;    /* the command */
	const char *file;   /* the .ae file */
	const char *out;    /* -o DIR */
	int dot;            /* graph --dot */
	int pass;           /* graph --pass */
	Options opt;        /* pipeline options */
	LoadWith load;      /* --jit or --cc */
	ExportOptions export; /* export's own options */
	int rest;           /* train and the model commands: index of the
	                       first argument after FILE.ae */
	int mpi;            /* --mpi: the data-parallel trainer */
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
		const char *a = argv[i], *err = NULL;
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
		} else if (!strcmp(a, "--precision")) {
			if (++i >= argc)
				usage_error("%s needs a value (bf16 or fp32)", a);
			if (!strcmp(argv[i], "bf16"))
				c->opt.precision = PRECISION_BF16;
			else if (!strcmp(argv[i], "fp32"))
				c->opt.precision = PRECISION_FP32;
			else
				usage_error("unknown precision '%s' (expected bf16 or fp32)", argv[i]);
		} else if (!strcmp(a, "--no-fuse")) {
			c->opt.nofuse = 1;
		} else if (!strcmp(a, "-o")) {
			if (++i >= argc)
				usage_error("%s needs a folder", a);
			c->out = argv[i];
		} else if (!strcmp(a, "--jit") || !strcmp(a, "--cc")) {
			c->load = !strcmp(a, "--jit") ? LOAD_JIT : LOAD_CC;
		} else if (!strcmp(a, "--mpi")) {
			c->mpi = 1;
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
			for (size_t k = 0; k < sizeof names / sizeof *names; k++)
				if (!strcmp(argv[i], names[k]))
					c->pass = passes[k];
			if (c->pass < 0)
				usage_error("unknown pass '%s' (lower, grad, fuse, entry or plan)", argv[i]);
		} else if (c->cmd && !strcmp(c->cmd, "plot-loss")) {
			c->rest = i;
			return;
		} else if (c->cmd && !strcmp(c->cmd, "export") && export_option(&c->export, argc, argv, &i, &err)) {
			if (err)
				usage_error("%s", err);
		} else if (a[0] == '-' && a[1]) {
			usage_error("unknown option '%s'", a);
		} else if (!c->cmd) {
			c->cmd = a;
		} else if (!c->file) {
			c->file = a;
			if (!strcmp(c->cmd, "train") || aert_is_command(c->cmd)) {
				c->rest = i + 1;
				return;
			}
		} else {
			usage_error("unexpected argument '%s'", a);
		}
	}
}

/* `aecc train`: the model loaded into this process, trained by the
 * runtime's trainer with the arguments after FILE.ae. */
static int cmd_train(Model *m, LoadWith with, int mpi, int argc, char **argv, int rest)
{
	mpi_main_fn mpi_main = mpi ? load_mpi_main() : NULL;
	if (mpi && !mpi_main)
		return 1;
	const aert_model *d = load_model(m, with);
	if (!d)
		return 1;
	char **args = xcalloc((size_t)(argc - rest + 2), sizeof *args);
	args[0] = argv[0];
	for (int i = rest; i < argc; i++)
		args[i - rest + 1] = argv[i];
	return mpi ? mpi_main(d, argc - rest + 1, args) : aert_train_main(d, argc - rest + 1, args);
}

/* The Python that draws charts, and the script it runs: PREFIX/share/aecc/
 * plot.py beside PREFIX/bin/aecc. */
static const char *python(void)
{
	const char *p = getenv("AECC_PYTHON");
	return p && *p ? p : access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static const char *plot_script(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return "plot.py";
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	return xasprintf("%s/../share/aecc/plot.py", exe);
}

/* `aecc encode`, `aecc score`, ...: the model loaded into this process,
 * run by the runtime's commands with the arguments after FILE.ae. */
static int cmd_use(Model *m, const Cli *c, int argc, char **argv)
{
	const aert_model *d = load_model(m, c->load);
	if (!d)
		return 1;
	char **args = xcalloc((size_t)(argc - c->rest + 2), sizeof *args);
	args[0] = (char *)c->cmd;
	for (int i = c->rest; i < argc; i++)
		args[i - c->rest + 1] = argv[i];
	return aert_command_main(d, "aecc", python(), plot_script(), argc - c->rest + 1, args);
}

static void cmd_ops(void)
{
	int n;
	const OpDef *const *ops = op_all(&n);
	for (int i = 0; i < n; i++)
		if (ops[i]->lower)
			printf("%-12s %s\n", ops[i]->name, ops[i]->doc);
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

/* Whether the code built here (-march=native) multiplies bf16 pairs with
 * vdpbf16ps: the CPU has AVX512-BF16. */
static int cpu_has_bf16(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512bf16");
#else
	return 0;
#endif
}

int main(int argc, char **argv)
{
	aert_threads_wait_policy(NULL); /* before a model's OpenMP runtime starts */
	Cli c = {0};
	parse_cli(&c, argc, argv);
	if (!c.cmd)
		usage_error("%s", "no command given");
	if (c.opt.f64 && c.opt.precision == PRECISION_BF16)
		usage_error("%s", "--precision bf16 needs --dtype f32 (an f64 build multiplies in f64)");
	static const char *cmds[] = {"check", "summary", "graph", "emit", "build", "train", "export", "ops", "plot-loss"};
	int known = aert_is_command(c.cmd);
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		known |= !strcmp(c.cmd, cmds[i]);
	if (!known)
		usage_error("unknown command '%s'", c.cmd);
	if (!strcmp(c.cmd, "ops")) {
		cmd_ops();
		return 0;
	}
	if (!strcmp(c.cmd, "plot-loss")) {
		argv[c.rest ? c.rest - 1 : argc - 1] = (char *)"plot-loss";
		int first = c.rest ? c.rest - 1 : argc - 1;
		return aert_plot_main("aecc", python(), plot_script(), argc - first, argv + first);
	}
	if (!c.file)
		usage_error("%s needs a .ae file", c.cmd);
	if ((!strcmp(c.cmd, "emit") || !strcmp(c.cmd, "build") || !strcmp(c.cmd, "export")) && !c.out)
		usage_error("%s needs an output folder: -o DIR", c.cmd);
	if (!strcmp(c.cmd, "export"))
		return export_run(c.file, &c.opt, &c.export, c.out);
	if (!strcmp(c.cmd, "graph"))
		c.opt.stop_after = c.pass;
	Model *m = pipeline_run(c.file, &c.opt);
	if (!m || diag_errors())
		return 1;
	if (m->train.bf16 && !m->f64 && !cpu_has_bf16() &&
	    (!strcmp(c.cmd, "emit") || !strcmp(c.cmd, "build") || !strcmp(c.cmd, "train"))) {
		static const char what[] = "this CPU has no AVX512-BF16: bf16 products are fp32 products of operands "
					   "rounded to bf16, bf16's results at about fp32's speed";
		diag_warning(c.opt.precision == PRECISION_BF16 ? (Loc){0} : m->train.precision_loc, "%s", what);
	}
	if (!strcmp(c.cmd, "summary"))
		print_summary(stdout, m);
	else if (!strcmp(c.cmd, "graph"))
		c.dot ? graph_dot(stdout, m->g) : graph_dump(stdout, m->g);
	else if (!strcmp(c.cmd, "emit"))
		return emit_c(m, c.out) && emit_twin(&c) ? 0 : 1;
	else if (!strcmp(c.cmd, "build"))
		return cc_build_trainer(m, c.out, c.mpi) ? 0 : 1;
	else if (!strcmp(c.cmd, "train"))
		return cmd_train(m, c.load, c.mpi, argc, argv, c.rest);
	else if (aert_is_command(c.cmd))
		return cmd_use(m, &c, argc, argv);
	return 0;
}
