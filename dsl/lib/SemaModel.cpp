//===- SemaModel.cpp - Semantic checks of a .sora file: the walk, models ===//
//
// Walks the AST once per block. A model's statements are evaluated in order:
// each expression evaluates to a constant number or to a node of the model's
// DAG, so constant arithmetic is folded as it is met and every call is bound
// against the built-in table (Builtins.cpp), with its arguments checked by
// kind and its output shape inferred. Train blocks are checked key by key,
// with docs/language.md's defaults for the keys not given.
//
// Errors do not stop the walk: a statement that fails yields an invalid
// value, which later uses accept silently, so each independent mistake is
// reported once. The diagnostic engine prints them in source order.
//
//===----------------------------------------------------------------------===//
#include "SemaImpl.h"

#include <fmt/format.h>

namespace sora {

using namespace dsl;

const char *dsl::lossName(LossKind kind) {
  static const char *names[] = {"categorical_crossentropy",
                                "sparse_categorical_crossentropy",
                                "binary_crossentropy",
                                "mse",
                                "mae",
                                "huber"};
  return names[int(kind)];
}

namespace dsl::sema {

std::optional<Program> Checker::run(const ast::File &file) {
  Program program;
  program.sourcePath = diags_.file().path();
  std::map<std::string, SourceRange> modelRanges;
  for (const ast::TopLevel &item : file.items) {
    auto *m = boost::get<ast::Model>(&item.get());
    if (!m)
      continue;
    if (auto it = modelRanges.find(m->name.name); it != modelRanges.end()) {
      diags_.report(Diag::Redefinition, m->name.range,
                    fmt::format("redefinition of model '{}'", m->name.name));
      diags_.note(it->second, "previous definition is here");
      continue;
    }
    modelRanges[m->name.name] = m->name.range;
    program.models.emplace_back();
    model_ = &program.models.back();
    checkModel(*m);
    model_ = nullptr;
  }
  for (const ast::TopLevel &item : file.items)
    if (auto *t = boost::get<ast::Train>(&item.get()))
      checkTrain(*t, program);
  if (program.models.empty() && !diags_.hadErrors()) {
    diags_.report(Diag::NoModel, {0, 0}, "the file defines no model");
    diags_.note("a model starts with: model NAME { input x : f32[...] ... }");
  }
  if (diags_.hadErrors())
    return std::nullopt;
  return program;
}

void Checker::checkModel(const ast::Model &m) {
  model_->name = m.name.name;
  model_->range = m.name.range;
  names_.clear();
  definedAt_.clear();
  hadOutput_ = false;
  unsigned errorsBefore = diags_.errorCount();
  // Every name the model defines, so that a use before the definition gets
  // its own diagnostic.
  for (const ast::Statement &s : m.body) {
    const ast::Ident &name = boost::get<ast::InputStmt>(&s.get())
                                 ? boost::get<ast::InputStmt>(s.get()).name
                                 : boost::get<ast::Binding>(s.get()).name;
    definedAt_.emplace(name.name, name.range);
  }
  for (const ast::Statement &s : m.body) {
    if (auto *in = boost::get<ast::InputStmt>(&s.get()))
      checkInput(*in);
    else
      checkBinding(boost::get<ast::Binding>(s.get()));
  }
  if (!hadOutput_) {
    diags_.report(Diag::NoOutput, m.name.range,
                  fmt::format("model '{}' has no output", m.name.name));
    diags_.note(
        "mark the result with 'output', e.g. 'output y = dense(x, 10)'");
  }
  // Unused names, only in a model without errors: a failed expression may
  // have been the one use.
  for (const auto &[name, info] : names_) {
    if (diags_.errorCount() != errorsBefore)
      break;
    if (info.used || info.node < 0 || name == outputName_)
      continue;
    if (info.isInput)
      diags_.report(Diag::UnusedInput, info.range,
                    fmt::format("input '{}' is never used", name));
    else
      diags_.report(Diag::UnusedBinding, info.range,
                    fmt::format("'{}' is bound but never used", name));
  }
}

bool Checker::checkNewName(const ast::Ident &name) {
  if (lookupBuiltin(name.name)) {
    diags_.report(Diag::ShadowsBuiltin, name.range,
                  fmt::format("'{}' is the name of a built-in operation and "
                              "cannot be rebound",
                              name.name));
    return false;
  }
  if (auto it = names_.find(name.name); it != names_.end()) {
    diags_.report(Diag::Redefinition, name.range,
                  fmt::format("redefinition of '{}'", name.name));
    diags_.note(it->second.range, "previous definition is here");
    return false;
  }
  return true;
}

void Checker::checkInput(const ast::InputStmt &s) {
  bool ok = checkNewName(s.name);
  const std::string &element = s.type.element.name;
  if (element != "f32" && element != "i32") {
    diags_.report(Diag::UnknownElementType, s.type.element.range,
                  fmt::format("unknown element type '{}'", element));
    diags_.note("an input holds numbers (f32) or ids (i32)");
    ok = false;
  }
  Node node = makeNode(Node::Input, {}, {}, s.name.range);
  node.name = s.name.name;
  node.integer = element == "i32";
  int64_t elements = 1;
  for (const ast::Number &d : s.type.dims) {
    Val v = evalNumberLiteral(d);
    if (v.kind != Val::Number) {
      ok = false;
      continue;
    }
    if (v.number != std::floor(v.number) || v.number < 1 ||
        v.number > double(kMaxElements)) {
      diags_.report(Diag::InvalidDimension, d.range,
                    fmt::format("a dimension must be a whole number from 1 "
                                "to {}",
                                kMaxElements));
      ok = false;
      continue;
    }
    node.shape.push_back(int64_t(v.number));
    elements *= node.shape.back();
    if (elements > kMaxElements) {
      diags_.report(Diag::TensorTooLarge, s.type.range,
                    fmt::format("an input of more than {} elements per sample "
                                "is too large",
                                kMaxElements));
      ok = false;
      break;
    }
  }
  if (names_.count(s.name.name))
    return;
  NameInfo info;
  info.range = s.name.range;
  info.isInput = true;
  if (ok) {
    info.node = addNode(node);
    model_->inputs.push_back(info.node);
  }
  names_[s.name.name] = info;
}

void Checker::checkBinding(const ast::Binding &b) {
  bool nameOk = checkNewName(b.name);
  bindingLayers_.clear();
  Val v = evalExpr(b.value);
  if (v.kind == Val::Number) {
    diags_.report(Diag::BindingNotTensor, b.value.range,
                  fmt::format("'{}' is bound to a number; a binding names a "
                              "tensor of the model",
                              b.name.name));
    v = {};
  }
  int node = v.kind == Val::Tensor ? v.node : -1;
  if (b.isOutput && node >= 0 &&
      !requireNumbers(node, b.value.range, "an output"))
    node = -1;
  if (b.isOutput) {
    if (hadOutput_) {
      diags_.report(Diag::DuplicateOutput, b.name.range,
                    "a model has exactly one 'output'");
      diags_.note(outputRange_, "the first output is here");
    } else {
      // Even a failed output counts, so "no output" is not reported too.
      hadOutput_ = true;
      outputRange_ = b.name.range;
      outputName_ = b.name.name;
      model_->output = node;
    }
  }
  if (!nameOk)
    return;
  NameInfo info;
  info.range = b.name.range;
  info.node = node;
  names_[b.name.name] = info;
  if (node >= 0)
    nameLayers(b.name.name, node);
}

/// Layer names (docs/language.md): a name: argument wins; the layer that is the
/// binding's last step takes the binding's name; the others are
/// <binding>_<k>, k counting the binding's weighted layers from 1.
void Checker::nameLayers(const std::string &binding, int result) {
  int k = 0;
  for (int id : bindingLayers_) {
    ++k;
    Node &layer = model_->nodes[id];
    if (layer.name.empty())
      layer.name = id == result ? binding : fmt::format("{}_{}", binding, k);
  }
  for (int id : bindingLayers_) {
    for (size_t j = 0; j < model_->nodes.size(); ++j) {
      const Node &other = model_->nodes[j];
      if (int(j) != id && other.hasWeights() &&
          other.name == model_->nodes[id].name) {
        diags_.report(Diag::DuplicateLayerName, model_->nodes[id].range,
                      fmt::format("two layers are named '{}'", other.name));
        diags_.note(other.range, "the other layer is here");
        break;
      }
    }
  }
}

int Checker::maskOf(int input) const {
  const Node &n = model_->nodes[input];
  return n.kind == Node::Recurrent && !n.sequences ? -1 : n.mask;
}

int Checker::addNode(Node node) {
  // Dropout and activations keep their input's steps, and so its mask.
  if (node.kind == Node::Dropout || node.kind == Node::Activate)
    node.mask = maskOf(node.inputs[0]);
  model_->nodes.push_back(std::move(node));
  return int(model_->nodes.size()) - 1;
}

} // namespace dsl::sema

std::optional<dsl::Program> checkProgram(const ast::File &file,
                                         DiagnosticEngine &diags) {
  return dsl::sema::Checker(diags).run(file);
}

} // namespace sora
