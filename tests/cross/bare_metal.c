/* A bare-metal program around a thumbv7em model (the binary example's
 * rings) and the OS-free runtime (SORA_NO_OS): the model lives in a static
 * block (create_in, no malloc), takes a few train steps and predicts; fit
 * fails saying why. Built and linked by thumbv7em.sh; issue 19 runs it
 * under qemu-system-arm. Exit status 0 when every call behaved. */
#include "model.h"

#include <math.h>

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
  float loss = 0, p[4];
  for (int step = 0; step < 50; ++step)
    if (rings_train_step(m, x, y, 4, &loss) != SORA_OK)
      return 3;
  if (rings_predict(m, x, 4, p) != SORA_OK || !isfinite(p[0]))
    return 4;
  /* No files here: fit is refused, with a message. */
  if (rings_fit(m, NULL, NULL) == SORA_OK || !*sora_last_error())
    return 5;
  return 0;
}
