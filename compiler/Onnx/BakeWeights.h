//===- BakeWeights.h - An import's weights as a parameter block -*- C++ -*-===//
//
// An ONNX model compiles as an inference build: its initializers, in
// sora's names and layouts, become the parameter block baked into the
// code (sorac's driver and the conformance runner).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/BufferPlan.h"
#include "Onnx/Weights.h"

#include <vector>

namespace sora::onnx {

/// The parameter block of `layout` filled from `weights` by name; throws
/// std::logic_error when a parameter has no tensor of its size (every one
/// should: the importer made both).
std::vector<float> bakeWeights(const ir::ParamLayout &layout,
                               const Weights &weights);

} // namespace sora::onnx
