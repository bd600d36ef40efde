/* An autoencoder: train model.sora (`target = image`), report the test
 * reconstruction error against predicting the mean image, and draw test
 * images beside their reconstructions.
 *
 *   autoencoder [--data DIR] [--epochs N] [--limit N] [--seed N]
 *               [--threads N] [--svg FILE]
 *
 * The options but --svg are those of every example (mnist_mlp/main.c).
 * --svg writes FILE: the first ten test images (top row) above their
 * reconstructions (bottom row), in 16 grey levels. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIDE = 28, SHOWN = 10, CELL = 3, GAP = 4, LEVELS = 16 };

static int add_seconds(const sora_epoch_report *r, void *user) {
  *(double *)user += r->seconds;
  return 0;
}

/* The mean of (a - b)^2 over n floats. */
static double mean_square(const float *a, const float *b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return sum / (double)n;
}

/* The mean image of `count` rows of `size` floats, and the mean squared
 * error of predicting it for every row: the score to beat. */
static double mean_image_mse(const float *x, int64_t count, int64_t size) {
  double *mean = calloc((size_t)size, sizeof *mean);
  if (!mean)
    return -1;
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < size; ++j)
      mean[j] += x[i * size + j] / (double)count;
  double sum = 0;
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < size; ++j)
      sum += (x[i * size + j] - mean[j]) * (x[i * size + j] - mean[j]);
  free(mean);
  return sum / (double)(count * size);
}

/* One image (values in [0, 1]) at (left, top): a path per grey level, a
 * horizontal run of equal pixels one rectangle; black is the background. */
static void draw_image(FILE *f, const float *img, int left, int top) {
  for (int level = 1; level < LEVELS; ++level) {
    int any = 0;
    for (int r = 0; r < SIDE; ++r)
      for (int c = 0; c < SIDE;) {
        float v = img[r * SIDE + c];
        int l = v <= 0 ? 0 : v >= 1 ? LEVELS - 1 : (int)(v * LEVELS);
        if (l != level) {
          ++c;
          continue;
        }
        int run = 1;
        while (c + run < SIDE) {
          float w = img[r * SIDE + c + run];
          int m = w <= 0 ? 0 : w >= 1 ? LEVELS - 1 : (int)(w * LEVELS);
          if (m != level)
            break;
          ++run;
        }
        if (!any) {
          int grey = level * 255 / (LEVELS - 1);
          fprintf(f, "<path fill=\"#%02x%02x%02x\" d=\"", grey, grey, grey);
          any = 1;
        }
        fprintf(f, "M%d %dh%dv%dh-%dz", left + c * CELL, top + r * CELL,
                run * CELL, CELL, run * CELL);
        c += run;
      }
    if (any)
      fputs("\"/>\n", f);
  }
}

static int write_svg(const char *path, const float *x, const float *y) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int w = SHOWN * (SIDE * CELL + GAP) + GAP, h = 2 * (SIDE * CELL + GAP) + GAP;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
          "\n<title>Fashion-MNIST test images (top) and their reconstructions "
          "through 32 numbers (bottom)</title>\n"
          "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
          w, h, w, h, w, h);
  for (int k = 0; k < SHOWN; ++k)
    for (int row = 0; row < 2; ++row) {
      int left = GAP + k * (SIDE * CELL + GAP);
      int top = GAP + row * (SIDE * CELL + GAP);
      fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", left,
              top, SIDE * CELL, SIDE * CELL);
      draw_image(f, (row ? y : x) + k * SIDE * SIDE, left, top);
    }
  fputs("</svg>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

static int usage(const char *prog, const char *why) {
  fprintf(stderr,
          "%s: %s\nusage: %s [--data DIR] [--epochs N] [--limit N] "
          "[--seed N] [--threads N] [--svg FILE]\n",
          prog, why, prog);
  return 2;
}

int main(int argc, char **argv) {
  const char *data_dir = NULL, *svg = NULL;
  sora_fit_options options = sora_fit_defaults();
  if (sora_fit_options_from_args(&argc, argv, &options, &data_dir) != SORA_OK)
    return usage(argv[0], sora_last_error());
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--svg") == 0 && i + 1 < argc)
      svg = argv[++i];
    else
      return usage(argv[0], "unknown argument");
  }

  autoencoder *model = NULL;
  sora_dataset test = {0};
  float *out = NULL;
  int status = 1;
  if (autoencoder_create(&model) != SORA_OK ||
      (options.seed >= 0 &&
       sora_model_init((sora_model *)model, options.seed) != SORA_OK))
    goto fail;
  double train_seconds = 0;
  options.callback = add_seconds;
  options.user = &train_seconds;
  if (autoencoder_fit(model, data_dir, &options) != SORA_OK)
    goto fail;

  // The test images, as the train block reads them (the target is the input).
  const sora_model_desc *desc = sora_model_describe((sora_model *)model);
  if (sora_dataset_load(&desc->test, data_dir, desc->source_dir, &test) !=
      SORA_OK)
    goto fail;
  int64_t n = test.count, size = test.sample_size;
  out = malloc((size_t)(n * size) * sizeof *out);
  if (!out) {
    fprintf(stderr, "error: out of memory\n");
    goto done;
  }
  if (autoencoder_predict(model, test.x, (size_t)n, out) != SORA_OK)
    goto fail;
  printf("train time: %.3f s\n", train_seconds);
  printf("test reconstruction mse: %.6f (%lld images)\n",
         mean_square(test.x, out, n * size), (long long)n);
  printf("mean image mse: %.6f\n", mean_image_mse(test.x, n, size));
  if (svg &&
      (size != SIDE * SIDE || n < SHOWN || write_svg(svg, test.x, out) != 0)) {
    fprintf(stderr, "error: cannot write '%s'\n", svg);
    goto done;
  }
  status = 0;
  goto done;
fail:
  fprintf(stderr, "error: %s\n", sora_last_error());
done:
  free(out);
  sora_dataset_free(&test);
  autoencoder_destroy(model);
  return status;
}
