/*===- args.c - Training options from a program's command line ------------===*
 *
 * The options every example program takes, parsed once: --data DIR,
 * --epochs N, --limit N, --seed N, --threads N and --validation-split F,
 * each also as --name=value. What a program takes besides them stays in
 * argv for it.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/// Options that take a value.
typedef enum {
  OPT_DATA,
  OPT_EPOCHS,
  OPT_LIMIT,
  OPT_SEED,
  OPT_THREADS,
  OPT_VALIDATION_SPLIT,
  NUM_OPTS
} option_kind;

static const char *const option_names[NUM_OPTS] = {
    "--data", "--epochs",  "--limit",
    "--seed", "--threads", "--validation-split"};

/// The option `arg` names, its value inline after '=' in `*inline_value`
/// (else NULL); NUM_OPTS if it is none of them.
static option_kind find_option(const char *arg, const char **inline_value) {
  *inline_value = NULL;
  for (int k = 0; k < NUM_OPTS; ++k) {
    size_t len = strlen(option_names[k]);
    if (strncmp(arg, option_names[k], len) != 0)
      continue;
    if (arg[len] == '=')
      *inline_value = arg + len + 1;
    if (arg[len] == '\0' || arg[len] == '=')
      return (option_kind)k;
  }
  return NUM_OPTS;
}

/// `text` as a whole number of at least `min`.
static sora_status parse_integer(const char *name, const char *text,
                                 int64_t min, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || v < min)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "%s takes a whole number of at least %lld, not '%s'", name,
                     (long long)min, text);
  *out = v;
  return SORA_OK;
}

/// Applies option `k` with the text `value`.
static sora_status apply(option_kind k, const char *value, sora_fit_options *o,
                         const char **data_dir) {
  const char *name = option_names[k];
  int64_t threads = 0;
  sora_status status;
  switch (k) {
  case OPT_DATA:
    *data_dir = value;
    return SORA_OK;
  case OPT_EPOCHS:
    return parse_integer(name, value, 0, &o->epochs);
  case OPT_LIMIT:
    return parse_integer(name, value, 0, &o->limit);
  case OPT_SEED: // a negative seed is the train block's
    return parse_integer(name, value, INT64_MIN, &o->seed);
  case OPT_THREADS:
    status = parse_integer(name, value, 1, &threads);
    return status == SORA_OK ? sora_set_threads(threads) : status;
  case OPT_VALIDATION_SPLIT: {
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || !(v >= 0.0 && v < 1.0))
      return sora_fail(SORA_ERR_ARGUMENT,
                       "%s takes a fraction in [0, 1), not '%s'", name, value);
    o->validation_split = v;
    return SORA_OK;
  }
  default:
    return sora_fail(SORA_ERR_ARGUMENT, "unknown option %d", (int)k);
  }
}

sora_status sora_fit_options_from_args(int *argc, char **argv,
                                       sora_fit_options *o,
                                       const char **data_dir) {
  if (!argc || *argc < 0 || (*argc > 0 && !argv) || !o)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_fit_options_from_args: argc, argv or o is NULL");
  int kept = *argc > 0 ? 1 : 0; // argv[0], the program, stays
  for (int i = kept; i < *argc; ++i) {
    const char *value;
    option_kind k = find_option(argv[i], &value);
    if (k == NUM_OPTS || (k == OPT_DATA && !data_dir)) {
      argv[kept++] = argv[i];
      continue;
    }
    if (!value) {
      if (i + 1 >= *argc)
        return sora_fail(SORA_ERR_ARGUMENT, "%s needs a value",
                         option_names[k]);
      value = argv[++i];
    }
    sora_status status = apply(k, value, o, data_dir);
    if (status != SORA_OK)
      return status;
  }
  *argc = kept;
  if (argv)
    argv[kept] = NULL; // as C's argv ends
  return SORA_OK;
}
