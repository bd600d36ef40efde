//===- sorac.cpp - The sorac compiler driver ------------------------------===//
//
//   sorac FILE.sora [-o OUT.o] [--emit=KIND] [--model NAME] [-O0..-O3]
//         [--target=TRIPLE] [--mcpu=CPU]
//   sorac FILE.sora --weights W.safetensors --emit=onnx [-o OUT.onnx]
//
// Runs the pipeline (parse, check, build graphs, differentiate, lower to
// LLVM, optimise, emit) as far as --emit asks. Exit status: 0 success, 1 an
// error in the input (diagnosed), 2 a bad command line, 3 an internal error.
// Output files are written to a temporary name and renamed into place, so a
// failed run never leaves a half-written or stale-looking output behind.
// The options are declared in Options.td.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"
#include "Options.h"

#include "CodeGen/ModelCodeGen.h"
#include "CodeGen/Target.h"
#include "IR/Graph.h"
#include "IR/GraphParser.h"
#include "IR/GraphViews.h"
#include "IR/PhaseTimer.h"
#include "Onnx/BakeWeights.h"
#include "Onnx/OnnxExport.h"
#include "Onnx/OnnxImport.h"
#include "Transforms/Passes.h"
#include "sora/dsl/AST.h"
#include "sora/runtime.h"

#include <llvm/ADT/StringRef.h>
#include <llvm/IR/PassTimingInfo.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Triple.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>

using namespace sorac;

