//===- Builtins.cpp - The table of built-in operations
//---------------------===//
#include "sora/dsl/Builtins.h"

namespace sora::dsl {

namespace {
using K = ParamKind;
using G = BuiltinGroup;

const std::vector<Builtin> &table() {
  static const std::vector<Builtin> builtins = {
      // Layers: own trainable weights.
      {"dense",
       G::Layer,
       {{"x", K::Tensor, true},
        {"units", K::WholeNumber, true},
        {"activation", K::Activation, false},
        {"use_bias", K::Flag, false},
        {"name", K::String, false}},
       true},
      {"conv2d",
       G::Layer,
       {{"x", K::Tensor, true},
        {"filters", K::WholeNumber, true},
        {"kernel", K::WholeNumber, true},
        {"stride", K::WholeNumber, false},
        {"padding", K::Flag, false},
        {"activation", K::Activation, false},
        {"name", K::String, false}},
       false},
      // Activations: each takes the tensor first.
      {"relu", G::Activation, {{"x", K::Tensor, true}}, true},
      {"sigmoid", G::Activation, {{"x", K::Tensor, true}}, true},
      {"tanh", G::Activation, {{"x", K::Tensor, true}}, true},
      {"leaky_relu",
       G::Activation,
       {{"x", K::Tensor, true}, {"alpha", K::Number, false}},
       true},
      {"softmax", G::Activation, {{"x", K::Tensor, true}}, true},
      {"linear", G::Activation, {{"x", K::Tensor, true}}, true},
      // Shape and pooling.
      {"flatten", G::ShapeOrPooling, {{"x", K::Tensor, true}}, false},
      {"reshape", G::ShapeOrPooling, {{"x", K::Tensor, true}}, false},
      {"maxpool2d",
       G::ShapeOrPooling,
       {{"x", K::Tensor, true},
        {"size", K::WholeNumber, true},
        {"stride", K::WholeNumber, false}},
       false},
      {"avgpool2d",
       G::ShapeOrPooling,
       {{"x", K::Tensor, true},
        {"size", K::WholeNumber, true},
        {"stride", K::WholeNumber, false}},
       false},
      {"dropout",
       G::Regularisation,
       {{"x", K::Tensor, true}, {"rate", K::Number, true}},
       false},
  };
  return builtins;
}
} // namespace

const Builtin *lookupBuiltin(const std::string &name) {
  for (const Builtin &b : table())
    if (name == b.name)
      return &b;
  return nullptr;
}

const std::vector<std::string> &builtinNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Builtin &b : table())
      out.push_back(b.name);
    return out;
  }();
  return names;
}

} // namespace sora::dsl
