/*===- threads.c - The runtime's thread pool ------------------------------===*
 *
 * Generated kernels hand their big loops to sora_parallel_for: the
 * iterations are cut into a few contiguous ranges per thread, which the
 * calling thread and persistent workers claim one at a time. Each iteration
 * writes its own outputs (the compiler never splits a reduction across
 * threads), so results are identical for every thread count and whichever
 * thread runs a range.
 *
 * Claiming, rather than a range fixed per thread, matters on a loaded
 * machine: a worker that the system has not scheduled yet leaves its
 * ranges to the others instead of making them wait for it.
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

void sora_parallel_sweep(sora_range_fn fn, void *ctx, int64_t count,
                         int64_t work) {
  sora_parallel_for(fn, ctx, count, work);
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
/* Ranges per thread: small enough that a thread descheduled in the middle
   of one holds up little, few enough that each range's setup (a kernel
   copied to the thread's stack) stays negligible. */
enum { kRangesPerThread = 4 };

/* The claim word: the job's number (32 bits) and the ranges not claimed
   yet, [front, back) (16 bits each), so that one compare-and-swap both
   checks the job and claims a range of it. */
static uint_fast64_t ticket_of(uint_fast64_t job, int64_t front, int64_t back) {
  return (job & 0xffffffffu) << 32 | (uint_fast64_t)front << 16 |
         (uint_fast64_t)back;
}

static struct {
  pthread_mutex_t lock;
  pthread_cond_t start;
  atomic_flag busy;            /* held by the caller whose job the pool runs */
  atomic_int_fast64_t threads; /* including the caller */
  int64_t started;             /* workers created (changed only holding busy) */
  atomic_int_fast64_t alive;   /* workers that have read the generation */
  /* The job, written before `ticket` and `generation` are. */
  sora_range_fn fn;
  void *ctx;
  int64_t count, ranges;
  atomic_uint_fast64_t ticket; /* see ticket_of */
  atomic_uint_fast64_t generation;
  atomic_int_fast64_t done; /* ranges of the job finished */
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
            0,
            0};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Claims and runs ranges of job `job` until none is left. A range is
   claimed while the job is in progress (its last range not yet done), so
   the job's fields read after the claim are that job's. Even threads (the
   caller is 0) claim from the front, odd ones from the back: with two
   threads each keeps to its own half of every loop, so that a loop over the
   rows another wrote finds its half of them in its own core's cache rather
   than the other's, while a thread held up still leaves its ranges to the
   other. */
static void run_ranges(uint_fast64_t job, int64_t thread) {
  bool from_back = thread % 2 == 1;
  for (;;) {
    uint_fast64_t t =
        atomic_load_explicit(&g_pool.ticket, memory_order_acquire);
    int64_t front = (int64_t)(t >> 16 & 0xffffu), back = (int64_t)(t & 0xffffu);
    if (t >> 32 != (job & 0xffffffffu) || front >= back)
      return;
    int64_t next = from_back ? back - 1 : front;
    uint_fast64_t claimed = from_back ? ticket_of(job, front, back - 1)
                                      : ticket_of(job, front + 1, back);
    if (!atomic_compare_exchange_weak_explicit(&g_pool.ticket, &t, claimed,
                                               memory_order_acquire,
                                               memory_order_relaxed))
      continue;
    int64_t count = g_pool.count, ranges = g_pool.ranges;
    int64_t begin = count * next / ranges, end = count * (next + 1) / ranges;
    if (begin < end)
      g_pool.fn(g_pool.ctx, begin, end);
    atomic_fetch_add_explicit(&g_pool.done, 1, memory_order_release);
  }
}

static void *worker(void *arg) {
  int64_t t = (int64_t)(intptr_t)arg;
  (void)sora_fp_flush(); /* a worker runs kernels only */
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
    /* Workers beyond the thread count keep out (read after the job's
       generation: it was written before). A late worker may find the job
       over, or a later one: run_ranges checks. */
    if (t < atomic_load(&g_pool.threads))
      run_ranges(seen, t);
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

/* Runs fn over [0, count) in per_thread ranges per thread (fewer when count
   is smaller), which the threads claim. */
static void parallel_ranges(sora_range_fn fn, void *ctx, int64_t count,
                            int64_t work, int64_t per_thread) {
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
  int64_t ranges = threads * per_thread;
  if (ranges > count)
    ranges = count;
  uint_fast64_t job = atomic_load(&g_pool.generation) + 1;
  g_pool.fn = fn;
  g_pool.ctx = ctx;
  g_pool.count = count;
  g_pool.ranges = ranges;
  atomic_store_explicit(&g_pool.done, 0, memory_order_relaxed);
  atomic_store_explicit(&g_pool.ticket, ticket_of(job, 0, ranges),
                        memory_order_release);
  atomic_store_explicit(&g_pool.generation, job, memory_order_release);
  /* Wake sleepers: they test the counter under the lock. */
  pthread_mutex_lock(&g_pool.lock);
  pthread_cond_broadcast(&g_pool.start);
  pthread_mutex_unlock(&g_pool.lock);

  run_ranges(job, 0);
  while (atomic_load_explicit(&g_pool.done, memory_order_acquire) < ranges)
    cpu_relax();
  atomic_flag_clear_explicit(&g_pool.busy, memory_order_release);
}

void sora_parallel_for(sora_range_fn fn, void *ctx, int64_t count,
                       int64_t work) {
  parallel_ranges(fn, ctx, count, work, kRangesPerThread);
}

void sora_parallel_sweep(sora_range_fn fn, void *ctx, int64_t count,
                         int64_t work) {
  parallel_ranges(fn, ctx, count, work, 1);
}
#endif /* SORA_NO_OS */
