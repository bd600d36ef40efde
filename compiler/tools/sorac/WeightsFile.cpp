//===- WeightsFile.cpp - Named tensors as a safetensors file --------------===//
#include "WeightsFile.h"

#include <cstdint>
#include <cstring>
#include <fmt/format.h>

namespace sorac {

namespace {

/// A JSON string: quotes, backslashes and control bytes escaped; other
/// bytes (UTF-8) as they are.
std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += {'\\', char(c)};
    else if (c < 0x20)
      out += fmt::format("\\u{:04x}", c);
    else
      out += char(c);
  }
  return out + "\"";
}

void appendLittleEndian(std::string &out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out += char((v >> (8 * i)) & 0xff);
}

} // namespace

std::string safetensorsBytes(
    const sora::onnx::Weights &weights,
    const std::vector<std::pair<std::string, std::string>> &metadata) {
  std::string header = "{";
  uint64_t offset = 0;
  for (const sora::onnx::NamedTensor &t : weights) {
    std::string shape;
    for (int64_t d : t.shape)
      shape += fmt::format("{}{}", shape.empty() ? "" : ",", d);
    uint64_t bytes = uint64_t(t.data.size()) * 4;
    header += fmt::format("{}:{{\"dtype\":\"F32\",\"shape\":[{}],"
                          "\"data_offsets\":[{},{}]}},",
                          jsonString(t.name), shape, offset, offset + bytes);
    offset += bytes;
  }
  header += "\"__metadata__\":{";
  for (size_t i = 0; i < metadata.size(); ++i)
    header +=
        fmt::format("{}{}:{}", i ? "," : "", jsonString(metadata[i].first),
                    jsonString(metadata[i].second));
  header += "}}";
  // The data starts 8-byte aligned, as the format recommends.
  while (header.size() % 8 != 0)
    header += ' ';
  std::string out;
  out.reserve(8 + header.size() + offset);
  appendLittleEndian(out, header.size(), 8);
  out += header;
  for (const sora::onnx::NamedTensor &t : weights)
    for (float f : t.data) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      appendLittleEndian(out, bits, 4);
    }
  return out;
}

} // namespace sorac
