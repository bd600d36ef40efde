//===- ExportTest.cpp - OnnxExport's layouts, names and refusals ----------===//
//
// What export_test.py cannot see from outputs alone: each initializer's
// layout (the conv kernel permuted, the recurrent gates reordered, the
// batch_norm fold), the names, and a checkpoint that does not fit.
//
//===----------------------------------------------------------------------===//
#include "Onnx/OnnxExport.h"
#include "Onnx/Tensors.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <optional>
#include <sstream>

namespace sora::onnx {
namespace {

/// The first model of `source`, checked.
dsl::Model check(const std::string &source) {
  SourceFile file("test.sora", source);
  std::ostringstream diagnostics;
  DiagnosticEngine diags(file, diagnostics);
  auto ast = parseFile(file, diags);
  std::optional<dsl::Program> program;
  if (ast)
    program = checkProgram(*ast, diags);
  if (!program || program->models.empty()) {
    ADD_FAILURE() << diagnostics.str();
    return {};
  }
  return program->models[0];
}

/// 0, 1, 2, ... as a tensor of `shape`: each value tells where it came from.
NamedTensor counting(const std::string &name, std::vector<int64_t> shape) {
  NamedTensor t{name, shape, {}};
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  for (int64_t i = 0; i < n; ++i)
    t.data.push_back(float(i));
  return t;
}

::onnx::ModelProto exported(const dsl::Model &m, const Weights &w) {
  std::string bytes, error;
  ::onnx::ModelProto proto;
  EXPECT_TRUE(exportModel(m, w, bytes, error)) << error;
  EXPECT_TRUE(proto.ParseFromString(bytes));
  return proto;
}

NamedTensor initializer(const ::onnx::ModelProto &p, const std::string &name) {
  for (const auto &t : p.graph().initializer())
    if (t.name() == name) {
      NamedTensor out;
      std::string error;
      EXPECT_TRUE(readFloats(t, ".", out, error)) << error;
      return out;
    }
  ADD_FAILURE() << "no initializer " << name;
  return {};
}

TEST(OnnxExport, DenseKeepsItsNamesAndLayout) {
  dsl::Model m = check("model m {\n input x : f32[3]\n"
                       " hidden = dense(x, 2, activation: relu)\n"
                       " output y = dense(hidden, 4)\n}\n");
  Weights w{counting("hidden.weight", {2, 3}), counting("hidden.bias", {2}),
            counting("y.weight", {4, 2}), counting("y.bias", {4})};
  ::onnx::ModelProto p = exported(m, w);
  EXPECT_EQ(p.ir_version(), 7);
  ASSERT_EQ(p.opset_import_size(), 1);
  EXPECT_EQ(p.opset_import(0).version(), 14);
  const auto &g = p.graph();
  ASSERT_EQ(g.node_size(), 3);
  EXPECT_EQ(g.node(0).name(), "hidden/Gemm");
  EXPECT_EQ(g.node(0).op_type(), "Gemm");
  EXPECT_EQ(g.node(1).output(0), "hidden");
  EXPECT_EQ(g.output(0).name(), "y");
  EXPECT_EQ(initializer(p, "hidden.weight").data, w[0].data);
  EXPECT_EQ(initializer(p, "hidden.weight").shape,
            (std::vector<int64_t>{2, 3}));
  const auto &in = g.input(0).type().tensor_type();
  EXPECT_EQ(in.shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(in.shape().dim(1).dim_value(), 3);
}

TEST(OnnxExport, ConvKernelBecomesChannelsFirst) {
  dsl::Model m = check("model m {\n input x : f32[5, 5, 2]\n"
                       " output y = conv2d(x, 3, 2, stride: 2, padding: "
                       "same)\n}\n");
  ::onnx::ModelProto p = exported(
      m, {counting("y.weight", {3, 2, 2, 2}), counting("y.bias", {3})});
  NamedTensor k = initializer(p, "y.weight");
  ASSERT_EQ(k.shape, (std::vector<int64_t>{3, 2, 2, 2})); // [F, C, kh, kw]
  // ONNX [f, c, i, j] is sora's [f, i, j, c].
  for (int f = 0; f < 3; ++f)
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j)
          EXPECT_EQ(k.data[((f * 2 + c) * 2 + i) * 2 + j],
                    float(((f * 2 + i) * 2 + j) * 2 + c));
  // same on 5 by stride 2: 3 outputs, (3 - 1) * 2 + 2 - 5 = 1 pad, after.
  std::vector<int64_t> pads;
  for (const auto &n : p.graph().node()) {
    if (n.op_type() != "Conv")
      continue;
    for (const auto &a : n.attribute()) {
      if (a.name() == "pads")
        pads.assign(a.ints().begin(), a.ints().end());
    }
  }
  EXPECT_EQ(pads, (std::vector<int64_t>{0, 0, 1, 1}));
}

TEST(OnnxExport, RecurrentGatesInOnnxOrder) {
  dsl::Model m = check("model m {\n input x : f32[4, 2]\n"
                       " a = lstm(x, 1, sequences: true)\n"
                       " output y = gru(a, 1)\n}\n");
  // One unit: row g of weight_ih is gate g (PyTorch's order).
  Weights w{counting("a.weight_ih", {4, 2}), counting("a.weight_hh", {4, 1}),
            counting("a.bias_ih", {4}),      counting("a.bias_hh", {4}),
            counting("y.weight_ih", {3, 1}), counting("y.weight_hh", {3, 1}),
            counting("y.bias_ih", {3}),      counting("y.bias_hh", {3})};
  ::onnx::ModelProto p = exported(m, w);
  // LSTM i, f, g, o -> i, o, f, c.
  EXPECT_EQ(initializer(p, "a.W").data,
            (std::vector<float>{0, 1, 6, 7, 2, 3, 4, 5}));
  EXPECT_EQ(initializer(p, "a.R").data, (std::vector<float>{0, 3, 1, 2}));
  EXPECT_EQ(initializer(p, "a.B").data,
            (std::vector<float>{0, 3, 1, 2, 0, 3, 1, 2}));
  // GRU r, z, n -> z, r, h.
  EXPECT_EQ(initializer(p, "y.W").data, (std::vector<float>{1, 0, 2}));
  EXPECT_EQ(initializer(p, "y.B").shape, (std::vector<int64_t>{1, 6}));
}

TEST(OnnxExport, BatchNormFoldsItsStatistics) {
  dsl::Model m = check("model m {\n input x : f32[2]\n"
                       " output y = batch_norm(x, epsilon: 0.25)\n}\n");
  Weights w{{"y.weight", {2}, {2, 3}},
            {"y.bias", {2}, {1, -1}},
            {"y.running_mean", {2}, {0.5, 4}},
            {"y.running_var", {2}, {0.75, 8.75}}};
  ::onnx::ModelProto p = exported(m, w);
  // scale = weight / sqrt(var + eps) = 2, 1; shift = bias - mean * scale.
  EXPECT_EQ(initializer(p, "y.scale").data, (std::vector<float>{2, 1}));
  EXPECT_EQ(initializer(p, "y.shift").data, (std::vector<float>{0, -5}));
}

/// The first NodeProto of type `op`.
const ::onnx::NodeProto *nodeOf(const ::onnx::ModelProto &p,
                                const std::string &op) {
  for (const auto &n : p.graph().node())
    if (n.op_type() == op)
      return &n;
  ADD_FAILURE() << "no " << op;
  return nullptr;
}

TEST(OnnxExport, ImportedKinds) {
  // What only an import makes: a dense over [T, K] (ONNX's MatMul), a
  // transpose, a slice and a constant operand.
  dsl::Model m;
  m.name = "imported";
  auto add = [&](dsl::Node n) {
    m.nodes.push_back(std::move(n));
    return int(m.nodes.size()) - 1;
  };
  dsl::Node x;
  x.name = "x";
  x.shape = {2, 3};
  m.inputs = {add(x)};
  dsl::Node dense;
  dense.kind = dsl::Node::Dense;
  dense.name = "d";
  dense.units = 4;
  dense.inputs = {0};
  dense.shape = {2, 4};
  int d = add(dense);
  dsl::Node t;
  t.kind = dsl::Node::Transpose;
  t.name = "t";
  t.perm = {1, 0};
  t.inputs = {d};
  t.shape = {4, 2};
  int ti = add(t);
  dsl::Node slice;
  slice.kind = dsl::Node::Slice;
  slice.name = "s";
  slice.slice = {1, 1};
  slice.inputs = {ti};
  slice.shape = {4, 1};
  int si = add(slice);
  dsl::Node c;
  c.kind = dsl::Node::Constant;
  c.name = "c";
  c.shape = {4, 1};
  int ci = add(c);
  dsl::Node sum;
  sum.kind = dsl::Node::Binary;
  sum.name = "y";
  sum.inputs = {si, ci};
  sum.shape = {4, 1};
  m.output = add(sum);
  ::onnx::ModelProto p =
      exported(m, {counting("d.weight", {4, 3}), counting("d.bias", {4}),
                   counting("c.value", {4, 1})});
  // MatMul takes the weight [inputs, units]: sora's transposed.
  NamedTensor w = initializer(p, "d.weight");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(w.data, (std::vector<float>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}));
  ASSERT_TRUE(nodeOf(p, "MatMul"));
  const ::onnx::NodeProto *tr = nodeOf(p, "Transpose");
  ASSERT_TRUE(tr);
  EXPECT_EQ(std::vector<int64_t>(tr->attribute(0).ints().begin(),
                                 tr->attribute(0).ints().end()),
            (std::vector<int64_t>{0, 2, 1}));
  ASSERT_TRUE(nodeOf(p, "Slice"));
  EXPECT_EQ(initializer(p, "c.value").shape, (std::vector<int64_t>{4, 1}));
  bool addsConstant = false;
  for (const ::onnx::NodeProto &n : p.graph().node())
    addsConstant |= n.op_type() == "Add" && n.input(1) == "c.value";
  EXPECT_TRUE(addsConstant);
}

TEST(OnnxExport, RefusesWeightsThatDoNotFit) {
  dsl::Model m = check("model m {\n input x : f32[3]\n"
                       " output y = dense(x, 2)\n}\n");
  std::string bytes, error;
  EXPECT_FALSE(exportModel(m, {counting("y.weight", {2, 3})}, bytes, error));
  EXPECT_EQ(error, "layer 'y': no weight 'y.bias' in the checkpoint");
  EXPECT_FALSE(
      exportModel(m, {counting("y.weight", {3, 2}), counting("y.bias", {2})},
                  bytes, error));
  EXPECT_EQ(error, "layer 'y': weight 'y.weight' is [3, 2], expected [2, 3]");
}

} // namespace
} // namespace sora::onnx
