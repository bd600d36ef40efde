/* mpi_allreduce.c - the time of one in-place MPI_Allreduce (MPI_SUM) of N
 * floats, as data-parallel training does once per step with the gradient
 * block (bench/mpi.sh builds it with mpicc). Usage: mpi_allreduce N [REPS]
 * Rank 0 prints the median over REPS (default 200) after 20 warm-up calls. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = argc > 1 ? atoi(argv[1]) : 50899;
  int reps = argc > 2 ? atoi(argv[2]) : 200;
  float *data = calloc((size_t)n, sizeof *data);
  double *t = calloc((size_t)reps, sizeof *t);
  for (int i = 0; i < 20; ++i)
    MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    t[i] = MPI_Wtime() - start;
  }
  qsort(t, (size_t)reps, sizeof *t, by_value);
  if (rank == 0)
    printf("allreduce of %d floats (%.1f KiB) over %d ranks: median %.1f us, "
           "min %.1f us\n",
           n, n * 4.0 / 1024, size, t[reps / 2] * 1e6, t[0] * 1e6);
  free(data);
  free(t);
  MPI_Finalize();
  return 0;
}
