/* test_rng.c - the generator, bounded draws and shuffling. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "aecc_rt.h"

Test(rng, matches_reference_xoshiro256starstar)
{
	/* Reference values: splitmix64 seeding and xoshiro256** as published. */
	static const uint64_t seed0[3] = {0x99ec5f36cb75f2b4u, 0xbf6e1f784956452au, 0x1a5f849d4933e6e0u};
	static const uint64_t seed42[3] = {0x15780b2e0c2ec716u, 0x6104d9866d113a7eu, 0xae17533239e499a1u};
	aert_rng a, b;
	aert_rng_seed(&a, 0);
	aert_rng_seed(&b, 42);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(aert_rng_next(&a), seed0[i], "seed 0, output %d", i);
		cr_assert_eq(aert_rng_next(&b), seed42[i], "seed 42, output %d", i);
	}
}

Test(rng, deterministic_per_seed)
{
	aert_rng a, b, c;
	aert_rng_seed(&a, 7);
	aert_rng_seed(&b, 7);
	aert_rng_seed(&c, 8);
	int differ = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t x = aert_rng_next(&a);
		cr_assert_eq(x, aert_rng_next(&b));
		differ += x != aert_rng_next(&c);
	}
	cr_assert_gt(differ, 90);
}

Test(rng, below_is_in_range_and_even)
{
	aert_rng r;
	aert_rng_seed(&r, 1);
	cr_assert_eq(aert_rng_below(&r, 0), 0);
	cr_assert_eq(aert_rng_below(&r, 1), 0);
	unsigned counts[3] = {0};
	for (int i = 0; i < 30000; i++) {
		uint64_t x = aert_rng_below(&r, 3);
		cr_assert_lt(x, 3);
		counts[x]++;
	}
	for (int k = 0; k < 3; k++)
		cr_assert(counts[k] > 9500 && counts[k] < 10500, "value %d drawn %u times", k, counts[k]);
	/* A bound just above 2^63 rejects almost half of all draws. */
	const uint64_t n = (UINT64_C(1) << 63) + 1;
	for (int i = 0; i < 1000; i++)
		cr_assert_lt(aert_rng_below(&r, n), n);
}

static int by_value(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

Test(rng, shuffle_is_a_permutation)
{
	enum { N = 1000 };
	size_t *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
	for (size_t i = 0; i < N; i++)
		p[i] = q[i] = i;
	aert_rng r, s;
	aert_rng_seed(&r, 3);
	aert_rng_seed(&s, 3);
	aert_shuffle(p, N, &r);
	aert_shuffle(q, N, &s);
	cr_assert_arr_eq(p, q, N * sizeof *p, "same seed, same order");
	size_t fixed = 0;
	for (size_t i = 0; i < N; i++)
		fixed += p[i] == i;
	cr_assert_lt(fixed, 10, "%zu elements stayed in place", fixed);
	qsort(p, N, sizeof *p, by_value);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(p[i], i);
	aert_shuffle(p, 0, &r);
	aert_shuffle(p, 1, &r);
	cr_assert_eq(p[0], 0);
	free(p);
	free(q);
}
