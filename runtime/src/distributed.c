/*===- distributed.c - The allreduce hook of data-parallel training -------===*
 *
 * The runtime itself holds no MPI: libsora_rt_mpi (mpi.c) or any other
 * communication layer installs its allreduce here, and fit.c trains
 * data-parallel while one is installed for a world of more than one rank.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

static sora_allreduce_fn g_allreduce;
static void *g_ctx;
static int g_rank = 0, g_size = 1;

sora_status sora_set_allreduce(sora_allreduce_fn fn, void *ctx, int rank,
                               int size) {
  if (fn && (size < 1 || rank < 0 || rank >= size))
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_set_allreduce: rank %d is outside a world of %d",
                     rank, size);
  g_allreduce = fn;
  g_ctx = fn ? ctx : NULL;
  g_rank = fn ? rank : 0;
  g_size = fn ? size : 1;
  return SORA_OK;
}

int sora_rank(void) { return g_rank; }
int sora_world_size(void) { return g_size; }

sora_status sora_allreduce(void *data, int64_t count, sora_reduce_type type) {
  if (g_size <= 1 || count <= 0)
    return SORA_OK;
  if (g_allreduce(data, count, type, g_ctx) != 0)
    return sora_fail(SORA_ERR_STATE,
                     "the allreduce of %lld values across %d ranks failed",
                     (long long)count, g_size);
  return SORA_OK;
}
