/* cc.c - the system C compiler: its command line, running it, and the
 * static trainer of `aecc build`; and the prefix aecc runs from. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc.h"
#include "pipeline.h"

const char *cc_prefix(void)
{
	static const char *prefix;
	const char *env = getenv("AECC_HOME");
	if (env && *env)
		return env;
	if (prefix)
		return prefix;
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return prefix = "/usr/local";
	buf[n] = 0;
	for (int up = 0; up < 2; up++) { /* PREFIX/bin/aecc -> PREFIX */
		char *slash = strrchr(buf, '/');
		if (slash)
			*slash = 0;
	}
	return prefix = xstrdup(buf);
}

Vec cc_command(void)
{
	const char *cc = getenv("CC"), *flags = getenv("AECC_CFLAGS");
	const char *fixed[] = {cc && *cc ? cc : "cc", "-std=c99", "-O3", "-march=native", "-fopenmp"};
	Vec cmd = {0};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		vec_push(&cmd, (char *)fixed[i]);
	for (char *w = strtok(xstrdup(flags ? flags : ""), " \t"); w; w = strtok(NULL, " \t"))
		vec_push(&cmd, w);
	return cmd;
}

/* Run argv (NULL-terminated) and wait; 1 if it exited with status 0. */
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

int cc_compile(Vec cmd, const char *tmp, const char *target)
{
	vec_push(&cmd, "-o");
	vec_push(&cmd, (char *)tmp);
	vec_push(&cmd, NULL);
	char **argv = (char **)cmd.data;
	if (run(argv))
		return 1;
	remove(tmp);
	Buf line = {0};
	for (char **a = argv; *a; a++)
		buf_printf(&line, "%s%s", a == argv ? "" : " ", *a);
	diag_plain("compiling %s failed; the command was: %s", target, line.data);
	return 0;
}

const char *cc_temp(const char *path)
{
	return xasprintf("%s.tmp.%ld", path, (long)getpid());
}

int cc_publish(const char *tmp, const char *path)
{
	if (rename(tmp, path) == 0)
		return 1;
	diag_plain("cannot create %s: %s", path, strerror(errno));
	remove(tmp);
	return 0;
}

int cc_build_trainer(Model *m, const char *dir, int mpi)
{
	if (!emit_c(m, dir))
		return 0;
	const char *pre = cc_prefix(), *lib = xasprintf("%s/lib/libaecc_rt.a", pre);
	const char *mpilib = xasprintf("%s/lib/libaecc_rt_mpi.a", pre), *mpicc = getenv("MPICC");
	struct stat st;
	if (stat(lib, &st) != 0) {
		diag_plain("the aecc runtime is missing: %s (set AECC_HOME to the prefix aecc was installed in)", lib);
		return 0;
	}
	if (mpi && stat(mpilib, &st) != 0) {
		diag_plain("aecc was built without MPI: %s is missing (install libopenmpi-dev and openmpi-bin, "
			   "as scripts/deps.sh does, and rebuild)", mpilib);
		return 0;
	}
	const char *exe = xasprintf("%s/%s-train", dir, m->name), *tmp = cc_temp(exe);
	Vec cmd = cc_command();
	if (mpi) { /* the MPI wrapper in the compiler's place, and the MPI trainer's main() */
		cmd.data[0] = (char *)(mpicc && *mpicc ? mpicc : "mpicc");
		vec_push(&cmd, "-DAERT_MPI");
	}
	const char *rest[] = {xasprintf("-I%s/include", pre), xasprintf("-I%s", dir),
			      xasprintf("%s/%s.c", dir, m->name), xasprintf("%s/%s_main.c", dir, m->name),
			      mpi ? mpilib : lib, mpi ? lib : "-lpng", mpi ? "-lpng" : "-lz", mpi ? "-lz" : "-lm",
			      mpi ? "-lm" : NULL};
	for (size_t i = 0; i < sizeof rest / sizeof *rest && rest[i]; i++)
		vec_push(&cmd, (char *)rest[i]);
	return cc_compile(cmd, tmp, exe) && cc_publish(tmp, exe);
}