namespace {

const Command kSorac{
    "sorac",
    DefaultVis,
    DefaultVis,
    "sorac, the sora compiler: a model to an object file and its C header",
    "sorac FILE.sora [options]   (FILE.sora '-': standard input)\n"
    "       sorac run FILE.sora [run options]   (sorac run --help)\n"
    "       sorac eval FILE.sora --weights W.safetensors [--data DIR]\n"
    "       sorac import FILE.onnx [-o OUT.sora]   (sorac import --help)\n"
    "       sorac FILE.ir --passes=LIST [--emit=ir|dot|mermaid]",
    nullptr};

/// What --emit writes (Options.td lists the names for --help).
enum class Emit {
  Ast,
  IR,
  IREval,
  IRTrain,
  Dot,
  DotTrain,
  Mermaid,
  MermaidTrain,
  LLVM,
  Asm,
  Obj,
  Header,
  Onnx,
  Memory
};
/// The notation of a graph kind, and which of the model's graphs it shows.
enum class Notation { None, Text, Dot, Mermaid };
enum class Step { None, Predict, Evaluate, Train };

struct EmitKind {
  const char *name;
  Emit emit;
  Notation notation;
  Step step;
};

constexpr EmitKind kEmitKinds[] = {
    {"ast", Emit::Ast, Notation::None, Step::None},
    {"ir", Emit::IR, Notation::Text, Step::Predict},
    {"ir-eval", Emit::IREval, Notation::Text, Step::Evaluate},
    {"ir-train", Emit::IRTrain, Notation::Text, Step::Train},
    {"dot", Emit::Dot, Notation::Dot, Step::Predict},
    {"dot-train", Emit::DotTrain, Notation::Dot, Step::Train},
    {"mermaid", Emit::Mermaid, Notation::Mermaid, Step::Predict},
    {"mermaid-train", Emit::MermaidTrain, Notation::Mermaid, Step::Train},
    {"llvm", Emit::LLVM, Notation::None, Step::None},
    {"asm", Emit::Asm, Notation::None, Step::None},
    {"obj", Emit::Obj, Notation::None, Step::None},
    {"header", Emit::Header, Notation::None, Step::None},
    {"onnx", Emit::Onnx, Notation::None, Step::None},
    {"memory", Emit::Memory, Notation::None, Step::None}};

const EmitKind &kindOf(Emit emit) {
  for (const EmitKind &k : kEmitKinds)
    if (k.emit == emit)
      return k;
  throw std::logic_error("an --emit kind missing from kEmitKinds");
}

struct Options {
  std::string input;
  std::string output;
  std::string emitName = "obj"; ///< as given; checked once all are read
  Emit emit = Emit::Obj;
  std::string model;
  std::string triple;
  std::string cpu;
  int optLevel = 2;
  bool werror = false;
  std::string passes; ///< --passes as given (empty: the default pipeline)
  std::string printAfter;
  bool printAfterAll = false;
  bool verifyEach = false;
  bool stats = false;
  bool profile = false;
  bool inference = false;  ///< --inference: forward only, weights baked in
  std::string weights;     ///< --weights W.safetensors (--inference, onnx)
  std::string name;        ///< --name: the symbol prefix
  std::string quantize;    ///< --quantize: "int8", or empty
  int64_t calibrate = 0;   ///< --calibrate N (0: not given)
  bool depfile = false;    ///< -MD: write OUT.d beside the object
  std::string depfilePath; ///< -MF FILE: or there
  sora::ir::PipelineOptions pipeline;
};

int usageError(const std::string &message) {
  return sorac::usageError(message, "sorac");
}

/// Takes one argument into `o` (parseCommandLine's `each`).
int takeArg(Options &o, const llvm::opt::Arg &arg, llvm::StringRef spelled) {
  std::string value = arg.getNumValues() ? arg.getValue() : "";
  switch (arg.getOption().getID()) {
  case OPT_INPUT:
    if (!o.input.empty())
      return usageError("more than one input file ('" + o.input + "' and '" +
                        value + "')");
    o.input = value;
    break;
  case OPT_O:
    // -O0 .. -O3; the table's -O takes any suffix, so the rest is refused
    // as an option that does not exist.
    if (value.size() != 1 || value[0] < '0' || value[0] > '3')
      return usageError("unknown argument '" + spelled.str() + "'");
    o.optLevel = value[0] - '0';
    break;
  case OPT_o:
    o.output = value;
    break;
  case OPT_emit:
    o.emitName = value;
    break;
  case OPT_model:
    o.model = value;
    break;
  case OPT_target:
    o.triple = value;
    break;
  case OPT_mcpu:
    o.cpu = value;
    break;
  case OPT_passes:
    o.passes = value;
    break;
  case OPT_print_ir_after:
    o.printAfter = value;
    break;
  case OPT_MF:
    o.depfilePath = value;
    break;
  case OPT_weights:
    o.weights = value;
    break;
  case OPT_name:
    o.name = value;
    break;
  case OPT_quantize:
    o.quantize = value;
    break;
  case OPT_calibrate:
    if (!parseCount(value, o.calibrate) || o.calibrate < 1)
      return usageError("--calibrate expects a count of samples (>= 1), "
                        "not '" +
                        value + "'");
    break;
  case OPT_Werror:
    o.werror = true;
    break;
  case OPT_MD:
    o.depfile = true;
    break;
  case OPT_inference:
    o.inference = true;
    break;
  case OPT_print_ir_after_all:
    o.printAfterAll = true;
    break;
  case OPT_verify_each:
    o.verifyEach = true;
    break;
  case OPT_stats:
    o.stats = true;
    break;
  case OPT_time_passes:
    sora::PhaseTimer::enable();
    break;
  case OPT_profile:
    o.profile = true;
    break;
  default:
    throw std::logic_error("sorac takes an option it does not handle: " +
                           spelled.str());
  }
  return kGoOn;
}

/// Parses argv; returns kGoOn, else the exit status.
int parseArgs(int argc, char **argv, Options &o) {
  int status =
      parseCommandLine(kSorac, {argv + 1, argv + argc},
                       [&](const llvm::opt::Arg &arg, llvm::StringRef spelled) {
                         return takeArg(o, arg, spelled);
                       });
  if (status != kGoOn)
    return status;
  const EmitKind *kind = nullptr;
  for (const EmitKind &k : kEmitKinds)
    if (o.emitName == k.name)
      kind = &k;
  if (!kind)
    return usageError("unknown --emit kind '" + o.emitName + "'");
  o.emit = kind->emit;
  if (o.input.empty())
    return usageError("no input file");
  // An ONNX input brings its weights: --emit=onnx writes it back as sora
  // understood it.
  if (o.emit == Emit::Onnx && !llvm::StringRef(o.input).ends_with(".onnx")) {
    if (o.weights.empty())
      return usageError("--emit=onnx needs the trained weights: --weights "
                        "W.safetensors");
    if (o.inference)
      return usageError("--inference builds an object, not --emit=onnx");
  } else if (o.inference && o.weights.empty()) {
    return usageError("--inference and --weights W.safetensors go together");
  }
  if (!o.quantize.empty() && (o.quantize != "int8" || !o.inference)) {
    return usageError(o.quantize != "int8"
                          ? "unknown --quantize kind '" + o.quantize + "'"
                          : "--quantize=int8 is for --inference builds");
  } else if (o.calibrate && o.quantize.empty()) {
    return usageError("--calibrate goes with --quantize=int8");
  }
  if (!o.name.empty() &&
      (std::isdigit((unsigned char)o.name[0]) ||
       o.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
           std::string::npos))
    return usageError("--name needs a C identifier, got '" + o.name + "'");
  o.pipeline.passes = sora::ir::defaultPipeline();
  if (!o.passes.empty()) {
    std::string error = sora::ir::parsePipeline(o.passes, o.pipeline.passes);
    if (!error.empty())
      return usageError(error);
  }
  if (!o.printAfter.empty()) {
    std::vector<std::string> one;
    std::string error = sora::ir::parsePipeline(o.printAfter, one);
    if (!error.empty() || one.size() != 1)
      return usageError("--print-ir-after needs one pass name");
  }
  o.pipeline.printAfterAll = o.printAfterAll;
  o.pipeline.printAfter = o.printAfter;
  o.pipeline.verifyEach = o.verifyEach;
  if (o.printAfterAll || !o.printAfter.empty())
    o.pipeline.printTo = &std::cerr;
  return kGoOn;
}

int emitText(const Options &o, const std::string &text) {
  if (o.output.empty() || o.output == "-") {
    std::cout << text;
    return kOk;
  }
  return writeAtomically(o.output, text) ? kOk : kInputError;
}

/// Emits `g` as text IR, Graphviz or Mermaid, as --emit asks.
int emitGraph(const Options &o, const sora::ir::Graph &g) {
  std::ostringstream ss;
  Notation notation = kindOf(o.emit).notation;
  if (notation == Notation::Dot)
    sora::ir::printDot(ss, g);
  else if (notation == Notation::Mermaid)
    sora::ir::printMermaid(ss, g);
  else
    sora::ir::print(ss, g);
  return emitText(o, ss.str());
}

/// `sorac FILE.ir`: a hand-written graph through the passes.
int runOnGraph(const Options &o, const sora::SourceFile &file,
               sora::DiagnosticEngine &diags) {
  if (kindOf(o.emit).step != Step::Predict)
    return usageError("a .ir file can be emitted as ir, dot or mermaid");
  std::unique_ptr<sora::ir::Graph> g = sora::ir::parseGraph(file, diags);
  if (!g)
    return kInputError;
  g->maxBatch = 128;
  sora::ir::runPipeline(*g, o.pipeline);
  return emitGraph(o, *g);
}

/// Where --emit=onnx writes: -o, else <model>.onnx.
std::string onnxPath(const Options &o, const std::string &model) {
  return o.output.empty() ? model + ".onnx" : o.output;
}

/// --emit=onnx: `model` with `weights` as ONNX.
int writeOnnx(const Options &o, const sora::dsl::Model &model,
              const sora::onnx::Weights &weights) {
  std::string bytes, error;
  if (!sora::onnx::exportModel(model, weights, bytes, error)) {
    std::cerr << "sorac: error: cannot export model '" << model.name
              << "' to ONNX: " << error << "\n";
    return kInputError;
  }
  std::string path = onnxPath(o, model.name);
  if (path == "-") {
    std::cout << bytes;
    return kOk;
  }
  return writeAtomically(path, bytes) ? kOk : kInputError;
}

/// --emit=onnx of a .sora model: the checkpoint's tensors under their
/// names, and the model with them.
int emitOnnx(const Options &o, const sora::dsl::Model &model,
             const std::string &dir) {
  std::vector<float> block;
  std::vector<sora::ir::ParamSlot> slots;
  if (!loadWeights(model, dir, o.weights, block, &slots))
    return kInputError;
  sora::onnx::Weights weights;
  for (const sora::ir::ParamSlot &s : slots) {
    const float *at = block.data() + s.offset;
    weights.push_back(
        {s.name, s.type.dims, std::vector<float>(at, at + s.type.elements())});
  }
  return writeOnnx(o, model, weights);
}

/// The training step's figures for --stats.
struct Stats {
  int loopNests = 0;
  int64_t intermediateBytes = 0;
  size_t groups = 0;
  int64_t plannedBytes = 0, peakLive = -1, sumOfBuffers = 0;
};

Stats trainStats(sora::ir::CompiledModel &cm) {
  const sora::ir::Graph &g = *cm.train;
  Stats s;
  llvm::LLVMContext ctx;
  s.loopNests = sora::ir::emitModule(cm, ctx).trainLoopNests;
  s.groups = g.groups.size();
  for (const auto &n : g.nodes())
    if (sora::ir::isMaterialised(g, n.get()))
      s.intermediateBytes += sora::ir::bufferBytes(g, n.get());
  s.sumOfBuffers = s.intermediateBytes;
  s.plannedBytes = g.plan ? g.plan->bytes : s.intermediateBytes;
  if (g.plan)
    s.peakLive = g.plan->peakLive;
  return s;
}

void printStats(const Stats &with, const Stats &none,
                const std::string &pipeline) {
  auto row = [](const char *what, int64_t a, int64_t b) {
    std::cerr << "  " << std::left << std::setw(44) << what << std::right
              << std::setw(12) << a << std::setw(14);
    if (b < 0)
      std::cerr << "-";
    else
      std::cerr << b;
    std::cerr << "\n";
  };
  std::cerr << "train step statistics (per call, "
            << "max batch rows):\n"
            << "  " << std::left << std::setw(44) << "" << std::right
            << std::setw(12) << "pipeline" << std::setw(14) << "--passes=none"
            << "\n";
  std::cerr << "  (pipeline: " << pipeline << ")\n";
  row("loop nests in the emitted LLVM IR", with.loopNests, none.loopNests);
  row("intermediate bytes written to memory", with.intermediateBytes,
      none.intermediateBytes);
  row("fused groups", int64_t(with.groups), int64_t(none.groups));
  row("memory plan: planned scratch bytes", with.plannedBytes,
      none.plannedBytes);
  row("memory plan: largest live set (bytes)", with.peakLive, none.peakLive);
  row("memory plan: sum of all buffers (bytes)", with.sumOfBuffers,
      none.sumOfBuffers);
}

/// Where --emit=obj writes: the object, the header beside it and the
/// depfile (empty unless asked for); `model` names the object without -o.
struct ObjectPaths {
  std::string object, header, depfile;
};

ObjectPaths objectPaths(const Options &o, const std::string &model) {
  ObjectPaths p;
  p.object = o.output.empty() ? model + ".o" : o.output;
  p.header = p.object;
  size_t dot = p.header.rfind('.');
  size_t slash = p.header.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash))
    p.header.resize(dot);
  p.header += ".h";
  p.depfile = o.depfilePath;
  if (p.depfile.empty() && o.depfile)
    p.depfile = p.header.substr(0, p.header.size() - 2) + ".d";
  return p;
}

