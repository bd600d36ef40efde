/*===- dataset.h - What the data set loaders share ------------------------===*/
#ifndef SORA_RT_DATASET_H
#define SORA_RT_DATASET_H

#include "internal.h"

/// The checks a loader of `kind` starts with: a data set to load into
/// (cleared here, so that it can be freed whatever happens next), a spec
/// that names the kind's files, and its onehot width, label column (CSV)
/// and scale in range.
sora_status sora_loader_start(const sora_data_spec *spec,
                              enum sora_data_kind kind, sora_dataset *out);

/// sora_dataset_load_csv for a model's inputs (sora_dataset_load_inputs).
sora_status sora_csv_load_inputs(const sora_data_spec *spec, int64_t num_inputs,
                                 const sora_input_desc *inputs,
                                 const char *data_dir, const char *source_dir,
                                 sora_dataset *out);

/// A `target` input: the features become the labels too (y shares x; the
/// loader read no labels).
void sora_dataset_target_input(sora_dataset *d);

/// How bytes become floats: out[i] = (float)(bytes[i] * scale), the
/// conversion of an IDX load, which sora_model_fit's batch gather repeats
/// from the kept bytes. In double precision that is slow to vectorise; the
/// scale split into two floats (hi + lo, one fused multiply-add) gives the
/// same floats for every byte value with all common scales (1/255: the
/// gather's 11 -> 4.5 ms an epoch), and `single` says it does for this one.
typedef struct sora_widening {
  double scale;
  float hi, lo;
  bool single;
} sora_widening;

sora_widening sora_widening_for(double scale);

/// out[i] = (float)(bytes[i] * w->scale) for i < n: the same bits in every
/// path; vectorised with AVX2 and FMA where the CPU has them (the runtime
/// itself is built for any x86-64).
void sora_widen_bytes(const sora_widening *w, const uint8_t *bytes, int64_t n,
                      float *out);

#endif /* SORA_RT_DATASET_H */
