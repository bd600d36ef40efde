//===- Tensors.h - ONNX TensorProto to and from sora tensors ---*- C++ -*-===//
//
// The one place that knows how ONNX stores tensor data (typed repeated
// fields, raw little-endian bytes, or a file beside the model), for the
// importer, the exporter and the conformance runner.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Onnx/Weights.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace sora::onnx {

/// A tensor's values as floats (float, double and integer element types;
/// integers converted exactly up to 2^24). `dir` is the model's folder, for
/// `external_data`, which must name a file inside it. False, with `error`
/// set, for anything else: another element type, a size that does not match
/// the shape, a path that leaves the folder, a file too short.
bool readFloats(const ::onnx::TensorProto &t, const std::string &dir,
                NamedTensor &out, std::string &error);

/// A tensor's values as 64-bit integers (int64, int32 and other integer
/// element types): shapes, axes, indices.
bool readInts(const ::onnx::TensorProto &t, const std::string &dir,
              std::vector<int64_t> &out, std::string &error);

/// A float tensor as ONNX stores it (raw little-endian data).
::onnx::TensorProto floatTensor(const std::string &name,
                                const std::vector<int64_t> &shape,
                                const float *data);

/// The element type's name ("float", "int64", ...), for messages.
std::string elementTypeName(int dataType);

} // namespace sora::onnx
