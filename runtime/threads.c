/* threads.c - how the threads of a model's kernels wait for each other.
 *
 * Between two parallel loops the threads of an OpenMP runtime wait. By
 * default libgomp (gcc) spins for about 300,000 rounds before it sleeps and
 * LLVM's libomp (the JIT) for 200 ms: on an idle machine that saves the
 * wake-up, but on a busy one a spinning thread holds its core while the
 * thread it waits for is queued behind another process on the other core,
 * and two threads fall far behind one. A bounded spin keeps the short
 * waits of an idle machine and sleeps through the long ones, so the
 * scheduler can run the late thread on the core that waits (bench/run.sh
 * measures both cases).
 *
 * Both runtimes read their settings from the environment when they start:
 * libgomp when it is loaded, libomp on its first parallel region. aecc
 * sets them before it loads a model; a program that libgomp started with
 * (a static trainer: libgomp is loaded before main()) runs itself again
 * with them set, once. A wait policy the user set (OMP_WAIT_POLICY,
 * GOMP_SPINCOUNT or KMP_BLOCKTIME) is left as it is.
 * And while a trainer runs, the governor (below) chooses between all
 * cores and one thread by timing both now and then, and again as soon as
 * the chosen count's steps get much slower.
 * Requires: nothing. Provides: aert_threads_wait_policy(), aert_governor_*(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* libgomp's rounds of spinning before a waiting thread sleeps (tens of
 * microseconds on a 2-3 GHz x86 core), and libomp's time in ms. */
#define AERT_GOMP_SPINCOUNT "3000"
#define AERT_KMP_BLOCKTIME "1"

/* 1 if libgomp is mapped into this process (Linux: /proc/self/maps). */
static int gomp_loaded(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, "/libgomp") != NULL;
	fclose(f);
	return found;
}

void aert_threads_wait_policy(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("KMP_BLOCKTIME"))
		return;
	setenv("GOMP_SPINCOUNT", AERT_GOMP_SPINCOUNT, 0);
	setenv("KMP_BLOCKTIME", AERT_KMP_BLOCKTIME, 0);
	if (argv && gomp_loaded()) {
		fflush(NULL);
		execv("/proc/self/exe", argv); /* returns only if it failed: then go on as we are */
	}
}

/* ---- the thread count while a trainer runs ---- */

/* Steps in a probe (all cores and one thread in turns, step by step), and
 * steps run between probes: RUN_STEPS, doubled by every probe that keeps
 * the choice up to MAX_RUN_STEPS (a probe costs the slower count's steps),
 * back to RUN_STEPS when one disagrees. */
enum { PROBE_STEPS = 2 * AERT_PROBE_TURNS, RUN_STEPS = 120, MAX_RUN_STEPS = 1920 };

/* Between probes on all cores, SLOW_STEPS steps in a row that each take
 * more than SLOWER times their median step in the last probe start the
 * next probe at once: another process took a core (or left one that it
 * held only for a moment), and waiting for the planned probe would run up
 * to MAX_RUN_STEPS steps on the wrong count. One thread that slows down
 * has lost cycles that all cores would lose too: it waits for its probe. */
#define SLOWER 1.5
enum { SLOW_STEPS = 3 };

void aert_governor_init(aert_governor *g, int (*set_threads)(int n), int most)
{
	*g = (aert_governor){0};
	g->set_threads = set_threads;
	g->most = set_threads && most > 1 ? most : 0;
	g->choice = g->most;
	g->run_steps = RUN_STEPS;
	g->left = 1; /* a first step to warm up */
}

int aert_governor_threads(aert_governor *g)
{
	if (!g->most)
		return 0;
	/* in a probe the counts take turns, all cores first in even rounds */
	int want = !g->probing ? g->choice : ((g->left % 2 == 0) == (g->rounds % 2 == 0) ? g->most : 1);
	if (want != g->now)
		g->now = g->set_threads(want);
	return g->now;
}

/* The median of the n > 0 values v, left as they are. */
static double median(const double *v, int n)
{
	double c[AERT_PROBE_TURNS];
	for (int i = 0; i < n; i++) { /* c[0..i] in order */
		int j = i;
		for (; j > 0 && c[j - 1] > v[i]; j--)
			c[j] = c[j - 1];
		c[j] = v[i];
	}
	return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

/* 1 if at least two steps of each count were timed in the probe, each of
 * count a took longer than the slowest of count b, and the median of a
 * more than twice the median of b (one lucky fast step of b does not
 * settle it, nor a run of a whose steps are fast now and then). */
static int far_behind(const aert_governor *g, int a, int b)
{
	if (g->timed[a] < 2 || g->timed[b] < 2)
		return 0;
	double slowest = 0;
	for (int i = 0; i < g->timed[b]; i++)
		slowest = g->per[b][i] > slowest ? g->per[b][i] : slowest;
	for (int i = 0; i < g->timed[a]; i++)
		if (g->per[a][i] <= slowest)
			return 0;
	return median(g->per[a], g->timed[a]) > 2 * median(g->per[b], g->timed[b]);
}

void aert_governor_done(aert_governor *g, double seconds, int n)
{
	if (!g->most)
		return;
	if (g->probing && n > 0) {
		int slot = g->now == 1;
		if (g->timed[slot] < AERT_PROBE_TURNS)
			g->per[slot][g->timed[slot]++] = seconds / n;
	} else if (n > 0 && g->usual > 0 && g->choice == g->most) {
		g->slow = seconds / n > SLOWER * g->usual ? g->slow + 1 : 0;
		if (g->slow >= SLOW_STEPS)
			g->left = 1; /* this step is the run's last */
	}
	/* A probe ends early when the count not chosen is far behind the
	 * choice (a busy core makes all cores several times slower, and each
	 * of their steps in a probe costs that); one that may change the
	 * choice, and the first, run to the end. */
	int chosen = g->choice == 1;
	int settled = g->probing && g->rounds > 0 && far_behind(g, !chosen, chosen);
	if (--g->left > 0 && !settled)
		return;
	if (g->probing) {
		/* The median step of each: a step that another process
		 * interrupted says nothing about the thread count, and the
		 * fastest says too little (with a busy core, all cores have a
		 * fast step now and then, when the other process waits). One
		 * thread must win by 3%; ties go to all cores. A probe that
		 * disagrees with the choice changes it at once when the loser
		 * took more than 1.5 times as long (or in the first probe),
		 * else only when the next one agrees. */
		double most = g->timed[0] ? median(g->per[0], g->timed[0]) : 0;
		double one = g->timed[1] ? median(g->per[1], g->timed[1]) : 0;
		int want = one > 0 && one < 0.97 * most ? 1 : g->most;
		int clear = want == 1 ? most > 1.5 * one : one > 1.5 * most;
		if (want == g->choice) {
			g->doubt = 0;
			if (g->rounds > 0 && g->run_steps < MAX_RUN_STEPS)
				g->run_steps *= 2;
		} else if (g->rounds == 0 || g->doubt || clear) {
			g->choice = want;
			g->doubt = 0;
			g->run_steps = RUN_STEPS;
		} else {
			g->doubt = 1;
			g->run_steps = RUN_STEPS;
		}
		g->usual = g->choice == 1 ? one : most;
		g->slow = 0;
		g->timed[0] = g->timed[1] = 0;
		g->rounds++;
	}
	g->probing = !g->probing;
	g->left = g->probing ? PROBE_STEPS : g->run_steps;
}
