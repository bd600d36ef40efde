//===- Importer.h - The ONNX importer's state, for its op table -*- C++ -*-===//
//
// Values, layouts and the helpers that the op converters (OnnxOps.cpp)
// share with the graph walk (OnnxImport.cpp).
//
// Layout policy (docs/onnx.md): every value keeps ONNX's logical shape;
// in memory a value's per-sample axes may lie in another order (an image
// is NHWC inside sora, NCHW in ONNX), recorded as `perm`. Ops that do not
// care (elementwise ones) keep the order; an op that needs one (a
// convolution wants channels last, a reshape wants ONNX's order) asks for
// it, and a transpose is inserted only when the value is not in it yet.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Onnx/OnnxImport.h"

#include <onnx/onnx_pb.h>

#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sora::onnx {

/// The batch size, where a dimension or a folded shape holds it.
constexpr int64_t kBatch = INT64_MIN;

struct Value {
  enum Kind {
    Tensor, ///< computed at run time: the model node `node`
    Floats, ///< a constant (initializer, Constant node), logical order
    Ints,   ///< an integer constant: shapes, axes, indices
    Fill    ///< `fill` everywhere, of `dims` (ConstantOfShape)
  } kind = Tensor;
  /// ONNX's shape; kBatch at the batch's axis, if any.
  std::vector<int64_t> dims;
  int node = -1;
  /// Tensor: the logical axes other than the batch, in memory order.
  std::vector<int64_t> perm;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  double fill = 0;

  int batchAxis() const;
  /// The per-sample shape in memory order (what the model node holds).
  std::vector<int64_t> memoryShape() const;
  /// The logical axes other than the batch, in increasing order.
  std::vector<int64_t> logicalOrder() const;
  bool constant() const { return kind != Tensor; }
};

class Importer {
public:
  Importer(std::ostream &errors, std::string file, std::string dir)
      : errors_(errors), file_(std::move(file)), dir_(std::move(dir)) {}

  std::optional<Imported> run(const ::onnx::ModelProto &proto,
                              const ImportOptions &options);

  // --- For the converters ------------------------------------------------
  const ::onnx::NodeProto *node = nullptr;
  int opset = 0;
  Imported result;

  /// Prints "FILE: node 'NAME' (Op, opset N): error: MESSAGE"; false.
  bool fail(const std::string &message);
  /// Input `i` of the node (null when absent or empty), or a failure when
  /// `required`.
  const Value *input(int i);
  bool has(int i) const;
  /// The node's output `i` becomes `v`; whether anything reads it.
  void define(int i, Value v);
  bool used(int i) const;
  /// How many nodes (and graph outputs) read the value named `name`.
  int uses(const std::string &name) const;

  const ::onnx::AttributeProto *attr(const char *name) const;
  int64_t attrInt(const char *name, int64_t dflt) const;
  double attrFloat(const char *name, double dflt) const;
  std::vector<int64_t> attrInts(const char *name) const;
  std::string attrString(const char *name, const std::string &dflt) const;

  /// Appends a model node (its range empty: it has no source text).
  int add(dsl::Node n);
  /// A fresh layer name from `hint` (an initializer's or the node's name).
  std::string layerName(const std::string &hint);
  /// A weight of the layer, in sora's layout.
  void addWeight(const std::string &name, std::vector<int64_t> shape,
                 std::vector<float> data);

  /// A tensor value of the model node `id` (shape `dims`, memory `perm`).
  Value tensor(int id, std::vector<int64_t> dims, std::vector<int64_t> perm);
  /// `v` with its axes in memory in the order `perm` (a transpose when not
  /// so already).
  Value inOrder(const Value &v, const std::vector<int64_t> &perm);
  /// `v` with logical axis `axis` last in memory.
  Value withLast(const Value &v, int64_t axis);
  /// `v` with `dims` and memory order `perm` holding the same elements in
  /// the same memory order: a reshape where the memory shape changes.
  Value relayout(const Value &v, std::vector<int64_t> dims,
                 std::vector<int64_t> perm);
  /// `axis` of a rank-`rank` tensor, negative ones counted from the end;
  /// false (after failing) when outside.
  bool normaliseAxis(int64_t &axis, size_t rank);
  /// The value's batch is at `axis`: an op across samples sorac cannot do.
  bool acrossBatch(const Value &v, int64_t axis);
  /// When `x` is every step of a forward recurrent layer (through
  /// reshapes that nothing else reads) and step `index` of `axis` is the
  /// last one: that layer made to return its last state alone
  /// (`sequences: false`), which PyTorch's `out[:, -1]` means.
  std::optional<Value> lastStep(const Value &x, int64_t axis, int64_t index);

private:
  bool readInputs(const ::onnx::GraphProto &g, const ImportOptions &options);
  bool convertNode(const ::onnx::NodeProto &n);
  bool setOutput(const ::onnx::GraphProto &g);
  /// Every model node's shape is positive and within kMaxElements.
  bool checkSizes();
  /// Drops the model nodes the output does not need (inputs stay).
  void removeDeadNodes();

  std::ostream &errors_;
  std::string file_, dir_;
  std::map<std::string, Value> values_;
  std::map<std::string, int> uses_;
  std::set<std::string> layerNames_;
  /// The next suffix to try for each base name: a model with thousands of
  /// nodes of one name must not search the suffixes from 2 each time.
  std::map<std::string, int> nextSuffix_;
};

/// Converts `importer.node`; false after failing. Null for an operator
/// sorac does not import; `attrs` are the attributes it understands.
struct OpConverter {
  const char *op;
  bool (*convert)(Importer &importer);
  std::vector<const char *> attrs;
};
const OpConverter *findConverter(const std::string &op);
/// Every operator the importer converts (for docs/onnx.md's table).
std::vector<std::string> importedOps();

} // namespace sora::onnx
