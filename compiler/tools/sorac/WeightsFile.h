//===- WeightsFile.h - Named tensors as a safetensors file -----*- C++ -*-===//
//
// `sorac import` writes the imported weights as a weights-only checkpoint:
// the safetensors format (an 8-byte little-endian header size, a JSON
// header, then the F32 data), which the runtime's sora_model_load reads as
// it reads PyTorch's files. The metadata's "format" is not "sora", so the
// loader checks names and shapes but no model hash: the hash covers the
// optimizer state of a train block, which the imported model gets only
// later, from its user.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Onnx/Weights.h"

#include <string>
#include <utility>
#include <vector>

namespace sorac {

/// The bytes of a safetensors file of `weights`, in their order, with the
/// string pairs of `metadata` under "__metadata__".
std::string safetensorsBytes(
    const sora::onnx::Weights &weights,
    const std::vector<std::pair<std::string, std::string>> &metadata);

} // namespace sorac
