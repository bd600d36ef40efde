/* A bare-metal program around a thumbv7em model (the binary example's
 * rings) and the OS-free runtime (SORA_NO_OS): the model lives in a static
 * block (create_in, no malloc), takes a few train steps and predicts; fit
 * fails saying why. Built by thumbv7em.sh with the board's startup code
 * (runtime/boards/mps2-an386) and run under qemu-system-arm, printing over
 * semihosting. Exit status 0 when every call behaved and training lowered
 * the loss. */
#include "model.h"

#include <math.h>
#include <stdio.h>

/* Room for the rings model and its scratch; checked at run time. */
static unsigned char memory[64 * 1024] __attribute__((aligned(64)));

int main(void) {
  if (sora_model_memory_bytes(&rings_desc) > sizeof memory)
    return 1;
  rings *m;
  if (rings_create_in(memory, sizeof memory, &m) != SORA_OK)
    return 2;
  /* Four points: two of the inner ring (label 0), two of the outer (1). */
  const float x[8] = {0.75f, 0.0f, 0.0f, -0.75f, 2.0f, 0.0f, 0.0f, -2.0f};
  const float y[4] = {0, 0, 1, 1};
  float loss = 0, first = 0, p[4];
  for (int step = 0; step < 50; ++step) {
    if (rings_train_step(m, x, y, 4, &loss) != SORA_OK)
      return 3;
    if (step == 0)
      first = loss;
  }
  printf("loss: %.4f after 1 step, %.4f after 50\n", (double)first,
         (double)loss);
  if (rings_predict(m, x, 4, p) != SORA_OK || !isfinite(p[0]) ||
      !(loss < first))
    return 4;
  printf("p(outer): %.3f %.3f %.3f %.3f\n", (double)p[0], (double)p[1],
         (double)p[2], (double)p[3]);
  /* No files here: fit is refused, with a message. */
  if (rings_fit(m, NULL, NULL) == SORA_OK || !*sora_last_error())
    return 5;
  return 0;
}
