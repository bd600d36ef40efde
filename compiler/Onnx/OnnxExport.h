//===- OnnxExport.h - A checked model and its weights to ONNX --*- C++ -*-===//
//
// `sorac model.sora --weights W --emit=onnx`: the model's forward pass (as
// an inference build computes it: dropout off, batch_norm with its running
// statistics) as a standard ONNX graph of opset 14, its weights as
// initializers. The exported model keeps sora's layout: images stay
// [batch, height, width, channels], ids int32; convolutions and pools are
// wrapped in transposes to ONNX's channels-first.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Onnx/Weights.h"
#include "sora/dsl/Program.h"

#include <string>

namespace sora::onnx {

/// The opset and IR version of the models written.
constexpr int64_t kExportOpset = 14;
constexpr int64_t kExportIrVersion = 7;

/// Serialises `model` with `weights` (sora's parameter names and layouts)
/// as an ONNX ModelProto into `bytes`. False, with `error` naming the layer,
/// for a layer ONNX cannot express here or a weight missing or of the wrong
/// size.
bool exportModel(const dsl::Model &model, const Weights &weights,
                 std::string &bytes, std::string &error);

} // namespace sora::onnx
