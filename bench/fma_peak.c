/* fma_peak: the single core's peak rate of fused multiply-adds on float, in
 * GFLOP/s (2 FLOPs per lane per FMA), the roof that bench/run.py reads the
 * achieved GFLOP/s against. Compiled by run.py with `cc -O2 -march=native`.
 *
 * The widest vectors the compiler targets (AVX-512: 16 floats; AVX2 + FMA:
 * 8; otherwise GCC vector extensions of 4 floats, which may not contract to
 * FMA), ACCUMULATORS independent chains of acc = acc * m + c so that the
 * FMA latency (4 cycles on recent cores, 2 FMA pipes) is hidden. Each trial
 * runs a fixed number of iterations (about 10 ms at 260 GFLOP/s, shorter
 * than most time slices); the best of TRIALS trials is taken, so
 * that another process on the core lowers the figure only if it is there
 * for every trial. Prints one JSON line.
 *
 *   fma_peak [TRIALS=25] [ITERATIONS per trial=5000000]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define ISA "avx512"
#define LANES 16
#define ACCUMULATORS 16 /* of 32 zmm registers */
typedef __m512 vec;
#define SPLAT(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
static float lane_sum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ISA "avx2+fma"
#define LANES 8
#define ACCUMULATORS 12 /* of 16 ymm registers, two left for m and c */
typedef __m256 vec;
#define SPLAT(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float lane_sum(vec v) {
  float f[8];
  _mm256_storeu_ps(f, v);
  return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#else
#define ISA "portable"
#define LANES 4
#define ACCUMULATORS 12
typedef float vec __attribute__((vector_size(16)));
#define SPLAT(x) ((vec){(x), (x), (x), (x)})
#define FMA(a, b, c) ((a) * (b) + (c))
static float lane_sum(vec v) { return v[0] + v[1] + v[2] + v[3]; }
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Applies OP to each accumulator, written out so that they stay in
 * registers (at -O2 GCC keeps an array of them in memory, loop not
 * unrolled). */
#if ACCUMULATORS == 16
#define EACH(OP)                                                               \
  OP(0)                                                                        \
  OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11) OP(12)   \
      OP(13) OP(14) OP(15)
#else
#define EACH(OP)                                                               \
  OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)
#endif
#define DECLARE(a) vec acc##a = SPLAT(seed + (float)(a));
#define STEP(a) acc##a = FMA(acc##a, m, c);
#define SUM(a) sum += lane_sum(acc##a);

/* ACCUMULATORS chains of `iterations` FMAs each; returns their sum, which
 * the caller prints so that the work cannot be dropped. m < 1 and a small c
 * keep the values bounded (a fixed point near c / (1 - m)), away from
 * denormals and infinities. */
static float run(long iterations, float seed) {
  EACH(DECLARE)
  const vec m = SPLAT(0.999f), c = SPLAT(1e-3f);
  for (long i = 0; i < iterations; ++i) {
    EACH(STEP)
  }
  float sum = 0;
  EACH(SUM)
  return sum;
}

int main(int argc, char **argv) {
  long trials = argc > 1 ? atol(argv[1]) : 25;
  long iterations = argc > 2 ? atol(argv[2]) : 5000000;
  if (trials < 1 || iterations < 1) {
    fprintf(stderr, "usage: %s [TRIALS > 0] [ITERATIONS > 0]\n", argv[0]);
    return 2;
  }
  run(iterations / 10, 1.0f); /* warm-up: the clock up, the vector unit on */
  double best = 0, checksum = 0;
  for (long t = 0; t < trials; ++t) {
    double start = now();
    checksum += run(iterations, (float)t);
    double seconds = now() - start;
    if (best == 0 || seconds < best)
      best = seconds;
  }
  double flops = 2.0 * LANES * ACCUMULATORS * (double)iterations;
  printf("{\"gflops\": %.2f, \"isa\": \"%s\", \"lanes\": %d, "
         "\"accumulators\": %d, \"trials\": %ld, \"best_trial_s\": %.6f, "
         "\"checksum\": %g}\n",
         flops / best / 1e9, ISA, LANES, ACCUMULATORS, trials, best, checksum);
  return 0;
}
