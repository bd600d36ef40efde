//===- Weights.h - Named tensors between ONNX and sorac --------*- C++ -*-===//
//
// The weights an import produces and an export consumes, under sora's
// parameter names ("<layer>.weight", "<layer>.bias", ...) and in sora's
// layouts (a dense weight [units, inputs] as torch.nn.Linear's, a conv2d
// kernel [filters, kh, kw, channels]).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sora::onnx {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
using Weights = std::vector<NamedTensor>;

/// The tensor named `name`, or null.
inline const NamedTensor *find(const Weights &w, const std::string &name) {
  for (const NamedTensor &t : w)
    if (t.name == name)
      return &t;
  return nullptr;
}

} // namespace sora::onnx
