//===- FrontendFuzzer.cpp - libFuzzer target: the front end ---------------===//
//
// Any bytes go through the parser, the checker and the graph builder (the
// front half of the compiler, without LLVM). A crash, a sanitizer report, a
// hang or an exception (the graph builder throws on an internal error) is a
// finding: the front end must answer every input with diagnostics.
//
//===----------------------------------------------------------------------===//
#include "Autodiff/Autodiff.h"
#include "IR/BuildGraph.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <cstdint>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sora::SourceFile file(
      "fuzz.sora", std::string(reinterpret_cast<const char *>(data), size));
  std::ostringstream sink;
  sora::DiagnosticEngine diags(file, sink);
  std::optional<sora::ast::File> ast = sora::parseFile(file, diags);
  if (!ast)
    return 0;
  std::optional<sora::dsl::Program> program = sora::checkProgram(*ast, diags);
  if (!program)
    return 0;
  for (const sora::dsl::Model &model : program->models) {
    if (model.inputs.size() != 1)
      continue;
    sora::ir::buildPredictGraph(model);
  }
  return 0;
}
