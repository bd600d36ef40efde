/*===- rng.c - xoshiro256** seeded by splitmix64 --------------------------===*
 *
 * Both generators are by Blackman and Vigna (prng.di.unimi.it). Only fixed
 * width integer arithmetic is used, so a seed gives the same stream on every
 * machine.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

uint64_t sora_splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

void sora_rng_seed(sora_rng *r, uint64_t seed) {
  // splitmix64 never yields four zeros in a row, the one state xoshiro
  // cannot leave.
  uint64_t state = seed;
  for (int i = 0; i < 4; ++i)
    r->s[i] = sora_splitmix64(&state);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sora_rng_next(sora_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float sora_rng_uniform(sora_rng *r) {
  // The top 24 bits fill a float's mantissa exactly: k * 2^-24 < 1.
  return (float)(sora_rng_next(r) >> 40) * 0x1.0p-24f;
}

/// Uniform in [0, bound), without modulo bias: rejects the few lowest
/// outputs that would make some residues more likely than others.
static uint64_t next_below(sora_rng *r, uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound; // 2^64 mod bound
  uint64_t x;
  do
    x = sora_rng_next(r);
  while (x < threshold);
  return x % bound;
}

void sora_rng_shuffle(sora_rng *r, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = (int64_t)next_below(r, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}
