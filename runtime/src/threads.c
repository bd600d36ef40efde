/*===- threads.c - The runtime's thread pool ------------------------------===*
 *
 * Generated kernels hand their big loops to sora_parallel_for: the
 * iterations are cut into one contiguous range per thread, the calling
 * thread runs the first and persistent workers the others. Each iteration
 * writes its own outputs (the compiler never splits a reduction across
 * threads), so results are identical for every thread count.
 *
 * A training step hands over a few loops of tens of microseconds each, so
 * waking a sleeping thread would cost as much as the work: workers spin on
 * the job counter for a while before they sleep, and the caller spins until
 * the workers are done.
 *
 * The pool runs one job at a time. Application threads may call into
 * models concurrently (each with its own instance), so a caller first takes
 * the pool; one that finds it taken runs its loop alone on its own thread.
 * Since no thread count changes a result, neither does that.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#ifdef SORA_NO_OS
/* Bare metal (SORA_NO_OS): no threads; every loop runs on the caller, which
   gives the same results as any thread count. */
sora_status sora_set_threads(int64_t threads) {
  if (threads != 1)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_set_threads: %lld threads; this runtime was built "
                     "without threads (SORA_NO_OS): expected 1",
                     (long long)threads);
  return SORA_OK;
}

int64_t sora_threads(void) { return 1; }

void sora_parallel_for(sora_range_fn fn, void *ctx, int64_t count,
                       int64_t work) {
  (void)work;
  if (count > 0)
    fn(ctx, 0, count);
}
#else

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { kMaxThreads = 64 };

/* Below this much work (about multiply-adds) a loop runs inline. */
static const int64_t kMinWork = 1 << 17;
/* Spins before a worker sleeps: about a millisecond. */
static const int kSpins = 200000;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t start;
  atomic_flag busy;        /* held by the caller whose job the pool runs */
  atomic_int_fast64_t threads; /* including the caller */
  int64_t started;         /* workers created (changed only holding busy) */
  atomic_int_fast64_t alive; /* workers that have read the generation */
  /* The job, written before `generation` is bumped. */
  sora_range_fn fn;
  void *ctx;
  int64_t count;
  int64_t job_threads;
  atomic_uint_fast64_t generation;
  atomic_int_fast64_t pending; /* workers yet to finish the job */
} g_pool = {PTHREAD_MUTEX_INITIALIZER,
            PTHREAD_COND_INITIALIZER,
            ATOMIC_FLAG_INIT,
            1,
            0,
            0,
            NULL,
            NULL,
            0,
            0,
            0,
            0};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* The part of [0, count) that thread `t` of `threads` runs. */
static void chunk(int64_t count, int64_t threads, int64_t t, int64_t *begin,
                  int64_t *end) {
  *begin = count * t / threads;
  *end = count * (t + 1) / threads;
}

static void *worker(void *arg) {
  int64_t t = (int64_t)(intptr_t)arg;
  uint_fast64_t seen = atomic_load(&g_pool.generation);
  atomic_fetch_add(&g_pool.alive, 1);
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&g_pool.generation, memory_order_acquire) ==
           seen) {
      if (++spins < kSpins) {
        cpu_relax();
        continue;
      }
      pthread_mutex_lock(&g_pool.lock);
      while (atomic_load(&g_pool.generation) == seen)
        pthread_cond_wait(&g_pool.start, &g_pool.lock);
      pthread_mutex_unlock(&g_pool.lock);
    }
    seen = atomic_load_explicit(&g_pool.generation, memory_order_acquire);
    if (t < g_pool.job_threads) {
      int64_t begin, end;
      chunk(g_pool.count, g_pool.job_threads, t, &begin, &end);
      if (begin < end)
        g_pool.fn(g_pool.ctx, begin, end);
    }
    atomic_fetch_sub_explicit(&g_pool.pending, 1, memory_order_release);
  }
  return NULL;
}

sora_status sora_set_threads(int64_t threads) {
  if (threads < 1 || threads > kMaxThreads)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_set_threads: %lld threads; expected 1 to %d",
                     (long long)threads, kMaxThreads);
  /* A worker started during a job would miss it while the caller waits for
     it: start workers only while no job runs. */
  while (atomic_flag_test_and_set_explicit(&g_pool.busy, memory_order_acquire))
    sched_yield();
  sora_status status = SORA_OK;
  pthread_mutex_lock(&g_pool.lock);
  while (g_pool.started < threads - 1) {
    pthread_t id;
    if (pthread_create(&id, NULL, worker,
                       (void *)(intptr_t)(g_pool.started + 1)) != 0) {
      status = sora_fail(SORA_ERR_MEMORY, "cannot start a worker thread");
      break;
    }
    pthread_detach(id);
    ++g_pool.started;
  }
  /* A new worker must read the generation before any job bumps it, or it
     would sleep through its first job while the caller waits for it. */
  while (atomic_load(&g_pool.alive) < g_pool.started)
    sched_yield();
  if (status == SORA_OK)
    atomic_store(&g_pool.threads, threads);
  pthread_mutex_unlock(&g_pool.lock);
  atomic_flag_clear_explicit(&g_pool.busy, memory_order_release);
  return status;
}

int64_t sora_threads(void) { return atomic_load(&g_pool.threads); }

void sora_parallel_for(sora_range_fn fn, void *ctx, int64_t count,
                       int64_t work) {
  int64_t threads = atomic_load_explicit(&g_pool.threads, memory_order_relaxed);
  if (threads > count)
    threads = count;
  /* Small loops, one thread, or another caller's job in the pool: inline. */
  if (threads <= 1 || work < kMinWork ||
      atomic_flag_test_and_set_explicit(&g_pool.busy, memory_order_acquire)) {
    if (count > 0)
      fn(ctx, 0, count);
    return;
  }
  g_pool.fn = fn;
  g_pool.ctx = ctx;
  g_pool.count = count;
  g_pool.job_threads = threads;
  atomic_store(&g_pool.pending, g_pool.started);
  atomic_fetch_add_explicit(&g_pool.generation, 1, memory_order_release);
  /* Wake sleepers: they test the counter under the lock. */
  pthread_mutex_lock(&g_pool.lock);
  pthread_cond_broadcast(&g_pool.start);
  pthread_mutex_unlock(&g_pool.lock);

  int64_t begin, end;
  chunk(count, threads, 0, &begin, &end);
  fn(ctx, begin, end);
  while (atomic_load_explicit(&g_pool.pending, memory_order_acquire) > 0)
    cpu_relax();
  atomic_flag_clear_explicit(&g_pool.busy, memory_order_release);
}
#endif /* SORA_NO_OS */
