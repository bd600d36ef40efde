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
  if (!csv && (!spec || !spec->images || !spec->labels))
    return sora_fail(SORA_ERR_ARGUMENT,
                     "an idx data source needs both images and labels");
  if (spec->onehot < 0)
    return sora_fail(SORA_ERR_ARGUMENT, "onehot width %lld is negative",
                     (long long)spec->onehot);
  if (csv && spec->label_column < 0)
    return sora_fail(SORA_ERR_ARGUMENT, "label_column %lld of '%s' is negative",
                     (long long)spec->label_column, spec->path);
  if (!isfinite(spec->scale))
    return sora_fail(SORA_ERR_ARGUMENT, "scale of '%s' is not finite",
                     csv ? spec->path : spec->images);
  return SORA_OK;
}

void sora_dataset_free(sora_dataset *d) {
  if (!d)
    return;
  sora_free(d->x);
  sora_free(d->y);
  memset(d, 0, sizeof *d);
}
