//===- OnnxImport.h - An ONNX model as a checked sora model ----*- C++ -*-===//
//
// Reads an ONNX file (docs/onnx.md) into the same checked model the .sora
// front end produces, plus its weights under sora's names and layouts, so
// that every later stage (graph building, passes, code generation,
// checkpoints, `sorac import`'s .sora text) applies unchanged.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Onnx/Weights.h"
#include "sora/dsl/Program.h"

#include <iosfwd>
#include <optional>
#include <string>

namespace sora::onnx {

struct Imported {
  dsl::Model model;
  Weights weights;
  /// "pytorch 1.13.1, opset 14", for messages and generated comments.
  std::string producer;
};

struct ImportOptions {
  /// Graph inputs to take as constants with these values instead of as the
  /// model's inputs (the conformance runner's way to feed a node test's
  /// weights, which ONNX passes as inputs and sorac keeps as parameters).
  Weights constantInputs;
  /// The model's name (default: the file's stem, made an identifier).
  std::string name;
};

/// Reads and converts `path`. On failure prints located errors ("FILE:
/// node 'NAME' (Conv, opset 14): error: ...") to `errors` and returns
/// nullopt; never throws for a bad file.
std::optional<Imported> importModel(const std::string &path,
                                    std::ostream &errors,
                                    const ImportOptions &options = {});

/// The same for a model already read: `bytes` are the file's contents,
/// `path` names it in messages (its folder is where external data lies).
std::optional<Imported> importModelBytes(const std::string &bytes,
                                         const std::string &path,
                                         std::ostream &errors,
                                         const ImportOptions &options = {});

} // namespace sora::onnx
