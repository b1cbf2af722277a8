/* rng.c - xoshiro256** (Blackman and Vigna), seeded by splitmix64, with
 * unbiased bounded draws and the Fisher-Yates shuffle. */
#include "aecc_rt.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void aert_rng_seed(aert_rng *r, uint64_t seed)
{
	/* splitmix64 is a bijection of its counter, so four successive outputs
	 * are never all zero. */
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

uint64_t aert_rng_next(aert_rng *r)
{
	uint64_t *s = r->s;
	const uint64_t result = rotl(s[1] * 5, 7) * 9;
	const uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t aert_rng_below(aert_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* 2^64 mod n: the values below it would make small results more
	 * likely; draw again when one comes up. */
	const uint64_t reject_below = (0 - n) % n;
	uint64_t x;
	do
		x = aert_rng_next(r);
	while (x < reject_below);
	return x % n;
}

void aert_shuffle(size_t *perm, size_t n, aert_rng *r)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)aert_rng_below(r, i);
		size_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}
