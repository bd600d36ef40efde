/*===- no_os.c - What a runtime without an operating system refuses -------===*
 *
 * Built only with SORA_NO_OS (SORA_RT_NO_OS; docs/cross.md). Every model
 * object refers to fit, save and load, so a bare-metal program links only
 * if they exist: here they fail with a message that says why, and the rest
 * of the C API (create_in, init, predict, train_step, evaluate) works.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#ifdef SORA_NO_OS
static sora_status no_os(const char *what) {
  return sora_fail(SORA_ERR_STATE,
                   "%s needs files, which this runtime (built without an "
                   "operating system, SORA_NO_OS) does not have",
                   what);
}

sora_status sora_model_save(const sora_model *m, const char *path) {
  (void)m;
  (void)path;
  return no_os("sora_model_save");
}

sora_status sora_model_load(sora_model *m, const char *path) {
  (void)m;
  (void)path;
  return no_os("sora_model_load");
}

sora_status sora_model_fit(sora_model *m, const char *data_dir,
                           const sora_fit_options *o) {
  (void)m;
  (void)data_dir;
  (void)o;
  return no_os("sora_model_fit (its data files)");
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int sora_no_os_unused;
#endif
