/* sorac's own predictions for export_test.py: a model compiled with
 * `--name export_test` (CHECKPOINT loaded into it, or `-` for an inference
 * build's baked weights), n samples read from one raw file per input
 * (float32, or int32 ids), the n output rows written raw.
 *   predict CHECKPOINT N OUT IN...  */
#include "sora/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const sora_model_desc export_test_desc;

static void *readAll(const char *path, size_t bytes) {
  FILE *f = fopen(path, "rb");
  void *data = malloc(bytes ? bytes : 1);
  if (!f || !data || fread(data, 1, bytes, f) != bytes) {
    fprintf(stderr, "predict: cannot read %zu bytes from %s\n", bytes, path);
    exit(1);
  }
  fclose(f);
  return data;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s CHECKPOINT N OUT IN...\n", argv[0]);
    return 2;
  }
  const sora_model_desc *d = &export_test_desc;
  size_t n = (size_t)atol(argv[2]);
  int count = d->num_inputs ? (int)d->num_inputs : 1;
  if (argc != 4 + count) {
    fprintf(stderr, "predict: the model has %d inputs\n", count);
    return 2;
  }
  const void *inputs[16];
  for (int k = 0; k < count && k < 16; ++k) {
    size_t size =
        d->num_inputs ? (size_t)d->inputs[k].size : (size_t)d->input_size;
    inputs[k] = readAll(argv[4 + k], n * size * 4);
  }
  float *y = malloc(n * (size_t)d->output_size * sizeof *y);
  sora_model *m = NULL;
  if (sora_model_create(d, &m) != SORA_OK ||
      (strcmp(argv[1], "-") != 0 && sora_model_load(m, argv[1]) != SORA_OK) ||
      sora_model_predict_inputs(m, inputs, n, y) != SORA_OK) {
    fprintf(stderr, "predict: %s\n", sora_last_error());
    return 1;
  }
  FILE *out = fopen(argv[3], "wb");
  if (!out || fwrite(y, sizeof *y, n * (size_t)d->output_size, out) !=
                  n * (size_t)d->output_size) {
    fprintf(stderr, "predict: cannot write %s\n", argv[3]);
    return 1;
  }
  fclose(out);
  sora_model_destroy(m);
  return 0;
}
