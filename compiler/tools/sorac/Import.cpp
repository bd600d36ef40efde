//===- Import.cpp - sorac import: an ONNX model as .sora source -----------===//
//
//   sorac import FILE.onnx [-o OUT.sora]
//
// Converts the ONNX model (compiler/Onnx) and writes it as readable source,
// OUT.sora (ModelWriter), and its weights beside it, OUT.safetensors, a
// weights-only checkpoint (WeightsFile.h) that `sorac run --init`,
// `sorac eval --weights` and `sorac --inference --weights` read. Before
// anything is written, the text is checked again and the weights matched
// against the parameters it declares, so that what is written works
// together; a mismatch is a bug of the importer (exit 3), not of the file.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"
#include "Options.h"
#include "WeightsFile.h"

#include "CodeGen/ModelCodeGen.h"
#include "Onnx/OnnxImport.h"
#include "sora/dsl/ModelWriter.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>

namespace sorac {

namespace {

const Command kImport{
    "sorac import",
    ImportVis,
    ImportVis,
    "sorac import: an ONNX model as .sora source and a safetensors file of "
    "its weights",
    "sorac import FILE.onnx [-o OUT.sora]",
    "\nWrites OUT.sora (default: FILE's stem, .sora, in this directory) and\n"
    "OUT.safetensors beside it. The model has no train block: add one to\n"
    "train it further, from the imported weights:\n"
    "  sorac run OUT.sora --init OUT.safetensors\n"
    "or build it for inference with those weights:\n"
    "  sorac OUT.sora --inference --weights OUT.safetensors\n"
    "The operators it reads are listed in docs/onnx.md.\n"};

struct ImportArgs {
  std::string input, output;
};

int takeImportArg(ImportArgs &o, const llvm::opt::Arg &arg) {
  const llvm::opt::Option &option = arg.getOption();
  std::string value = arg.getNumValues() ? arg.getValue() : "";
  switch (option.getID()) {
  case OPT_INPUT:
    if (!o.input.empty())
      return usageError("more than one input file", kImport.name);
    o.input = value;
    break;
  case OPT_o:
    o.output = value;
    break;
  default:
    throw std::logic_error("sorac import takes an option it does not "
                           "handle: " +
                           option.getPrefixedName().str());
  }
  return kGoOn;
}

/// `dir/name.ext` -> `name`.
std::string stem(const std::string &path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

bool endsWith(const std::string &s, const std::string &tail) {
  return s.size() >= tail.size() &&
         s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// Renames the inputs whose names the language cannot spell (ONNX names
/// such as "input.1" or "input", a keyword): an input's name is only the
/// name of the source's binding, and no tensor of the checkpoint has it.
void renameInputs(sora::dsl::Model &model) {
  std::set<std::string> taken;
  for (const sora::dsl::Node &n : model.nodes)
    taken.insert(n.name);
  for (int in : model.inputs) {
    std::string &name = model.nodes[in].name;
    if (sora::dsl::canBind(name))
      continue;
    std::string base;
    for (char c : name)
      base += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    if (base.empty() || std::isdigit(static_cast<unsigned char>(base[0])))
      base = "x" + base;
    std::string fresh = base;
    for (int k = 1; !sora::dsl::canBind(fresh) || taken.count(fresh); ++k)
      fresh = base + "_" + std::to_string(k);
    taken.insert(fresh);
    name = fresh;
  }
}

/// `dir/name` -> `name`.
std::string baseName(const std::string &path) {
  return path.substr(path.find_last_of('/') + 1);
}

/// The first lines of OUT.sora: where it came from and what to do next,
/// with the file names as seen from its folder.
std::string headerComment(const std::string &input, const std::string &out,
                          const std::string &weights,
                          const std::string &producer) {
  std::string sora = baseName(out), st = baseName(weights);
  return fmt::format(
      "# Imported by `sorac import` from {}{}.\n"
      "# The weights are in {}, beside this file. To train it\n"
      "# further, add a train block (docs/language.md) and run:\n"
      "#   sorac run {} --init {}\n"
      "# To build it for inference with these weights:\n"
      "#   sorac {} --inference --weights {}\n\n",
      baseName(input), producer.empty() ? "" : " (" + producer + ")", st, sora,
      st, sora, st);
}

/// The weights in the order of the model's parameter block, after checking
/// that they are exactly its parameters (names and shapes), as the
/// runtime's loader will; says what differs on failure.
bool matchParameters(const sora::dsl::Model &model,
                     const sora::onnx::Weights &weights,
                     sora::onnx::Weights &ordered, std::string &error) {
  sora::ir::CompiledModel cm = sora::ir::buildModelGraphs(
      model, "", sora::ir::PipelineOptions::standard(),
      sora::ir::ModelGraphs::Predict);
  for (const sora::ir::ParamSlot &slot : cm.layout.weights) {
    const sora::onnx::NamedTensor *t = sora::onnx::find(weights, slot.name);
    if (!t) {
      error = "no weight '" + slot.name + "'";
      return false;
    }
    if (t->shape != slot.type.dims ||
        int64_t(t->data.size()) != slot.type.elements()) {
      error = "weight '" + slot.name + "' has the wrong shape or size";
      return false;
    }
    ordered.push_back(*t);
  }
  for (const sora::onnx::NamedTensor &t : weights)
    if (!cm.layout.find(t.name)) {
      error = "weight '" + t.name + "' is no parameter of the model";
      return false;
    }
  return true;
}

} // namespace

int importCommand(int argc, char **argv) {
  ImportArgs o;
  int status =
      parseCommandLine(kImport, {argv + 2, argv + argc},
                       [&](const llvm::opt::Arg &arg, llvm::StringRef) {
                         return takeImportArg(o, arg);
                       });
  if (status != kGoOn)
    return status;
  if (o.input.empty())
    return usageError("no input file", kImport.name);
  if (o.output.empty())
    o.output = stem(o.input) + ".sora";
  if (!endsWith(o.output, ".sora") || stem(o.output).empty())
    return usageError("-o names the .sora file to write: OUT.sora, not '" +
                          o.output + "'",
                      kImport.name);
  std::string weightsPath =
      o.output.substr(0, o.output.size() - 5) + ".safetensors";
  if (!outputsSpareInputs({o.output, weightsPath}, {o.input}))
    return kUsageError;

  std::optional<sora::onnx::Imported> imported =
      sora::onnx::importModel(o.input, std::cerr);
  if (!imported)
    return kInputError;

  renameInputs(imported->model);
  std::string error;
  std::string text = sora::dsl::writeModel(imported->model, error);
  if (text.empty()) {
    std::cerr << "sorac: error: " << o.input
              << ": the model cannot be written as .sora: " << error << "\n";
    return kInputError;
  }
  text =
      headerComment(o.input, o.output, weightsPath, imported->producer) + text;

  // The text must check back to the model the weights belong to.
  sora::SourceFile file(o.output, text);
  std::ostringstream diagnostics;
  std::optional<sora::dsl::Program> program;
  {
    sora::DiagnosticEngine diags(file, diagnostics);
    if (auto ast = sora::parseFile(file, diags))
      program = sora::checkProgram(*ast, diags);
  }
  sora::onnx::Weights ordered;
  if (!program || program->models.size() != 1) {
    std::cerr << "sorac: internal error: the written source of " << o.input
              << " does not check:\n"
              << diagnostics.str();
    return kInternalError;
  }
  if (!matchParameters(program->models[0], imported->weights, ordered, error)) {
    std::cerr << "sorac: internal error: the weights imported from " << o.input
              << " do not fit its model: " << error << "\n";
    return kInternalError;
  }

  std::string weights =
      safetensorsBytes(ordered, {{"format", "weights"},
                                 {"model", program->models[0].name},
                                 {"source", baseName(o.input)}});
  if (!writeAtomically(o.output, text))
    return kInputError;
  if (!writeAtomically(weightsPath, weights)) {
    std::remove(o.output.c_str());
    return kInputError;
  }
  return kOk;
}

} // namespace sorac
