/* mpi_overlap.c - can this machine hide a gradient allreduce behind
 * compute? Each rank does C microseconds of register-only FMA work (a
 * backward pass's stand-in) and sums N floats over the ranks, three ways:
 *   compute alone;
 *   compute, then one blocking MPI_Allreduce (what sorac's step does);
 *   the block in B bands, each band's MPI_Iallreduce started as soon as the
 *   compute before it is done and progressed by MPI_Testall between chunks
 *   of the compute after it (what overlapping with backward would do).
 * Overlap pays only where the reduction runs beside the compute (a core to
 * spare, a NIC that reduces); where the ranks' own cores do it, the bands
 * only add their start-up. bench/mpi.sh builds it with mpicc.
 * Usage: mpi_overlap N C [REPS]; rank 0 prints medians over REPS (200). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static volatile float g_sink;

/* About `us` microseconds of dependent multiply-adds, polling `req` (if
   any) every `poll_us`. */
static void compute(double us, double poll_us, MPI_Request *req, int nreq) {
  float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  double end = MPI_Wtime() + us * 1e-6, next = MPI_Wtime() + poll_us * 1e-6;
  while (MPI_Wtime() < end) {
    for (int it = 0; it < 256; ++it)
      for (int i = 0; i < 8; ++i)
        a[i] = a[i] * 0.9999999f + 1e-7f;
    if (nreq > 0 && MPI_Wtime() >= next) {
      int done;
      MPI_Testall(nreq, req, &done, MPI_STATUSES_IGNORE);
      next += poll_us * 1e-6;
    }
  }
  g_sink = a[0] + a[7];
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, by_value);
  return t[n / 2] * 1e6;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int n = argc > 1 ? atoi(argv[1]) : 50899;
  double us = argc > 2 ? atof(argv[2]) : 150.0;
  int reps = argc > 3 ? atoi(argv[3]) : 200;
  enum { kMaxBands = 16 };
  float *data = calloc((size_t)n, sizeof *data);
  double *alone = calloc((size_t)reps, sizeof(double));
  double *blocking = calloc((size_t)reps, sizeof(double));
  double *banded = calloc((size_t)reps, sizeof(double));
  if (rank == 0)
    printf("overlap: %d floats (%.1f KiB), %.0f us of compute per step\n", n,
           n * 4.0 / 1024, us);
  for (int bands = 1; bands <= kMaxBands; bands *= 4) {
    for (int r = 0; r < reps; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t = MPI_Wtime();
      compute(us, 0, NULL, 0);
      alone[r] = MPI_Wtime() - t;

      MPI_Barrier(MPI_COMM_WORLD);
      t = MPI_Wtime();
      compute(us, 0, NULL, 0);
      MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      blocking[r] = MPI_Wtime() - t;

      MPI_Barrier(MPI_COMM_WORLD);
      t = MPI_Wtime();
      MPI_Request req[kMaxBands];
      for (int b = 0; b < bands; ++b) {
        compute(us / bands, 5.0, req, b);
        int first = n / bands * b;
        int count = b == bands - 1 ? n - first : n / bands;
        MPI_Iallreduce(MPI_IN_PLACE, data + first, count, MPI_FLOAT, MPI_SUM,
                       MPI_COMM_WORLD, &req[b]);
      }
      MPI_Waitall(bands, req, MPI_STATUSES_IGNORE);
      banded[r] = MPI_Wtime() - t;
    }
    if (rank == 0)
      printf("  %2d band(s): compute %.1f us; + blocking allreduce %.1f us; "
             "overlapped %.1f us\n",
             bands, median(alone, reps), median(blocking, reps),
             median(banded, reps));
  }
  free(data);
  free(alone);
  free(blocking);
  free(banded);
  MPI_Finalize();
  return 0;
}
