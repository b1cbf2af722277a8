/* test_threads.c - the trainer's thread governor (threads.c) against a
 * model whose step times the test decides. */
#include <criterion/criterion.h>

#include "common.h"

static int threads_set; /* what the governor last asked for */

/* At most the steps that probes run on the other count in `steps` steps:
 * one probe of 6 such steps per 128 steps, and a warm-up. */
#define PROBED(steps) ((steps) / 128 * 6 + 6)

static int set_threads(int n)
{
	threads_set = n;
	return n;
}

/* Runs `steps` steps of 128 samples; a step on all cores takes most_s
 * seconds, on one thread one_s, except that the steps listed in `slow`
 * (by number) take 10 times as long. Returns the steps run on one thread. */
static int run(aert_governor *g, int steps, double most_s, double one_s, const int *slow, int nslow)
{
	int on_one = 0;
	for (int i = 0; i < steps; i++) {
		int n = aert_governor_threads(g);
		double s = n == 1 ? one_s : most_s;
		for (int k = 0; k < nslow; k++)
			if (slow[k] == i)
				s *= 10;
		on_one += n == 1;
		aert_governor_done(g, s, 128);
	}
	return on_one;
}

/* Runs steps of those times until the next probe has decided. */
static void to_next_probe(aert_governor *g, double most_s, double one_s)
{
	int probes = g->rounds;
	while (g->rounds == probes)
		run(g, 1, most_s, one_s, NULL, 0);
}

Test(governor, all_cores_when_they_are_faster)
{
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	int on_one = run(&g, 1000, 0.010, 0.018, NULL, 0);
	cr_expect_leq(on_one, PROBED(1000), "only the probes run on one thread (%d steps)", on_one);
	cr_expect_eq(threads_set, 2);
}

Test(governor, one_thread_when_the_other_core_is_busy)
{
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	int on_one = run(&g, 1000, 0.030, 0.018, NULL, 0);
	cr_expect_geq(on_one, 1000 - PROBED(1000), "one thread runs but for the probes (%d steps)", on_one);
}

Test(governor, ties_go_to_all_cores)
{
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	int on_one = run(&g, 600, 0.010, 0.0099, NULL, 0);
	cr_expect_leq(on_one, PROBED(600), "within 3%%, all cores (%d steps on one)", on_one);
}

Test(governor, an_interrupted_step_does_not_decide)
{
	/* all cores are faster; slow steps (another process took the core)
	 * in two of the first probe's six all-core turns and in one of the
	 * next two probes' (steps 1..12, 133..144 and 385..396) */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	const int slow[] = {1, 3, 134, 385};
	int on_one = run(&g, 1000, 0.010, 0.018, slow, 4);
	cr_expect_leq(on_one, PROBED(1000), "the median step of each count decides (%d steps on one)", on_one);
}

Test(governor, one_thread_when_all_cores_are_fast_only_now_and_then)
{
	/* with a busy core, one step on all cores in three is fast (the
	 * other process waited), the others slow: the fastest step would
	 * choose all cores, the typical one chooses one thread */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	int on_one = 0;
	for (int i = 0; i < 1000; i++) {
		int n = aert_governor_threads(&g);
		on_one += n == 1;
		aert_governor_done(&g, n == 1 ? 0.018 : i % 3 == 0 ? 0.008 : 0.045, 128);
	}
	cr_expect_geq(on_one, 1000 - PROBED(1000), "one thread runs but for the probes (%d steps)", on_one);
}

Test(governor, a_count_far_behind_ends_the_probe)
{
	/* all cores three times slower: after the first probe, each probe
	 * runs two steps on all cores, not six */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	int on_most = 2000 - run(&g, 2000, 0.054, 0.018, NULL, 0);
	cr_expect_eq(g.choice, 1);
	cr_expect_leq(on_most, 1 + AERT_PROBE_TURNS + 2 * (g.rounds - 1), "%d steps on all cores in %d probes",
		      on_most, g.rounds);
}

Test(governor, one_odd_probe_does_not_switch)
{
	/* one thread is faster; then for one probe all cores are, by a little:
	 * the choice stays until a second probe agrees */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	run(&g, 300, 0.030, 0.018, NULL, 0);
	cr_assert_eq(g.choice, 1);
	to_next_probe(&g, 0.016, 0.018);
	cr_expect_eq(g.choice, 1, "one probe that disagrees leaves the choice");
	run(&g, 200, 0.030, 0.018, NULL, 0);
	cr_expect_eq(g.choice, 1);
}

Test(governor, a_clear_probe_switches_at_once)
{
	/* all cores are faster until the other core gets busy: the first
	 * probe after that, which all cores lose by far, switches */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	run(&g, 300, 0.010, 0.018, NULL, 0);
	cr_assert_eq(g.choice, 2);
	to_next_probe(&g, 0.030, 0.018);
	cr_expect_eq(g.choice, 1, "all cores 1.7 times slower in one probe");
}

Test(governor, not_governed_with_one_core)
{
	aert_governor g;
	threads_set = 0;
	aert_governor_init(&g, set_threads, 1);
	cr_expect_eq(aert_governor_threads(&g), 0);
	aert_governor_done(&g, 1, 128);
	cr_expect_eq(threads_set, 0, "set_threads is never called");
}

Test(governor, probes_less_often_while_the_choice_holds)
{
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	int on_one = run(&g, 20000, 0.010, 0.018, NULL, 0);
	cr_expect_leq(g.rounds, 20, "%d probes in 20000 steps", g.rounds);
	cr_expect_leq(on_one, 20 * AERT_PROBE_TURNS, "%d steps on one thread", on_one);
	/* when the other count wins twice, probes come often again */
	run(&g, 8000, 0.030, 0.018, NULL, 0);
	cr_expect_eq(g.choice, 1);
}

Test(governor, a_slowdown_between_probes_brings_the_probe_forward)
{
	/* all cores are faster; then the other core gets busy in the middle
	 * of a long run between probes: three slow steps start a probe, which
	 * switches, instead of the rest of the run on all cores */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	run(&g, 400, 0.010, 0.018, NULL, 0);
	cr_assert_eq(g.choice, 2);
	cr_assert(!g.probing && g.left > 40, "in a run with %d steps to go", g.left);
	int on_most = 40 - run(&g, 40, 0.030, 0.018, NULL, 0);
	cr_expect_eq(g.choice, 1, "switched within 40 steps");
	cr_expect_leq(on_most, 3 + AERT_PROBE_TURNS, "%d steps on all cores after the change", on_most);
}

Test(governor, two_slow_steps_in_a_row_do_not_start_a_probe)
{
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	run(&g, 400, 0.010, 0.018, NULL, 0);
	cr_assert(!g.probing && g.left > 40);
	int rounds = g.rounds;
	const int slow[] = {10, 11, 20, 21, 30};
	run(&g, 40, 0.010, 0.018, slow, 5);
	cr_expect_eq(g.rounds, rounds, "no probe");
	cr_expect(!g.probing);
}

Test(governor, one_thread_that_slows_down_waits_for_its_probe)
{
	/* one thread is chosen; then its steps take twice as long (a third
	 * process shares its core), which would make all cores slower still */
	aert_governor g;
	aert_governor_init(&g, set_threads, 2);
	run(&g, 400, 0.030, 0.018, NULL, 0);
	cr_assert(g.choice == 1 && !g.probing && g.left > 40);
	int rounds = g.rounds;
	run(&g, 40, 0.060, 0.036, NULL, 0);
	cr_expect_eq(g.rounds, rounds, "no probe");
}
