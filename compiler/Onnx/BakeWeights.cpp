//===- BakeWeights.cpp - An import's weights as a parameter block ---------===//
#include "Onnx/BakeWeights.h"

#include <algorithm>
#include <stdexcept>

namespace sora::onnx {

std::vector<float> bakeWeights(const ir::ParamLayout &layout,
                               const Weights &weights) {
  std::vector<float> block(size_t(layout.weightFloats), 0.0f);
  for (const ir::ParamSlot &s : layout.weights) {
    const NamedTensor *t = find(weights, s.name);
    if (!t || int64_t(t->data.size()) != s.type.elements())
      throw std::logic_error("the import has no tensor " + s.name +
                             " of its parameter's size");
    std::copy(t->data.begin(), t->data.end(), block.begin() + s.offset);
  }
  return block;
}

} // namespace sora::onnx
