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

#endif /* SORA_RT_DATASET_H */
