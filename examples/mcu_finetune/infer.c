/* Inference on a microcontroller: an inference build compiled with --name
 * mcu_finetune (run.sh: the seed's model, --quantize=int8, its weights in
 * flash as bytes) classifies the held-out images of data.c and prints each
 * class and the accuracy; run.sh compares the classes with the host's.
 * Everything the model uses is one static block (MEMORY_BYTES). */
#include "model.h"

#include <stdint.h>
#include <stdio.h>

#define BATCH 25
#define PIXELS MCU_FINETUNE_INPUT_SIZE
#define CLASSES MCU_FINETUNE_OUTPUT_SIZE

extern const int test_count;
extern const uint8_t test_images[], test_labels[];

static unsigned char memory[MCU_FINETUNE_MEMORY_BYTES]
    __attribute__((aligned(64)));
static float x[BATCH * PIXELS], p[BATCH * CLASSES];

int main(void) {
  printf("model: %d bytes of RAM, %d bytes of weights in flash\n",
         MCU_FINETUNE_MEMORY_BYTES, MCU_FINETUNE_BAKED_WEIGHTS_BYTES);
  mcu_finetune *m;
  if (mcu_finetune_create_in(memory, sizeof memory, &m) != SORA_OK) {
    printf("error: %s\n", sora_last_error());
    return 1;
  }
  int right = 0;
  for (int first = 0; first < test_count; first += BATCH) {
    int n = test_count - first < BATCH ? test_count - first : BATCH;
    for (int i = 0; i < n * PIXELS; ++i)
      x[i] = (float)test_images[first * PIXELS + i] * (1.0f / 255);
    if (mcu_finetune_predict(m, x, (size_t)n, p) != SORA_OK) {
      printf("error: %s\n", sora_last_error());
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      int best = (int)sora_argmax(p + i * CLASSES, CLASSES);
      right += best == test_labels[first + i];
      printf("c %d\n", best);
    }
  }
  printf("accuracy %.4f on %d held-out images\n", (double)right / test_count,
         test_count);
  return 0;
}
