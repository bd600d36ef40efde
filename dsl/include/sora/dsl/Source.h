//===- Source.h - A source file and positions in it ------------*- C++ -*-===//
//
// A loaded .sora file and the mapping from byte offsets to line and column.
// Every AST node and diagnostic carries a byte range into one SourceFile.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sora {

/// A half-open byte range [begin, end) in a SourceFile.
struct SourceRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct LineCol {
  unsigned line; ///< 1-based
  unsigned col;  ///< 1-based, in bytes
};

class SourceFile {
public:
  SourceFile(std::string path, std::string text);

  const std::string &path() const { return path_; }
  const std::string &text() const { return text_; }
  /// The directory that holds the file ("." when it has none).
  std::string directory() const;

  LineCol lineCol(uint32_t offset) const;
  /// The text of the line holding `offset`, without its newline.
  std::string_view lineText(uint32_t offset) const;

private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> lineStarts_;
};

} // namespace sora
