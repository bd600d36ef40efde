/*===- source.c - A train block's data source to its loader ---------------===*/
#include "dataset.h"

#include <string.h>

sora_status sora_dataset_load(const sora_data_spec *spec, const char *data_dir,
                              const char *source_dir, sora_dataset *out) {
  return sora_dataset_load_inputs(spec, 0, NULL, data_dir, source_dir, out);
}

sora_status
sora_dataset_load_inputs(const sora_data_spec *spec, int64_t num_inputs,
                         const sora_input_desc *inputs, const char *data_dir,
                         const char *source_dir, sora_dataset *out) {
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "no dataset to load into");
  memset(out, 0, sizeof *out);
  if (!spec)
    return sora_fail(SORA_ERR_ARGUMENT, "no data source given");
  sora_status status;
  switch (spec->kind) {
  case SORA_DATA_IDX:
    // IDX images are pixels, scaled to floats: they cannot be ids.
    for (int64_t k = 0; inputs && k < num_inputs; ++k)
      if (inputs[k].integer)
        return sora_fail(SORA_ERR_ARGUMENT,
                         "idx images '%s' cannot feed integer input '%s': "
                         "give ids in a csv source",
                         spec->images ? spec->images : "<none>",
                         inputs[k].name ? inputs[k].name : "<unnamed>");
    status = sora_dataset_load_idx(spec, data_dir, source_dir, out);
    break;
  case SORA_DATA_CSV:
    status = sora_csv_load_inputs(spec, num_inputs, inputs, data_dir,
                                  source_dir, out);
    break;
  default:
    return sora_fail(SORA_ERR_ARGUMENT, "unknown data source kind %lld",
                     (long long)spec->kind);
  }
  if (status == SORA_OK && spec->target == SORA_TARGET_INPUT)
    sora_dataset_target_input(out);
  return status;
}
