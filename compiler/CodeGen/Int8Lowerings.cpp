//===- Int8Lowerings.cpp - The int8 products of an inference build --------===//
//
// --quantize=int8 turns each matmul_nt of a weight into qmatmul_nt
// (Transforms/Quantize.cpp). Its weight is quantized here, at compile time,
// per row (symmetric: w ~ row_scale * q, q in [-127, 127]) and packed for
// AVX512_VNNI's vpdpbusd, which adds to each i32 lane the four products of
// four u8 and four i8 bytes. A row of activations is quantized to u8 once
// (round(x / scale) + zero_point, clamped to [0, 255]); then every 16
// outputs take 4 of its bytes, broadcast, against 64 bytes of weights, 4
// tiles of 16 outputs in flight. Without VNNI, plain LLVM vector code makes
// the same sums. The result is (sum + offset) * scale per output, where
// offset = -zero_point * (row sum of q) takes the zero point out and
// scale = activation scale * row scale; a fused epilogue (bias, ReLU) runs
// on it in registers.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/ModelCodeGen.h"

#include <llvm/IR/IntrinsicsX86.h>

#include <cmath>
#include <set>
#include <stdexcept>

namespace sora::ir {

namespace {

using namespace llvm;

constexpr int64_t kTileRows = 16;     ///< i32 lanes of one vpdpbusd
constexpr int64_t kTilesInFlight = 4; ///< accumulators of one pass

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/// The weight of a product as the baked parameters hold it (looking
/// through a round_bf16 of `precision = bf16`).
const Node *weightOf(const Node &product) {
  const Node *w = product.operands[1];
  return w->op == OpKind::RoundBf16 ? w->operands[0] : w;
}

/// Global `name`, read-only, holding `values`.
template <typename T>
Constant *constantData(Module &mod, ArrayRef<T> values,
                       const std::string &name) {
  return readOnlyData(mod, ConstantDataArray::get(mod.getContext(), values),
                      name);
}

/// acc + the sums of four products of the u8 bytes of `a` and the i8
/// bytes of `w`, lane by lane (<16 x i32> each).
Value *dotBytes(KernelEmitter &e, Value *acc, Value *a, Value *w) {
  IRBuilder<> &b = e.b;
  if (e.vnni)
    return b.CreateIntrinsic(Intrinsic::x86_avx512_vpdpbusd_512, {},
                             {acc, a, w});
  auto *bytes = FixedVectorType::get(b.getInt8Ty(), 4 * kTileRows);
  auto *wide = FixedVectorType::get(b.getInt32Ty(), 4 * kTileRows);
  Value *products = b.CreateMul(b.CreateZExt(b.CreateBitCast(a, bytes), wide),
                                b.CreateSExt(b.CreateBitCast(w, bytes), wide));
  for (int t = 0; t < 4; ++t) {
    SmallVector<int, kTileRows> lanes;
    for (int j = 0; j < kTileRows; ++j)
      lanes.push_back(4 * j + t);
    acc = b.CreateAdd(acc, b.CreateShuffleVector(products, lanes));
  }
  return acc;
}

// Y[r, j] = sum_k A[r, k] W[j, k], in int8 (see the file's comment).
void lowerQMatMulNT(KernelEmitter &k, const Node &n) {
  if (!k.int8 || !k.int8->count(&n))
    throw std::logic_error("qmatmul_nt without its packed weight (an int8 "
                           "product needs an inference build)");
  const Int8Weights w = k.int8->at(&n);
  const Node *x = n.operands[0];
  int64_t M = n.type.dims.back(), K = x->type.dims.back();
  int64_t steps = roundUp(K, 4) / 4, fullTiles = M / kTileRows;
  float inverse = float(1 / n.attrs.scale());
  float zero = float(n.attrs.zeroPoint());
  k.parallelLoop(k.lines(&n), M * K, [&](KernelEmitter &e, Value *r) {
    IRBuilder<> &b = e.b;
    llvm::Type *i8 = b.getInt8Ty(), *i32 = b.getInt32Ty();
    auto *i32x16 = FixedVectorType::get(i32, kTileRows);
    auto *f32x16 = FixedVectorType::get(b.getFloatTy(), kTileRows);
    // The row, quantized to u8 (padded with zero_point bytes, which meet
    // zero weights).
    Value *q = e.tile(steps);
    Value *xRow = mulIdx(e, r, K);
    // Clamped to [0, 255], then rounded half up (TensorFlow Lite rounds
    // half away from zero; the same here, where nothing is negative):
    // no roundeven, which newlib's libm lacks.
    auto quantize = [&](Value *v) {
      v = b.CreateFAdd(b.CreateFMul(v, e.f32(inverse)), e.f32(zero));
      v = e.call(Intrinsic::maxnum, {v, e.f32(0)});
      v = e.call(Intrinsic::minnum, {v, e.f32(255)});
      return b.CreateFPToUI(b.CreateFAdd(v, e.f32(0.5)), i8);
    };
    e.loop(
        K,
        [&](Value *kk) {
          b.CreateStore(quantize(e.load(x, addIdx(e, xRow, kk))),
                        b.CreateInBoundsGEP(i8, q, kk));
        },
        "k");
    for (int64_t kk = K; kk < 4 * steps; ++kk)
      b.CreateStore(b.getInt8(uint8_t(zero)),
                    b.CreateInBoundsGEP(i8, q, e.i64(kk)));

    // `count` tiles of 16 outputs from tile t0, the last one `lastRows`
    // rows: sums in registers over the whole row, then scaled and stored
    // in vectors of the kernel's width.
    auto pass = [&](Value *t0, int64_t count, int64_t lastRows) {
      std::vector<Value *> tiles, init;
      for (int64_t c = 0; c < count; ++c) {
        tiles.push_back(addIdx(e, t0, e.i64(c)));
        init.push_back(b.CreateAlignedLoad(
            i32x16,
            b.CreateInBoundsGEP(i32, w.offsets,
                                mulIdx(e, tiles.back(), kTileRows)),
            Align(64)));
      }
      std::vector<Value *> sums = e.reduce(
          e.i64(0), e.i64(steps), init,
          [&](Value *s, const std::vector<Value *> &acc) {
            Value *four = b.CreateAlignedLoad(
                i32, b.CreateInBoundsGEP(i32, q, s), Align(4));
            Value *a = b.CreateVectorSplat(kTileRows, four);
            std::vector<Value *> next;
            for (int64_t c = 0; c < count; ++c) {
              Value *at = addIdx(e, mulIdx(e, tiles[c], steps), s);
              Value *wv = b.CreateAlignedLoad(
                  i32x16,
                  b.CreateInBoundsGEP(i8, w.packed,
                                      mulIdx(e, at, 4 * kTileRows)),
                  Align(64));
              next.push_back(dotBytes(e, acc[c], a, wv));
            }
            return next;
          },
          "s");
      int64_t lanes = e.vectorWidth;
      for (int64_t c = 0; c < count; ++c) {
        Value *first = mulIdx(e, tiles[c], kTileRows);
        Value *scale = b.CreateAlignedLoad(
            f32x16, b.CreateInBoundsGEP(b.getFloatTy(), w.scales, first),
            Align(64));
        Value *y = b.CreateFMul(b.CreateSIToFP(sums[c], f32x16), scale);
        int64_t rows = c + 1 == count ? lastRows : kTileRows;
        for (int64_t p = 0; p * lanes < rows; ++p) {
          SmallVector<int, kTileRows> piece;
          for (int64_t l = 0; l < lanes; ++l)
            piece.push_back(int(p * lanes + l));
          Value *col = addIdx(e, first, e.i64(p * lanes));
          e.storeResult(n, addIdx(e, mulIdx(e, r, M), col),
                        b.CreateShuffleVector(y, piece), col,
                        std::min(lanes, rows - p * lanes));
        }
      }
    };
    e.loop(
        fullTiles / kTilesInFlight,
        [&](Value *t) {
          pass(mulIdx(e, t, kTilesInFlight), kTilesInFlight, kTileRows);
        },
        "t");
    int64_t done = fullTiles / kTilesInFlight * kTilesInFlight;
    int64_t rest = roundUp(M, kTileRows) / kTileRows - done;
    if (rest > 0)
      pass(e.i64(done), rest, M - (done + rest - 1) * kTileRows);
  });
}

} // namespace

std::map<const Node *, Int8Weights>
packInt8Weights(Module &mod, const CompiledModel &cm, const Graph &g) {
  std::map<const Node *, Int8Weights> out;
  for (const auto &node : g.nodes()) {
    if (node->op != OpKind::QMatMulNT)
      continue;
    const Node *weight = weightOf(*node);
    const float *values =
        cm.bakedParams.data() + cm.layout.find(weight->name)->offset;
    int64_t M = weight->type.dims[0], K = weight->type.dims[1];
    int64_t Mp = roundUp(M, kTileRows), steps = roundUp(K, 4) / 4;
    std::vector<int8_t> packed(Mp * steps * 4, 0);
    std::vector<float> scales(Mp, 0);
    std::vector<int32_t> offsets(Mp, 0);
    for (int64_t m = 0; m < M; ++m) {
      const float *row = values + m * K;
      float largest = 0;
      for (int64_t kk = 0; kk < K; ++kk)
        largest = std::max(largest, std::fabs(row[kk]));
      double rowScale = largest > 0 ? largest / 127.0 : 1.0;
      int32_t sum = 0;
      for (int64_t kk = 0; kk < K; ++kk) {
        auto v = int8_t(
            std::clamp(std::nearbyint(row[kk] / rowScale), -127.0, 127.0));
        sum += v;
        int64_t tile = m / kTileRows, step = kk / 4;
        packed[((tile * steps + step) * kTileRows + m % kTileRows) * 4 +
               kk % 4] = v;
      }
      scales[m] = float(node->attrs.scale() * rowScale);
      offsets[m] = int32_t(-node->attrs.zeroPoint() * sum);
    }
    // Named after the product (a weight two products read, as a recurrent
    // cell's, may have two activation scales).
    std::string name = cm.symbolPrefix() + "_" + weight->name + "_i8_" +
                       std::to_string(node->id);
    auto bytes = ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>(packed.data()), packed.size());
    auto sums = ArrayRef<uint32_t>(
        reinterpret_cast<const uint32_t *>(offsets.data()), offsets.size());
    out[node.get()] = {
        constantData(mod, bytes, name),
        constantData(mod, ArrayRef<float>(scales), name + "_scales"),
        constantData(mod, sums, name + "_offsets")};
  }
  return out;
}

int64_t bakedBytes(const CompiledModel &cm) {
  int64_t total = 0;
  for (const auto &[name, values] : cm.bakedFrozen)
    total += int64_t(values.size()) * 4;
  if (cm.bakedParams.empty())
    return total;
  std::set<const Node *> asF32; // parameters some op reads in f32
  for (const auto &node : cm.predict->nodes())
    for (size_t i = 0; i < node->operands.size(); ++i) {
      const Node *param = node->operands[i];
      if (param->op != OpKind::Param)
        continue;
      if (node->op == OpKind::QMatMulNT && i == 1) {
        // Bytes, then an f32 scale and an i32 offset per (padded) row.
        int64_t rows = roundUp(param->type.dims[0], kTileRows);
        total += rows * roundUp(param->type.dims[1], 4) + rows * 8;
      } else if (asF32.insert(param).second) {
        total += param->type.elements() * 4;
      }
    }
  return total;
}

void registerInt8Lowerings(LoweringTable &t) {
  t.set(OpKind::QMatMulNT, lowerQMatMulNT);
}

} // namespace sora::ir
