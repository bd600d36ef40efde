/*===- source.c - A train block's data source to its loader ---------------===*/
#include "internal.h"

#include <string.h>

sora_status sora_dataset_load(const sora_data_spec *spec, const char *data_dir,
                              const char *source_dir, sora_dataset *out) {
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "no dataset to load into");
  memset(out, 0, sizeof *out);
  if (!spec)
    return sora_fail(SORA_ERR_ARGUMENT, "no data source given");
  switch (spec->kind) {
  case SORA_DATA_IDX:
    return sora_dataset_load_idx(spec, data_dir, source_dir, out);
  case SORA_DATA_CSV:
    return sora_dataset_load_csv(spec, data_dir, source_dir, out);
  default:
    return sora_fail(SORA_ERR_ARGUMENT, "unknown data source kind %lld",
                     (long long)spec->kind);
  }
}
