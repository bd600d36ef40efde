/*===- mpi/mpi.c - libsora_rt_mpi: MPI_Allreduce as the runtime's allreduce
 *---===*
 *
 * Built only where CMake finds MPI; libsora_rt itself never needs MPI.
 *
 *===----------------------------------------------------------------------===*/
#include "sora/mpi.h"

#include "internal.h"

#include <limits.h>
#include <mpi.h>

static int g_initialised; /* MPI_Init was ours: finalise it */

/// Sums in place over MPI_COMM_WORLD, in pieces of at most INT_MAX values.
static int mpi_allreduce(void *data, int64_t count, sora_reduce_type type,
                         void *ctx) {
  (void)ctx;
  MPI_Datatype t = type == SORA_REDUCE_DOUBLE ? MPI_DOUBLE : MPI_FLOAT;
  size_t size = type == SORA_REDUCE_DOUBLE ? sizeof(double) : sizeof(float);
  char *p = data;
  while (count > 0) {
    int n = count > INT_MAX ? INT_MAX : (int)count;
    if (MPI_Allreduce(MPI_IN_PLACE, p, n, t, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
      return 1;
    p += (size_t)n * size;
    count -= n;
  }
  return 0;
}

sora_status sora_mpi_init(int *argc, char ***argv) {
  int flag = 0;
  MPI_Initialized(&flag);
  if (!flag) {
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
      return sora_fail(SORA_ERR_STATE, "MPI_Init failed");
    g_initialised = 1;
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return sora_set_allreduce(mpi_allreduce, NULL, rank, size);
}

void sora_mpi_finalize(void) {
  sora_set_allreduce(NULL, NULL, 0, 1);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_initialised && !finalized)
    MPI_Finalize();
  g_initialised = 0;
}

void sora_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