/// Refuses (exit 2) when a file this command would write is one it reads.
/// Before the model is known (`model` empty) the object's default name is
/// left out; so the check runs again once it is.
int checkOutputs(const Options &o, const std::string &model) {
  std::vector<std::string> outputs{o.output};
  if (o.emit == Emit::Obj && (!o.output.empty() || !model.empty())) {
    ObjectPaths p = objectPaths(o, model);
    outputs = {p.object, p.header, p.depfile};
  } else if (o.emit == Emit::Obj) {
    outputs.push_back(o.depfilePath);
  } else if (o.emit == Emit::Onnx && !model.empty()) {
    outputs = {onnxPath(o, model)};
  }
  return outputsSpareInputs(outputs, {o.input, o.weights}) ? kGoOn
                                                           : kUsageError;
}

int runOnOnnx(const Options &o);
int compile(const Options &o, const sora::dsl::Model &source,
            const std::string &directory, const std::string &sourcePath,
            const sora::onnx::Weights *weights);

int run(const Options &o) {
  if (int status = checkOutputs(o, ""); status != kGoOn)
    return status;
  FrontEnd fe;
  if (int status = fe.read(o.input, o.werror); status != kGoOn)
    return status;
  const sora::SourceFile &file = fe.file();
  if (llvm::StringRef(file.path()).ends_with(".ir"))
    return runOnGraph(o, file, fe.diags());
  if (llvm::StringRef(file.path()).ends_with(".onnx"))
    return runOnOnnx(o);
  if (int status = fe.parse(); status != kGoOn)
    return status;
  if (o.emit == Emit::Ast) {
    std::ostringstream ss;
    sora::ast::print(ss, fe.ast(), file);
    return emitText(o, ss.str());
  }
  if (int status = fe.check(o.model); status != kGoOn)
    return status;
  if (int status = checkOutputs(o, fe.model().name); status != kGoOn)
    return status;
  if (int status = fe.supported(); status != kGoOn)
    return status;
  if (o.emit == Emit::Onnx)
    return emitOnnx(o, fe.model(), fe.directory());
  return compile(o, fe.model(), fe.directory(), file.path(), nullptr);
}

