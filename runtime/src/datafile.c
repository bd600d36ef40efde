/*===- datafile.c - Finding data files ------------------------------------===*
 *
 * A relative data path is looked up in the caller's data directory, then
 * the .sora file's directory, then the system's data set directory.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/// The last place sora_find_data_file looks.
static const char *const system_data_dir = "/usr/share/datasets";

/// True if `path` names something that exists and is not a directory.
static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/// Writes `dir/path` into `out`; false if it does not fit. An empty `dir`
/// is the current directory.
static bool join_path(const char *dir, const char *path, char *out,
                      size_t out_size) {
  size_t len = strlen(dir);
  const char *sep = (len == 0 || dir[len - 1] == '/') ? "" : "/";
  int n = snprintf(out, out_size, "%s%s%s", len == 0 ? "." : dir,
                   len == 0 ? "/" : sep, path);
  return n >= 0 && (size_t)n < out_size;
}

sora_status sora_find_data_file(const char *path, const char *data_dir,
                                const char *source_dir, char *out,
                                size_t out_size) {
  if (!path || !*path)
    return sora_fail(SORA_ERR_ARGUMENT, "no data file path given");
  if (!out || out_size == 0)
    return sora_fail(SORA_ERR_ARGUMENT, "no room for the path of '%s'", path);

  if (path[0] == '/') {
    if (!is_file(path))
      return sora_fail(SORA_ERR_IO, "data file '%s' not found", path);
    if (strlen(path) >= out_size)
      return sora_fail(SORA_ERR_ARGUMENT, "data file path '%s' is too long",
                       path);
    strcpy(out, path);
    return SORA_OK;
  }

  const char *dirs[] = {data_dir, source_dir, system_data_dir};
  char searched[768] = "";
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; ++i) {
    if (!dirs[i])
      continue;
    char candidate[SORA_PATH_MAX];
    if (!join_path(dirs[i], path, candidate, sizeof candidate))
      continue; // too long to exist
    if (is_file(candidate)) {
      if (strlen(candidate) >= out_size)
        return sora_fail(SORA_ERR_ARGUMENT, "data file path '%s' is too long",
                         candidate);
      strcpy(out, candidate);
      return SORA_OK;
    }
    size_t used = strlen(searched);
    snprintf(searched + used, sizeof searched - used, "%s%s", used ? ", " : "",
             *dirs[i] ? dirs[i] : ".");
  }
  return sora_fail(SORA_ERR_IO, "data file '%s' not found (searched in: %s)",
                   path, searched);
}
