//===- Builtins.cpp - The table of built-in functions
//----------------------===//
#include "sora/dsl/Builtins.h"

namespace sora::dsl {

namespace {
using K = ParamKind;
using G = BuiltinGroup;

// Model operations: the tensor input comes first.
const std::vector<Builtin> &operations() {
  static const std::vector<Builtin> table = {
      {"dense",
       G::Layer,
       {{"x", K::Tensor, true},
        {"units", K::WholeNumber, true},
        {"activation", K::Activation, false},
        {"use_bias", K::Flag, false},
        {"name", K::String, false}}},
      {"conv2d",
       G::Layer,
       {{"x", K::Tensor, true},
        {"filters", K::WholeNumber, true},
        {"kernel", K::WholeNumber, true},
        {"stride", K::WholeNumber, false},
        {"padding", K::Padding, false},
        {"activation", K::Activation, false},
        {"name", K::String, false}}},
      {"relu", G::Activation, {{"x", K::Tensor, true}}},
      {"sigmoid", G::Activation, {{"x", K::Tensor, true}}},
      {"tanh", G::Activation, {{"x", K::Tensor, true}}},
      {"leaky_relu",
       G::Activation,
       {{"x", K::Tensor, true}, {"alpha", K::Number, false}}},
      {"softmax", G::Activation, {{"x", K::Tensor, true}}},
      {"linear", G::Activation, {{"x", K::Tensor, true}}},
      {"flatten", G::ShapeOrPooling, {{"x", K::Tensor, true}}},
      {"reshape",
       G::ShapeOrPooling,
       {{"x", K::Tensor, true}, {"shape", K::Dims, true}}},
      {"maxpool2d",
       G::ShapeOrPooling,
       {{"x", K::Tensor, true},
        {"size", K::WholeNumber, true},
        {"stride", K::WholeNumber, false}}},
      {"avgpool2d",
       G::ShapeOrPooling,
       {{"x", K::Tensor, true},
        {"size", K::WholeNumber, true},
        {"stride", K::WholeNumber, false}}},
      {"dropout",
       G::Regularisation,
       {{"x", K::Tensor, true}, {"rate", K::Number, true}}},
  };
  return table;
}

// Functions of train blocks.
const std::vector<Builtin> &trainFunctions() {
  static const std::vector<Builtin> table = {
      {"sgd",
       G::Optimizer,
       {{"lr", K::Rate, false},
        {"momentum", K::Number, false},
        {"nesterov", K::Flag, false}}},
      {"adam",
       G::Optimizer,
       {{"lr", K::Rate, false},
        {"beta1", K::Number, false},
        {"beta2", K::Number, false},
        {"epsilon", K::Number, false}}},
      {"rmsprop",
       G::Optimizer,
       {{"lr", K::Rate, false},
        {"rho", K::Number, false},
        {"epsilon", K::Number, false}}},
      {"exponential_decay",
       G::Schedule,
       {{"initial", K::Number, true},
        {"rate", K::Number, true},
        {"steps", K::Number, true}}},
      {"step_decay",
       G::Schedule,
       {{"initial", K::Number, true},
        {"factor", K::Number, true},
        {"every", K::WholeNumber, true}}},
      {"linear_decay",
       G::Schedule,
       {{"initial", K::Number, true},
        {"final", K::Number, true},
        {"steps", K::WholeNumber, true}}},
      {"idx",
       G::DataSource,
       {{"images", K::String, true},
        {"labels", K::String, true},
        {"scale", K::Number, false},
        {"onehot", K::WholeNumber, false}}},
      {"csv",
       G::DataSource,
       {{"path", K::String, true},
        {"label_column", K::WholeNumber, true},
        {"scale", K::Number, false},
        {"onehot", K::WholeNumber, false}}},
  };
  return table;
}
} // namespace

const Builtin *lookupBuiltin(const std::string &name) {
  for (const Builtin &b : operations())
    if (name == b.name)
      return &b;
  return nullptr;
}

const Builtin *lookupTrainFunction(const std::string &name,
                                   BuiltinGroup group) {
  for (const Builtin &b : trainFunctions())
    if (name == b.name && b.group == group)
      return &b;
  return nullptr;
}

const std::vector<std::string> &builtinNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Builtin &b : operations())
      out.push_back(b.name);
    return out;
  }();
  return names;
}

std::vector<std::string> trainFunctionNames(BuiltinGroup group) {
  std::vector<std::string> out;
  for (const Builtin &b : trainFunctions())
    if (b.group == group)
      out.push_back(b.name);
  return out;
}

} // namespace sora::dsl
