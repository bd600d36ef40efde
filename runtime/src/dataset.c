/*===- dataset.c - Data sets in memory: the loaders' start, freeing -------===*/
#include "dataset.h"

#include <math.h>
#include <string.h>

sora_status sora_loader_start(const sora_data_spec *spec,
                              enum sora_data_kind kind, sora_dataset *out) {
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "no dataset to load into");
  memset(out, 0, sizeof *out);
  bool csv = kind == SORA_DATA_CSV;
  if (csv && (!spec || !spec->path))
    return sora_fail(SORA_ERR_ARGUMENT, "a csv data source needs a path");
  if (!csv && (!spec || !spec->images ||
               (!spec->labels && spec->target != SORA_TARGET_INPUT)))
    return sora_fail(SORA_ERR_ARGUMENT,
                     "an idx data source needs both images and labels");
  if (spec->onehot < 0)
    return sora_fail(SORA_ERR_ARGUMENT, "onehot width %lld is negative",
                     (long long)spec->onehot);
  bool target_input = spec->target == SORA_TARGET_INPUT;
  if (spec->target != SORA_TARGET_LABELS && !target_input)
    return sora_fail(SORA_ERR_ARGUMENT, "unknown target kind %lld",
                     (long long)spec->target);
  if (target_input && spec->onehot)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "a source whose input is its target has no onehot");
  if (csv && !target_input && spec->label_column < 0)
    return sora_fail(SORA_ERR_ARGUMENT, "label_column %lld of '%s' is negative",
                     (long long)spec->label_column, spec->path);
  if (csv && !target_input && spec->num_label_columns < 0)
    return sora_fail(SORA_ERR_ARGUMENT, "'%s': %lld label columns", spec->path,
                     (long long)spec->num_label_columns);
  if (csv && !target_input && spec->num_label_columns > 0 &&
      !spec->label_columns)
    return sora_fail(SORA_ERR_ARGUMENT, "'%s': no label_columns array",
                     spec->path);
  if (csv && !target_input && spec->num_label_columns > 1 && spec->onehot)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "'%s': onehot needs one label column, not %lld",
                     spec->path, (long long)spec->num_label_columns);
  if (!isfinite(spec->scale))
    return sora_fail(SORA_ERR_ARGUMENT, "scale of '%s' is not finite",
                     csv ? spec->path : spec->images);
  return SORA_OK;
}

void sora_dataset_free(sora_dataset *d) {
  if (!d)
    return;
  if (d->y != d->x) // not an input that is its own target
    sora_free(d->y);
  sora_free(d->x);
  sora_free(d->x_bytes);
  memset(d, 0, sizeof *d);
}

void sora_dataset_target_input(sora_dataset *d) {
  if (d->y != d->x)
    sora_free(d->y);
  d->y = d->x; // read row by row, never written: shared, not copied
  d->label_size = d->sample_size;
}

sora_widening sora_widening_for(double scale) {
  sora_widening w = {.scale = scale, .hi = (float)scale};
  w.lo = (float)(scale - w.hi);
  // Compared as bits: -0.0 == 0.0, yet (as the byte 0 times a negative
  // scale) they differ.
  w.single = true;
  for (int v = 0; v < 256; ++v) {
    float split = fmaf((float)v, w.hi, (float)v * w.lo);
    float exact = (float)(v * scale);
    w.single &= memcmp(&split, &exact, sizeof split) == 0;
  }
  return w;
}

static inline __attribute__((always_inline)) void
widen(const sora_widening *w, const uint8_t *restrict bytes, int64_t n,
      float *restrict out) {
  if (w->single) {
    float hi = w->hi, lo = w->lo;
    for (int64_t i = 0; i < n; ++i)
      out[i] = fmaf((float)bytes[i], hi, (float)bytes[i] * lo);
  } else {
    for (int64_t i = 0; i < n; ++i)
      out[i] = (float)(bytes[i] * w->scale);
  }
}

#if defined(__x86_64__) && !defined(SORA_NO_OS)
#define SORA_WIDEN_AVX2 1
__attribute__((target("avx2,fma"))) static void
widen_avx2(const sora_widening *w, const uint8_t *bytes, int64_t n,
           float *out) {
  widen(w, bytes, n, out);
}
#endif

void sora_widen_bytes(const sora_widening *w, const uint8_t *bytes, int64_t n,
                      float *out) {
#ifdef SORA_WIDEN_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    widen_avx2(w, bytes, n, out);
    return;
  }
#endif
  widen(w, bytes, n, out);
}
