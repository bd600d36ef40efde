//===- Files.cpp - What sorac and sorac run share about files ------------===//
//
// Reading the source (a file or standard input), and the check that no
// output path names an input: `sorac m.sora -o m.sora` would otherwise
// replace the model with an object file.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace sorac {

namespace {

constexpr off_t kMaxSource = 64 << 20;

/// `path` with its symbolic links and `.`/`..` resolved; for a file that
/// does not exist (yet), its directory resolved and its name kept.
std::string resolvedPath(const std::string &path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf))
    return buf;
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (realpath(dir.c_str(), buf))
    return std::string(buf) + (buf[1] ? "/" : "") + name;
  return path;
}

} // namespace

std::string sourceName(const std::string &input) {
  return input == "-" ? "<stdin>" : input;
}

bool readFile(const std::string &path, std::string &text) {
  if (path == "-") {
    // Bounded as a file is: read one byte past the limit to tell.
    std::string data;
    char chunk[1 << 16];
    while (std::cin.read(chunk, sizeof chunk) || std::cin.gcount() > 0) {
      data.append(chunk, size_t(std::cin.gcount()));
      if (data.size() > size_t(kMaxSource)) {
        std::cerr << "sorac: error: <stdin> is larger than 64 MiB "
                     "[file-too-large]\n";
        return false;
      }
    }
    if (std::cin.bad()) {
      std::cerr << "sorac: error: cannot read <stdin> [cannot-read]\n";
      return false;
    }
    text = std::move(data);
    return true;
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::cerr << "sorac: error: cannot read '" << path
              << "': " << std::strerror(errno) << " [cannot-read]\n";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    std::cerr << "sorac: error: '" << path
              << "' is not a regular file [not-a-regular-file]\n";
    return false;
  }
  if (st.st_size > kMaxSource) {
    std::cerr << "sorac: error: '" << path
              << "' is larger than 64 MiB [file-too-large]\n";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) {
    std::cerr << "sorac: error: cannot read '" << path << "' [cannot-read]\n";
    return false;
  }
  text = ss.str();
  return true;
}

bool sameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  if (stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return resolvedPath(a) == resolvedPath(b);
}

bool outputsSpareInputs(const std::vector<std::string> &outputs,
                        const std::vector<std::string> &inputs) {
  for (const std::string &out : outputs) {
    if (out.empty() || out == "-")
      continue;
    for (const std::string &in : inputs) {
      if (in.empty() || in == "-" || !sameFile(out, in))
        continue;
      // GCC's words; the input named too where a link hides it.
      std::cerr << "sorac: error: output file '" << out
                << "' is the same as input file";
      if (in != out)
        std::cerr << " '" << in << "'";
      std::cerr << "\n";
      return false;
    }
  }
  return true;
}

bool writeAtomically(const std::string &path, const std::string &data) {
  auto fail = [&](int error) {
    std::cerr << "sorac: error: cannot write '" << path
              << "': " << std::strerror(error) << "\n";
    return false;
  };
  // Before the temporary, which would otherwise land inside a directory.
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode))
    return fail(EISDIR);
  // A device or a pipe (-o /dev/null) is written as it is: renaming over
  // it would replace it with a regular file.
  bool inPlace = exists && !S_ISREG(st.st_mode);
  std::string tmp = inPlace ? path : path + ".tmp" + std::to_string(getpid());
  std::FILE *out = std::fopen(tmp.c_str(), "wb");
  if (!out)
    return fail(errno);
  bool ok = std::fwrite(data.data(), 1, data.size(), out) == data.size();
  int error = errno;
  if (std::fclose(out) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (ok && !inPlace && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    if (!inPlace)
      std::remove(tmp.c_str());
    return fail(error);
  }
  return true;
}

std::string absoluteDirectory(const std::string &dir) {
  char buf[PATH_MAX];
  if (realpath(dir.c_str(), buf))
    return buf;
  return dir;
}

int usageError(const std::string &message, const std::string &command) {
  std::cerr << "sorac: error: " << message << "; see '" << command
            << " --help'\n";
  return kUsageError;
}

} // namespace sorac
