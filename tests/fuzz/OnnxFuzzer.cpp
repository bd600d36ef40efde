//===- OnnxFuzzer.cpp - libFuzzer target: the ONNX importer ---------------===//
//
// Any bytes go through the ONNX importer (protobuf parsing, opsets, every
// converter) and, when it accepts them, the graph builder. A crash, a
// sanitizer report, a hang or an exception (the graph builder throws on an
// internal error) is a finding: a bad file must get a located error.
//
//===----------------------------------------------------------------------===//
#include "IR/BuildGraph.h"
#include "Onnx/OnnxImport.h"

#include <cstdint>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::ostringstream sink;
  std::optional<sora::onnx::Imported> imported = sora::onnx::importModelBytes(
      std::string(reinterpret_cast<const char *>(data), size), "fuzz.onnx",
      sink);
  if (imported)
    sora::ir::buildPredictGraph(imported->model);
  return 0;
}
