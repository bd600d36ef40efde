//===- Source.cpp - Offsets to lines and columns --------------------------===//
#include "sora/dsl/Source.h"

#include <algorithm>

namespace sora {

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {
  lineStarts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n')
      lineStarts_.push_back(i + 1);
}

std::string SourceFile::directory() const {
  auto slash = path_.rfind('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path_.substr(0, slash);
}

LineCol SourceFile::lineCol(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, text_.size());
  auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
  unsigned line = it - lineStarts_.begin();
  return {line, offset - lineStarts_[line - 1] + 1};
}

std::string_view SourceFile::lineText(uint32_t offset) const {
  LineCol lc = lineCol(offset);
  uint32_t start = lineStarts_[lc.line - 1];
  uint32_t end = start;
  while (end < text_.size() && text_[end] != '\n' && text_[end] != '\r')
    ++end;
  return std::string_view(text_).substr(start, end - start);
}

} // namespace sora
