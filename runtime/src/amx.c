/*===- amx.c - Whether generated code may use AMX's tiles -----------------===*
 *
 * Code compiled for a CPU with AMX (Intel's Sapphire Rapids and later) runs
 * its bfloat16 convolutions on tile registers, whose 8 KiB of state Linux
 * hands out only to processes that ask for it (arch_prctl
 * ARCH_REQ_XCOMP_PERM): without it the first tile instruction kills the
 * process. The generated kernels ask here, and run their vector code where
 * the answer is no (another OS, an older kernel, a CPU without AMX).
 *===----------------------------------------------------------------------===*/
#if defined(__x86_64__) && defined(__linux__) && !defined(SORA_NO_OS)
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "sora/runtime.h"

#include <stdatomic.h>

int sora_amx_ready(void) {
#if defined(__x86_64__) && defined(__linux__) && !defined(SORA_NO_OS)
  enum { kUnknown, kReady, kRefused };
  static atomic_int state = kUnknown;
  int now = atomic_load(&state);
  if (now == kUnknown) {
    /* ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA (asm/prctl.h); asking
       twice is harmless, so threads may race here. */
    long granted = syscall(SYS_arch_prctl, 0x1023, 18);
    now = granted == 0 ? kReady : kRefused;
    atomic_store(&state, now);
  }
  return now == kReady;
#else
  return 0;
#endif
}
