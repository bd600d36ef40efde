//===- ModelWriter.h - A checked model back as .sora source ----*- C++ -*-===//
//
// The inverse of parsing and checking: a `model NAME { ... }` block (and its
// train block, if it has one) that checks back to an equal Model. Used by
// `sorac import` to turn an imported ONNX graph into readable source.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Program.h"

#include <string>

namespace sora::dsl {

/// The model as .sora text: its inputs, one binding per layer (named after
/// the layer, so that checking the text names every layer as before), the
/// nodes between layers as `->` steps or operators, and every argument that
/// differs from its default. Numbers are written in their shortest form
/// that reads back to the same double. Returns "" and sets `error` when a
/// node has no spelling in the language (an input whose name is not an
/// identifier, an activation not in the table, ...).
std::string writeModel(const Model &model, std::string &error);

/// Whether `name` can name a binding or an input: an identifier that is no
/// keyword, no built-in operation and no flag or choice word.
bool canBind(const std::string &name);

} // namespace sora::dsl
