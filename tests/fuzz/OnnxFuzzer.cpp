//===- OnnxFuzzer.cpp - libFuzzer target: the ONNX importer ---------------===//
//
// Any bytes go through the ONNX importer (protobuf parsing, opsets, every
// converter) and, when it accepts them, the graph builder and the default
// graph passes (verified). A crash, a sanitizer report, a hang or an
// exception (graph building throws on an internal error) is a finding: a
// bad file must get a located error.
//
//===----------------------------------------------------------------------===//
#include "IR/BuildGraph.h"
#include "Onnx/OnnxImport.h"
#include "Transforms/Passes.h"

#include <cstdint>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::ostringstream sink;
  std::optional<sora::onnx::Imported> imported = sora::onnx::importModelBytes(
      std::string(reinterpret_cast<const char *>(data), size), "fuzz.onnx",
      sink);
  if (!imported)
    return 0;
  std::unique_ptr<sora::ir::Graph> g =
      sora::ir::buildPredictGraph(imported->model);
  sora::ir::PipelineOptions options = sora::ir::PipelineOptions::standard();
  options.verifyEach = true;
  sora::ir::runPipeline(*g, options);
  return 0;
}
