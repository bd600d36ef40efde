/* Training on a microcontroller: the seed's model, its first layer trained
 * on the host and baked into flash (frozen), its last layer trained here,
 * on the device, from fresh weights, on images stored in flash (data.c,
 * from make_data.py); or any model compiled with --name mcu_finetune
 * (scratch.sora: every layer trained here, -DEPOCHS=N). It prints the
 * memory the model takes, the held-out accuracy before and after training,
 * and the trained weights (each float's bits, to compare with the same run
 * on another machine). The same program runs on the host (run.sh compares
 * the two).
 *
 * Everything the model uses is one static block (MEMORY_BYTES, create_in)
 * and the batch buffers below: no heap, no files. Exit status 0 when
 * training raised the accuracy. */
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef EPOCHS
#define EPOCHS 4
#endif
#define BATCH MCU_FINETUNE_MAX_BATCH
#define PIXELS MCU_FINETUNE_INPUT_SIZE
#define CLASSES MCU_FINETUNE_OUTPUT_SIZE

extern const int train_count, test_count;
extern const uint8_t train_images[], train_labels[], test_images[],
    test_labels[];

static unsigned char memory[MCU_FINETUNE_MEMORY_BYTES]
    __attribute__((aligned(64)));
static float x[BATCH * PIXELS], y[BATCH], p[BATCH * CLASSES];

/* Rows [first, first + n) of `images` as floats in [0, 1], their classes
 * as floats (sparse labels). */
static void batch(const uint8_t *images, const uint8_t *labels, int first,
                  int n) {
  for (int i = 0; i < n * PIXELS; ++i)
    x[i] = (float)images[first * PIXELS + i] * (1.0f / 255);
  for (int i = 0; i < n; ++i)
    y[i] = (float)labels[first + i];
}

/* The share of the held-out images whose predicted class is right. */
static float accuracy(mcu_finetune *m) {
  int right = 0;
  for (int first = 0; first < test_count; first += BATCH) {
    int n = test_count - first < BATCH ? test_count - first : BATCH;
    batch(test_images, test_labels, first, n);
    if (mcu_finetune_predict(m, x, (size_t)n, p) != SORA_OK)
      return -1;
    for (int i = 0; i < n; ++i) {
      right += sora_argmax(p + i * CLASSES, CLASSES) == (int64_t)y[i];
    }
  }
  return (float)right / (float)test_count;
}

int main(void) {
  printf("model: %d bytes of RAM (weights %d, optimizer state %d, scratch "
         "%d)",
         MCU_FINETUNE_MEMORY_BYTES, MCU_FINETUNE_PARAMS_BYTES,
         MCU_FINETUNE_OPT_STATE_BYTES, MCU_FINETUNE_SCRATCH_BYTES);
#ifdef MCU_FINETUNE_BAKED_WEIGHTS_BYTES
  printf(", %d bytes of frozen weights in flash",
         MCU_FINETUNE_BAKED_WEIGHTS_BYTES);
#endif
  printf("\n");
  mcu_finetune *m;
  if (mcu_finetune_create_in(memory, sizeof memory, &m) != SORA_OK) {
    printf("error: %s\n", sora_last_error());
    return 1;
  }
  float before = accuracy(m), loss = 0;
  printf("before: accuracy %.4f on %d held-out images\n", (double)before,
         test_count);
  for (int epoch = 1; epoch <= EPOCHS; ++epoch) {
    float sum = 0;
    int steps = 0;
    for (int first = 0; first + BATCH <= train_count; first += BATCH) {
      batch(train_images, train_labels, first, BATCH);
      if (mcu_finetune_train_step(m, x, y, BATCH, &loss) != SORA_OK) {
        printf("error: %s\n", sora_last_error());
        return 1;
      }
      sum += loss;
      ++steps;
    }
    printf("epoch %d: loss %.4f\n", epoch, (double)(sum / (float)steps));
  }
  float after = accuracy(m);
  printf("after: accuracy %.4f on %d held-out images\n", (double)after,
         test_count);
  /* The trained weights, exactly: each float's bits in hex, one a line. */
  const float *w = sora_model_params((sora_model *)m);
  for (int i = 0; i < MCU_FINETUNE_PARAMS_BYTES / 4; ++i) {
    uint32_t bits;
    memcpy(&bits, &w[i], sizeof bits);
    printf("w %08lx\n", (unsigned long)bits);
  }
  return after > before ? 0 : 2;
}
