/*===- sora/mpi.h - Data-parallel training over MPI (libsora_rt_mpi) ------===*
 *
 * Link libsora_rt_mpi (and MPI) beside libsora_rt, call sora_mpi_init at the
 * start of main and sora_mpi_finalize at its end, and run the program with
 * `mpirun -np N`: sora_model_fit then trains data-parallel across the N
 * ranks (see sora_set_allreduce in sora/runtime.h). Only rank 0 prints;
 * a program should save checkpoints only where sora_rank() == 0.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_MPI_H
#define SORA_MPI_H

#include "sora/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Initialises MPI (unless the program already did; argc and argv may be
/// NULL) and installs MPI_Allreduce over MPI_COMM_WORLD as the runtime's
/// allreduce.
sora_status sora_mpi_init(int *argc, char ***argv);

/// Removes the allreduce and finalises MPI if sora_mpi_init initialised it.
void sora_mpi_finalize(void);

/// Ends every rank at once (after an error on one rank, which would
/// otherwise leave the others waiting in an allreduce).
void sora_mpi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif /* SORA_MPI_H */