/// An ONNX model: imported (Onnx/), then compiled as an inference build
/// with its initializers baked in (docs/onnx.md).
int runOnOnnx(const Options &o) {
  if (o.emit == Emit::Ast) {
    std::cerr << "sorac: error: --emit=ast needs a .sora file; an ONNX "
                 "model has no syntax tree\n";
    return kUsageError;
  }
  if (!o.weights.empty()) {
    std::cerr << "sorac: error: an ONNX model brings its weights; "
                 "--weights is for .sora models\n";
    return kUsageError;
  }
  std::optional<sora::onnx::Imported> imported =
      sora::onnx::importModel(o.input, std::cerr);
  if (!imported)
    return kInputError;
  if (int status = checkOutputs(o, imported->model.name); status != kGoOn)
    return status;
  if (o.emit == Emit::Onnx)
    return writeOnnx(o, imported->model, imported->weights);
  Options inference = o;
  inference.inference = true;
  std::string dir =
      absoluteDirectory(std::filesystem::path(o.input).parent_path().string());
  return compile(inference, imported->model, dir, o.input, &imported->weights);
}

/// The back end: graphs, passes, LLVM, the files --emit asks for. The
/// weights of an inference build come from `weights` when given, else from
/// --weights.
int compile(const Options &o, const sora::dsl::Model &source,
            const std::string &directory, const std::string &sourcePath,
            const sora::onnx::Weights *weights) {
  const sora::dsl::Model *model = &source;

  // The target machine before any work: a bad --target or --mcpu is a
  // usage error, and the micro-kernels' vector width is the target's.
  std::unique_ptr<llvm::TargetMachine> tm;
  if (o.emit == Emit::LLVM || o.emit == Emit::Asm || o.emit == Emit::Obj ||
      o.emit == Emit::Memory) {
    std::string error;
    tm = sora::createTargetMachine(o.triple, o.cpu, o.optLevel, error);
    if (!tm) {
      std::cerr << "sorac: error: " << error << "\n";
      return kUsageError;
    }
  }

  const EmitKind &kind = kindOf(o.emit);
  // Data-parallel training runs over MPI, which needs an operating system:
  // without one, its kernels (and grad_step's gradient block in every
  // instance's scratch) are left out.
  bool bareMetal = !o.triple.empty() &&
                   llvm::Triple(llvm::Triple::normalize(o.triple)).getOS() ==
                       llvm::Triple::UnknownOS;
  using sora::ir::ModelGraphs;
  bool forward = kind.step == Step::Predict || o.inference;
  ModelGraphs graphs = forward     ? ModelGraphs::Predict
                       : bareMetal ? ModelGraphs::Training
                                   : ModelGraphs::DataParallel;
  sora::ir::CompiledModel cm =
      sora::ir::buildModelGraphs(*model, directory, o.pipeline, graphs);
  cm.profile = o.profile;
  cm.prefix = o.name;
  if (tm) {
    cm.vectorWidth = sora::targetVectorWidth(*tm);
    cm.bf16Dot = sora::targetPrefersBf16Pairs(*tm);
    cm.vnni = sora::targetHasVnni(*tm);
    cm.amx = sora::targetHasAmxBf16(*tm);
    cm.pointerBits = int(tm->getPointerSizeInBits(0));
  }
  if (o.inference && weights)
    cm.bakedParams = sora::onnx::bakeWeights(cm.layout, *weights);
  else if (o.inference &&
           !loadWeights(*model, directory, o.weights, cm.bakedParams))
    return kInputError;
  else if (!o.inference && !o.weights.empty() &&
           !bakeFrozen(cm, directory, o.weights))
    return kInputError;
  if (!o.quantize.empty() &&
      !calibrateInt8(cm, directory, o.calibrate ? o.calibrate : 1000))
    return kInputError;
  if (o.stats && cm.train) {
    sora::ir::PipelineOptions none;
    sora::ir::CompiledModel bare = sora::ir::buildModelGraphs(
        *model, directory, none, ModelGraphs::Training);
    bare.vectorWidth = cm.vectorWidth;
    std::string pipeline;
    for (const std::string &p : o.pipeline.passes)
      pipeline += (pipeline.empty() ? "" : ",") + p;
    printStats(trainStats(cm), trainStats(bare),
               pipeline.empty() ? "none" : pipeline);
  }
  if (kind.notation != Notation::None) {
    sora::ir::Graph *g = forward                       ? cm.predict.get()
                         : kind.step == Step::Evaluate ? cm.evaluate.get()
                                                       : cm.train.get();
    if (!g) {
      std::cerr << "sorac: error: model '" << model->name
                << "' has no train block\n";
      return kInputError;
    }
    return emitGraph(o, *g);
  }

  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, ctx).module;
  {
    sora::PhaseTimer timer("verify LLVM IR");
    std::string verifyErrors;
    llvm::raw_string_ostream verifyStream(verifyErrors);
    if (llvm::verifyModule(*mod, &verifyStream))
      throw std::logic_error("generated LLVM IR is invalid:\n" + verifyErrors);
  }
  if (o.emit == Emit::Header)
    return emitText(o, sora::ir::emitHeader(cm, sourcePath));

  std::string error;
  sora::optimizeModule(*mod, *tm, o.optLevel);
  if (o.emit == Emit::LLVM) {
    std::string ir;
    llvm::raw_string_ostream os(ir);
    mod->print(os, nullptr);
    return emitText(o, ir);
  }
  std::string code;
  if (!sora::emitCode(*mod, *tm, o.emit == Emit::Asm, code, error)) {
    std::cerr << "sorac: error: " << error << "\n";
    return kInternalError;
  }
  if (o.emit == Emit::Asm)
    return emitText(o, code);
  if (o.emit == Emit::Memory)
    return emitText(o, memoryReport(cm, code, tm->getTargetTriple().str()));

  ObjectPaths paths = objectPaths(o, model->name);
  if (sameFile(paths.header, paths.object) ||
      (!paths.depfile.empty() && (sameFile(paths.depfile, paths.object) ||
                                  sameFile(paths.depfile, paths.header)))) {
    std::cerr << "sorac: error: the object '" << paths.object
              << "' would be overwritten by its header or depfile; name it "
                 "*.o\n";
    return kUsageError;
  }
  // An object sent to a device or a pipe (-o /dev/null) has nowhere beside
  // it for a header: only the object is written.
  std::error_code ec;
  auto status = std::filesystem::status(paths.object, ec);
  bool special = !ec && std::filesystem::exists(status) &&
                 !std::filesystem::is_regular_file(status);
  if (!writeAtomically(paths.object, code))
    return kInputError;
  if (special)
    return kOk;
  if (!writeAtomically(paths.header, sora::ir::emitHeader(cm, sourcePath))) {
    std::remove(paths.object.c_str());
    return kInputError;
  }
  if (!paths.depfile.empty()) {
    // Make syntax: spaces in paths are escaped with a backslash.
    auto escape = [](const std::string &path) {
      std::string out;
      for (char c : path)
        out += c == ' ' ? std::string("\\ ") : std::string(1, c);
      return out;
    };
    // Standard input is no file to depend on (GCC leaves it out too).
    std::string rule = escape(paths.object) + " " + escape(paths.header) + ":";
    if (o.input != "-")
      rule += " " + escape(o.input);
    if (!writeAtomically(paths.depfile, rule + "\n"))
      return kInputError;
  }
  return kOk;
}

} // namespace

int main(int argc, char **argv) {
  try {
    // run and eval compile for this machine and run in-process (the JIT).
    if (argc > 1 &&
        (std::string(argv[1]) == "run" || std::string(argv[1]) == "eval"))
      return runCommand(argc, argv);
    if (argc > 1 && std::string(argv[1]) == "import")
      return importCommand(argc, argv);
    Options o;
    int status = parseArgs(argc, argv, o);
    if (status != kGoOn)
      return status;
    status = run(o);
    if (sora::PhaseTimer::enabled()) {
      // LLVM's code generator's passes, then sorac's phases last, where a
      // reader of the terminal sees them.
      llvm::reportAndResetTimings(&llvm::errs());
      sora::PhaseTimer::print(std::cerr);
    }
    return status;
  } catch (const std::exception &e) {
    std::cerr << "sorac: internal error: " << e.what() << "\n";
    return kInternalError;
  }
}
