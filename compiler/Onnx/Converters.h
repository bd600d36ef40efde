//===- Converters.h - What the ONNX op converters share --------*- C++ -*-===//
//
// The helpers of the op converters (OnnxOps.cpp) and the three groups of
// the op table, each defined beside its converters: ShapeOps.cpp,
// ElementwiseOps.cpp, LayerOps.cpp.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Onnx/Importer.h"
#include "sora/dsl/Builtins.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sora::onnx {

std::vector<OpConverter> shapeConverters();
std::vector<OpConverter> elementwiseConverters();
std::vector<OpConverter> layerConverters();

/// Elements of the largest constant the importer makes (a broadcast one,
/// a ConstantOfShape): 64 MiB of floats.
constexpr int64_t kMaxConstant = int64_t(1) << 24;

/// The product of dims[from, to), saturated at INT64_MAX (a file may
/// claim any shape); the batch and other negative markers count as 1.
int64_t product(const std::vector<int64_t> &dims, size_t from = 0,
                size_t to = SIZE_MAX);
/// "[batch, 3, 4]", for messages.
std::string shapeText(const std::vector<int64_t> &dims);

/// Whether `v` holds integer ids (an input, or ids reshaped or sliced),
/// which only an embedding reads.
bool holdsIds(Importer &im, const Value &v);
/// Input `i` as a tensor computed at run time (not a constant, not ids),
/// or null after failing.
const Value *tensorInput(Importer &im, int i);
/// Input `i` as a constant of floats of `rank` dimensions (any when -1),
/// or null after failing.
const Value *floatsInput(Importer &im, int i, int rank = -1);
/// Input `i` as a constant list of integers (a shape, axes, indices).
const Value *intsInput(Importer &im, int i);

/// data transposed: [rows, cols] -> [cols, rows].
std::vector<float> transposed(const std::vector<float> &data, int64_t rows,
                              int64_t cols);
/// `data` of logical `dims` with its axes put in the order `perm`.
std::vector<float> permuted(const std::vector<float> &data,
                            const std::vector<int64_t> &dims,
                            const std::vector<int64_t> &perm);

/// A model node `n` reading `inputs`, of `like`'s memory shape.
Value sameShape(Importer &im, dsl::Node n, const Value &like,
                std::vector<int> inputs);
/// The activation `name` (Builtins.cpp's) of x.
Value activate(Importer &im, const Value &x, const std::string &name,
               std::vector<std::pair<std::string, double>> numbers = {});
/// scale x + shift.
Value affine(Importer &im, const Value &x, double scale, double shift);

/// x op c for a constant c broadcast to x as numpy does (c op x when
/// `constantFirst`): a bias, a per-channel scale or an affine.
bool constantBinary(Importer &im, const Value &x, const Value &c,
                    dsl::BinaryOp op, bool constantFirst);

/// A name for the layer whose weight is initializer `weight`: PyTorch's
/// "fc1.weight" gives "fc1".
std::string weightLayerName(Importer &im, const std::string &weight);

} // namespace sora::onnx
