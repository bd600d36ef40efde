//===- FuzzFile.h - Helpers shared by the runtime's libFuzzer targets -----===//
//
// The runtime's readers take file paths, so each fuzz target hands them its
// input through an in-memory file (memfd_create) opened by the path
// /proc/self/fd/N: no disk I/O and no temporary files to clean up. The file
// is created once and rewritten for every input.
//
// Oracle: besides crashes and sanitizer reports, a reader that fails must
// say why (a non-empty message) and name the file it read, as the hardening
// issue asks; otherwise the target aborts, which libFuzzer reports as a
// finding.
//
//===----------------------------------------------------------------------===//
#ifndef SORA_FUZZ_FILE_H
#define SORA_FUZZ_FILE_H

#include "sora/runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sora_fuzz {

/// An in-memory file reachable by path.
class MemFile {
public:
  explicit MemFile(const char *name) {
    fd_ = memfd_create(name, 0);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile &) = delete;
  MemFile &operator=(const MemFile &) = delete;

  /// Replaces the file's contents with `size` bytes at `data`.
  void write(const uint8_t *data, size_t size) {
    if (ftruncate(fd_, 0) != 0) {
      std::perror("ftruncate");
      std::abort();
    }
    size_t done = 0;
    while (done < size) {
      ssize_t n = pwrite(fd_, data + done, size - done, (off_t)done);
      if (n <= 0) {
        std::perror("pwrite");
        std::abort();
      }
      done += (size_t)n;
    }
  }

  const char *path() const { return path_.c_str(); }

private:
  int fd_;
  std::string path_;
};

/// With SORA_FUZZ_VERBOSE set, prints what the reader said (to see what a
/// seed or a kept input does: `SORA_FUZZ_VERBOSE=1 fuzz_csv FILE...`).
inline void report(const char *what, sora_status status) {
  static const bool verbose = std::getenv("SORA_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "%s: %s\n", what,
                 status == SORA_OK ? "ok" : sora_last_error());
}

/// Aborts (a finding) unless the last error is non-empty and names one of
/// the given paths.
inline void expect_error_names(sora_status status, const char *path,
                               const char *other = nullptr) {
  const char *msg = sora_last_error();
  bool named =
      std::strstr(msg, path) || (other && std::strstr(msg, other) != nullptr);
  if (status == SORA_OK || !*msg || !named) {
    std::fprintf(stderr,
                 "finding: status %d with a message that does not name the "
                 "file '%s': \"%s\"\n",
                 (int)status, path, msg);
    std::abort();
  }
}

/// Aborts with `what` (a broken invariant of a successful load).
[[noreturn]] inline void broken(const char *what) {
  std::fprintf(stderr, "finding: %s\n", what);
  std::abort();
}

} // namespace sora_fuzz

#endif // SORA_FUZZ_FILE_H
