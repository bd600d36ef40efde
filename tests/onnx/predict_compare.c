/* A model imported from ONNX against the framework that exported it: the
 * compiled model predicts the fixture rows and every probability must be
 * within 1e-5 of the expected one, every row's class the same.
 *   predict_compare INPUT.bin EXPECTED.bin
 * INPUT.bin holds the packed sample rows as raw little-endian 4-byte slots
 * (floats, or int32 ids for an integer input: copied into the row, never
 * converted); EXPECTED.bin the float outputs, OUTPUT_SIZE per row. The
 * model is chosen at compile time: cc -DMODEL=mlp -include mlp.h, with
 * mlp.o from `sorac mlp.onnx -o mlp.o`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL
#error "compile with -DMODEL=<name> -include <name>.h"
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define MODEL_T MODEL
#define MODEL_CREATE CAT(MODEL, _create)
#define MODEL_PREDICT CAT(MODEL, _predict)
#define MODEL_DESTROY CAT(MODEL, _destroy)
#define MODEL_DESC CAT(MODEL, _desc)

static const double kTolerance = 1e-5;

/// The whole of a file of 4-byte values; *count gets their number.
static float *read_file(const char *path, size_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return NULL;
  }
  float *data = NULL;
  long bytes = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    bytes = ftell(f);
  if (bytes < 0 || bytes % 4 != 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "%s: not a file of 4-byte values\n", path);
  } else if ((data = malloc(bytes ? (size_t)bytes : 1)) &&
             fread(data, 1, (size_t)bytes, f) == (size_t)bytes) {
    *count = (size_t)bytes / 4;
  } else {
    fprintf(stderr, "%s: cannot read %ld bytes\n", path, bytes);
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s INPUT.bin EXPECTED.bin\n", argv[0]);
    return 2;
  }
  const size_t in_width = (size_t)MODEL_DESC.input_size;
  const size_t out_width = (size_t)MODEL_DESC.output_size;
  size_t in_count = 0, out_count = 0;
  float *x = read_file(argv[1], &in_count);
  float *expected = read_file(argv[2], &out_count);
  if (!x || !expected)
    return 1;
  const size_t n = out_count / out_width;
  if (n == 0 || out_count % out_width != 0 || in_count != n * in_width) {
    fprintf(stderr,
            "%s: %zu input values and %zu expected ones are not rows of "
            "%zu and %zu\n",
            STR(MODEL), in_count, out_count, in_width, out_width);
    return 1;
  }
  float *got = malloc(out_count * sizeof *got);
  MODEL_T *model = NULL;
  /* Through void: the predict function takes floats or, for one integer
     input, int32_t ids; the file holds either as 4-byte slots. */
  const void *rows = x;
  if (!got || MODEL_CREATE(&model) != SORA_OK ||
      MODEL_PREDICT(model, rows, n, got) != SORA_OK) {
    fprintf(stderr, "%s: %s\n", STR(MODEL), sora_last_error());
    return 1;
  }
  double worst = 0;
  size_t worst_at = 0, same_class = 0;
  for (size_t i = 0; i < out_count; ++i) {
    double d = fabs((double)got[i] - expected[i]);
    if (isnan(d) || d > worst) {
      worst = d;
      worst_at = i;
      if (isnan(d)) /* a NaN is the worst of all */
        break;
    }
  }
  for (size_t i = 0; i < n; ++i)
    same_class += sora_argmax(got + i * out_width, (int64_t)out_width) ==
                  sora_argmax(expected + i * out_width, (int64_t)out_width);
  printf("%s: %zu rows of %zu; same class for %zu; largest difference %.3g "
         "(row %zu, column %zu: %.9g, expected %.9g)\n",
         STR(MODEL), n, out_width, same_class, worst, worst_at / out_width,
         worst_at % out_width, got[worst_at], expected[worst_at]);
  int ok = worst <= kTolerance /* false for a NaN */ && same_class == n;
  if (!ok)
    fprintf(stderr, "%s: FAIL: %s\n", STR(MODEL),
            worst <= kTolerance ? "a class differs"
                                : "a difference above 1e-5");
  MODEL_DESTROY(model);
  free(got);
  free(x);
  free(expected);
  return ok ? 0 : 1;
}
