//===- Passes.h - Graph-IR passes and the pass manager ---------*- C++ -*-===//
#pragma once

#include "IR/Graph.h"

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace sora::ir {

#define PASS(Name, Function, Description) bool Function(Graph &g);
#include "Transforms/Passes.def"

/// `precision = bf16`: every operand of every Product op rounded to
/// bfloat16 (MixedPrecision.cpp). Part of building a graph, not a pass of
/// the optional pipeline.
void roundProductOperands(Graph &g);

/// --quantize=int8 (Quantize.cpp): the products an inference build runs in
/// int8, each matmul_nt of a weight, in graph order.
std::vector<Node *> int8Products(const Graph &g);
/// For calibration: the predict graph's "output" becomes the activations
/// the int8 products read, each flattened per sample, side by side in
/// int8Products' order; returns their widths.
std::vector<int64_t> exposeInt8Inputs(Graph &g);
/// What calibration saw of one product's activations.
struct ActivationRange {
  double min = 0, max = 0;
};
/// Makes int8Products(g)[i] a qmatmul_nt whose activation scale and zero
/// point cover ranges[i]: [0, max] as u8 (zero point 0) when nothing was
/// negative, else [-m, m] around 128.
void quantizeInt8(Graph &g, const std::vector<ActivationRange> &ranges);

struct PassInfo {
  const char *name;
  bool (*run)(Graph &);
  const char *description;
};

/// Is `n` written to scratch (not a leaf or constant, not fused away)?
bool isMaterialised(const Graph &g, const Node *n);
/// Scratch bytes of `n`'s buffer (for g.maxBatch rows, 64-byte aligned).
int64_t bufferBytes(const Graph &g, const Node *n);

/// Every pass, in default-pipeline order.
const std::vector<PassInfo> &allPasses();

/// Options of a pipeline run (the driver's --passes, --print-ir-after...,
/// --verify-each).
struct PipelineOptions {
  std::vector<std::string> passes; ///< names, in order
  bool printAfterAll = false;
  std::string printAfter; ///< a pass name, or empty
  bool verifyEach = false;
  std::ostream *printTo = nullptr;

  /// The default pipeline, printing nothing.
  static PipelineOptions standard();
};

/// The default pipeline's pass names.
std::vector<std::string> defaultPipeline();

/// Parses "a,b,c" or "none" into pass names; returns an error message for
/// an unknown name, else empty.
std::string parsePipeline(const std::string &list,
                          std::vector<std::string> &out);

/// Runs the passes over `g`. Throws std::logic_error if --verify-each finds
/// a pass that broke the graph.
void runPipeline(Graph &g, const PipelineOptions &options);

} // namespace sora::ir
