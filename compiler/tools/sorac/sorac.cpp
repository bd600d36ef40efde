//===- sorac.cpp - The sorac compiler driver
//-------------------------------===//
//
//   sorac FILE.sora [-o OUT.o] [--emit=KIND] [--model NAME] [-O0..-O3]
//         [--target=TRIPLE] [--mcpu=CPU]
//
// Runs the pipeline (parse, check, build graphs, differentiate, lower to
// LLVM, optimise, emit) as far as --emit asks. Exit status: 0 success, 1 an
// error in the input (diagnosed), 2 a bad command line, 3 an internal error.
// Output files are written to a temporary name and renamed into place, so a
// failed run never leaves a half-written or stale-looking output behind.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"

#include "CodeGen/ModelCodeGen.h"
#include "CodeGen/Target.h"
#include "IR/Graph.h"
#include "IR/GraphParser.h"
#include "IR/GraphViews.h"
#include "Transforms/Passes.h"
#include "sora/dsl/AST.h"
#include "sora/dsl/Diagnostics.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"
#include "sora/runtime.h"

#include <llvm/Config/llvm-config.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace sorac {

const sora::dsl::Model *selectModel(const sora::dsl::Program &program,
                                    const std::string &name,
                                    const std::string &input, int &status) {
  status = kOk;
  if (!name.empty()) {
    for (const auto &m : program.models)
      if (m.name == name)
        return &m;
    std::cerr << "sorac: error: no model named '" << name << "' in " << input
              << "\n";
    status = kUsageError;
    return nullptr;
  }
  if (program.models.size() == 1)
    return &program.models[0];
  std::cerr << "sorac: error: " << input
            << " defines several models; choose one with --model:";
  for (const auto &m : program.models)
    std::cerr << " " << m.name;
  std::cerr << "\n";
  status = kUsageError;
  return nullptr;
}

} // namespace sorac

using namespace sorac;

namespace {

const char *kUsage =
    "usage: sorac FILE.sora [options]   (FILE.sora '-': standard input)\n"
    "       sorac run FILE.sora [run options]   (sorac run --help)\n"
    "       sorac eval FILE.sora --weights W.safetensors [--data DIR]\n"
    "       sorac FILE.ir --passes=LIST [--emit=ir|dot|mermaid]\n"
    "  -o PATH            output file (default: <model>.o); the header is\n"
    "                     written beside an object, with the extension .h\n"
    "  --emit=KIND        ast | ir | ir-eval | ir-train | dot | dot-train |\n"
    "                     mermaid | mermaid-train | llvm | asm | obj | header\n"
    "                     (default: obj)\n"
    "  --passes=LIST      graph passes, comma-separated, or none (default:\n"
    "                     simplify,fold,cse,dce,fuse,plan)\n"
    "  --print-ir-after-all, --print-ir-after=PASS\n"
    "                     print each graph after every pass / after PASS\n"
    "  --verify-each      verify each graph after every pass\n"
    "  --stats            print the training step's statistics (default\n"
    "                     pipeline and --passes=none) on stderr\n"
    "  --model NAME       the model to compile when the file has several\n"
    "  -O0 .. -O3         LLVM optimisation level (default: -O2)\n"
    "  --target=TRIPLE    target triple (default: the host)\n"
    "  --mcpu=CPU         target CPU (default: the host's)\n"
    "  -Werror            treat warnings as errors\n"
    "  -MD [-MF FILE]     also write a make depfile (OUT.d, or FILE) for\n"
    "                     build systems: the object and header depend on\n"
    "                     the .sora file\n"
    "  --version          the version of sorac and of its LLVM\n"
    "  --inference --weights W.safetensors\n"
    "                     an inference build: the forward pass only, with\n"
    "                     the trained weights of W baked into read-only data\n"
    "  --name NAME        prefix the object's symbols with NAME instead of\n"
    "                     the model's name (two builds in one program)\n"
    "  --profile          the train step times each layer's forward,\n"
    "                     backward and update; fit prints the table\n"
    "  -h, --help         this text\n";

struct Options {
  std::string input;
  std::string output;
  std::string emit = "obj";
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
  std::string weights;     ///< --weights W.safetensors
  std::string name;        ///< --name: the symbol prefix
  bool depfile = false;    ///< -MD: write OUT.d beside the object
  std::string depfilePath; ///< -MF FILE: or there
  sora::ir::PipelineOptions pipeline;
};

int usageError(const std::string &message) {
  return sorac::usageError(message, "sorac");
}

/// Parses argv; returns -1 to go on, else the exit status.
int parseArgs(int argc, char **argv, Options &o) {
  // `-o X`, `-oX`-less forms: `--flag=X` or `--flag X`.
  static const std::pair<const char *, std::string Options::*> valued[] = {
      {"-o", &Options::output},
      {"--emit", &Options::emit},
      {"--model", &Options::model},
      {"--target", &Options::triple},
      {"--mcpu", &Options::cpu},
      {"--passes", &Options::passes},
      {"--print-ir-after", &Options::printAfter},
      {"-MF", &Options::depfilePath},
      {"--weights", &Options::weights},
      {"--name", &Options::name}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return kOk;
    }
    bool matched = false;
    for (auto &[flag, field] : valued) {
      std::string f = flag;
      if (arg.rfind(f + "=", 0) == 0) {
        o.*field = arg.substr(f.size() + 1);
      } else if (arg == f) {
        if (i + 1 >= argc)
          return usageError("option '" + f + "' needs a value");
        o.*field = argv[++i];
      } else {
        continue;
      }
      matched = true;
      break;
    }
    if (matched)
      continue;
    if (arg.size() == 3 && arg.rfind("-O", 0) == 0 && arg[2] >= '0' &&
        arg[2] <= '3') {
      o.optLevel = arg[2] - '0';
    } else if (arg == "-Werror") {
      o.werror = true;
    } else if (arg == "-MD") {
      o.depfile = true;
    } else if (arg == "--inference") {
      o.inference = true;
    } else if (arg == "--version") {
      std::cout << "sorac version " << SORAC_VERSION << " (LLVM "
                << LLVM_VERSION_STRING
                << ")\nTarget: " << llvm::sys::getDefaultTargetTriple() << "\n";
      return kOk;
    } else if (arg == "--print-ir-after-all") {
      o.printAfterAll = true;
    } else if (arg == "--verify-each") {
      o.verifyEach = true;
    } else if (arg == "--stats") {
      o.stats = true;
    } else if (arg == "--profile") {
      o.profile = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError("unknown argument '" + arg + "'");
    } else if (o.input.empty()) {
      o.input = arg;
    } else {
      return usageError("more than one input file ('" + o.input + "' and '" +
                        arg + "')");
    }
  }
  static const char *kinds[] = {"ast",  "ir",        "ir-eval", "ir-train",
                                "dot",  "dot-train", "mermaid", "mermaid-train",
                                "llvm", "asm",       "obj",     "header"};
  if (std::find(std::begin(kinds), std::end(kinds), o.emit) == std::end(kinds))
    return usageError("unknown --emit kind '" + o.emit + "'");
  if (o.input.empty())
    return usageError("no input file");
  if (o.inference != !o.weights.empty())
    return usageError("--inference and --weights W.safetensors go together");
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
  return -1;
}

} // namespace

/// Writes `data` to `path` through a temporary file in the same directory;
/// says why not on failure.
bool writeAtomically(const std::string &path, const std::string &data) {
  auto fail = [&](int error) {
    std::cerr << "sorac: error: cannot write '" << path
              << "': " << std::strerror(error) << "\n";
    return false;
  };
  // Before the temporary, which would otherwise land inside a directory.
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return fail(EISDIR);
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  std::FILE *out = std::fopen(tmp.c_str(), "wb");
  if (!out)
    return fail(errno);
  bool ok = std::fwrite(data.data(), 1, data.size(), out) == data.size();
  int error = errno;
  if (std::fclose(out) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    return fail(error);
  }
  return true;
}

std::string sorac::absoluteDirectory(const std::string &dir) {
  char buf[PATH_MAX];
  if (realpath(dir.c_str(), buf))
    return buf;
  return dir;
}

namespace {

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
  if (o.emit.rfind("dot", 0) == 0)
    sora::ir::printDot(ss, g);
  else if (o.emit.rfind("mermaid", 0) == 0)
    sora::ir::printMermaid(ss, g);
  else
    sora::ir::print(ss, g);
  return emitText(o, ss.str());
}

/// `sorac FILE.ir`: a hand-written graph through the passes.
int runOnGraph(const Options &o, const sora::SourceFile &file,
               sora::DiagnosticEngine &diags) {
  if (o.emit != "ir" && o.emit != "dot" && o.emit != "mermaid")
    return usageError("a .ir file can be emitted as ir, dot or mermaid");
  std::unique_ptr<sora::ir::Graph> g = sora::ir::parseGraph(file, diags);
  if (!g)
    return kInputError;
  g->maxBatch = 128;
  sora::ir::runPipeline(*g, o.pipeline);
  return emitGraph(o, *g);
}

/// The parameter block of `model` read from the checkpoint `path` with the
/// runtime's checked loader (names, shapes, model hash), for --inference.
bool loadWeights(const sora::dsl::Model &model, const std::string &dir,
                 const std::string &path, std::vector<float> &out) {
  // The full model (training included), for the tensors a checkpoint has.
  sora::ir::CompiledModel full = sora::ir::buildModelGraphs(model, dir);
  auto describe = [](const std::vector<sora::ir::ParamSlot> &slots) {
    std::vector<sora_param_desc> descs;
    for (const sora::ir::ParamSlot &s : slots) {
      sora_param_desc d{};
      d.name = s.name.c_str();
      d.offset = s.offset;
      d.size = s.type.elements();
      d.rank = int64_t(s.type.dims.size());
      for (size_t i = 0; i < s.type.dims.size() && i < 4; ++i)
        d.shape[i] = s.type.dims[i];
      d.init = int64_t(s.init);
      d.fan_in = s.fanIn;
      d.fan_out = s.fanOut;
      descs.push_back(d);
    }
    return descs;
  };
  std::vector<sora_param_desc> params = describe(full.layout.weights);
  std::vector<sora_param_desc> state = describe(full.layout.state);
  sora_model_desc desc{};
  desc.name = model.name.c_str();
  desc.input_size = desc.output_size = desc.label_size = 1;
  desc.params_floats = full.layout.weightFloats;
  desc.opt_state_floats = full.layout.stateFloats;
  desc.max_batch = 1;
  desc.num_params = int64_t(params.size());
  desc.params = params.data();
  desc.num_state = int64_t(state.size());
  desc.state = state.empty() ? nullptr : state.data();
  desc.model_hash = sora::ir::modelHash(full);
  sora_model *m = nullptr;
  if (sora_model_create(&desc, &m) != SORA_OK ||
      sora_model_load(m, path.c_str()) != SORA_OK) {
    std::cerr << "sorac: error: cannot read the weights: " << sora_last_error()
              << "\n";
    sora_model_destroy(m);
    return false;
  }
  float *block = sora_model_params(m);
  out.assign(block, block + desc.params_floats);
  sora_model_destroy(m);
  return true;
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
  if (o.emit == "obj" && (!o.output.empty() || !model.empty())) {
    ObjectPaths p = objectPaths(o, model);
    outputs = {p.object, p.header, p.depfile};
  } else if (o.emit == "obj") {
    outputs.push_back(o.depfilePath);
  }
  return outputsSpareInputs(outputs, {o.input, o.weights}) ? -1 : kUsageError;
}

int run(const Options &o) {
  if (int status = checkOutputs(o, ""); status >= 0)
    return status;
  std::string text;
  if (!readFile(o.input, text))
    return kInputError;
  sora::SourceFile file(sourceName(o.input), std::move(text));
  sora::DiagnosticEngine diags(file, std::cerr);
  diags.setWarningsAreErrors(o.werror);
  if (file.path().size() > 3 &&
      file.path().compare(file.path().size() - 3, 3, ".ir") == 0)
    return runOnGraph(o, file, diags);

  std::optional<sora::ast::File> ast = sora::parseFile(file, diags);
  if (!ast)
    return kInputError;
  if (o.emit == "ast") {
    std::ostringstream ss;
    sora::ast::print(ss, *ast, file);
    return emitText(o, ss.str());
  }

  std::optional<sora::dsl::Program> program = sora::checkProgram(*ast, diags);
  if (!program)
    return kInputError;

  int status;
  const sora::dsl::Model *model =
      selectModel(*program, o.model, file.path(), status);
  if (!model)
    return status;
  if (int status = checkOutputs(o, model->name); status >= 0)
    return status;
  if (model->inputs.size() != 1) {
    diags.report(sora::Diag::NotSupportedYet, model->range,
                 "a model with several inputs cannot be compiled by this "
                 "version of sorac yet");
    return kInputError;
  }

  // The target machine before any work: a bad --target or --mcpu is a
  // usage error, and the micro-kernels' vector width is the target's.
  std::unique_ptr<llvm::TargetMachine> tm;
  if (o.emit == "llvm" || o.emit == "asm" || o.emit == "obj") {
    std::string error;
    tm = sora::createTargetMachine(o.triple, o.cpu, o.optLevel, error);
    if (!tm) {
      std::cerr << "sorac: error: " << error << "\n";
      return kUsageError;
    }
  }

  bool forward =
      o.emit == "ir" || o.emit == "dot" || o.emit == "mermaid" || o.inference;
  sora::ir::CompiledModel cm = sora::ir::buildModelGraphs(
      *model, absoluteDirectory(file.directory()), o.pipeline, !forward);
  cm.profile = o.profile;
  cm.prefix = o.name;
  if (tm) {
    cm.vectorWidth = sora::targetVectorWidth(*tm);
    cm.pointerBits = int(tm->getPointerSizeInBits(0));
  }
  if (o.inference && !loadWeights(*model, absoluteDirectory(file.directory()),
                                  o.weights, cm.bakedParams))
    return kInputError;
  if (o.stats && cm.train) {
    sora::ir::PipelineOptions none;
    sora::ir::CompiledModel bare = sora::ir::buildModelGraphs(
        *model, absoluteDirectory(file.directory()), none);
    bare.vectorWidth = cm.vectorWidth;
    std::string pipeline;
    for (const std::string &p : o.pipeline.passes)
      pipeline += (pipeline.empty() ? "" : ",") + p;
    printStats(trainStats(cm), trainStats(bare),
               pipeline.empty() ? "none" : pipeline);
  }
  if (o.emit.rfind("ir", 0) == 0 || o.emit.rfind("dot", 0) == 0 ||
      o.emit.rfind("mermaid", 0) == 0) {
    bool train = o.emit.size() > 6 &&
                 o.emit.compare(o.emit.size() - 6, 6, "-train") == 0;
    sora::ir::Graph *g = forward               ? cm.predict.get()
                         : o.emit == "ir-eval" ? cm.evaluate.get()
                         : train               ? cm.train.get()
                                               : nullptr;
    if (!g) {
      std::cerr << "sorac: error: model '" << model->name
                << "' has no train block\n";
      return kInputError;
    }
    return emitGraph(o, *g);
  }

  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, ctx).module;
  std::string verifyErrors;
  llvm::raw_string_ostream verifyStream(verifyErrors);
  if (llvm::verifyModule(*mod, &verifyStream))
    throw std::logic_error("generated LLVM IR is invalid:\n" + verifyErrors);
  if (o.emit == "header")
    return emitText(o, sora::ir::emitHeader(cm, file.path()));

  std::string error;
  sora::optimizeModule(*mod, *tm, o.optLevel);
  if (o.emit == "llvm") {
    std::string ir;
    llvm::raw_string_ostream os(ir);
    mod->print(os, nullptr);
    return emitText(o, ir);
  }
  std::string code;
  if (!sora::emitCode(*mod, *tm, o.emit == "asm", code, error)) {
    std::cerr << "sorac: error: " << error << "\n";
    return kInternalError;
  }
  if (o.emit == "asm")
    return emitText(o, code);

  ObjectPaths paths = objectPaths(o, model->name);
  if (sameFile(paths.header, paths.object) ||
      (!paths.depfile.empty() && (sameFile(paths.depfile, paths.object) ||
                                  sameFile(paths.depfile, paths.header)))) {
    std::cerr << "sorac: error: the object '" << paths.object
              << "' would be overwritten by its header or depfile; name it "
                 "*.o\n";
    return kUsageError;
  }
  if (!writeAtomically(paths.object, code))
    return kInputError;
  if (!writeAtomically(paths.header, sora::ir::emitHeader(cm, file.path()))) {
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
  if (argc > 1 &&
      (std::string(argv[1]) == "run" || std::string(argv[1]) == "eval")) {
    // run and eval compile for this machine and run in-process (the JIT).
    for (int i = 2; i < argc; ++i)
      for (const char *flag : {"--target", "--mcpu"})
        if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0 &&
            (argv[i][std::strlen(flag)] == '\0' ||
             argv[i][std::strlen(flag)] == '=')) {
          // One line that says what to do instead (no --help to point at).
          std::cerr << "sorac: error: " << flag << " cannot be used with sorac "
                    << argv[1]
                    << ", which runs the model on this machine; "
                       "cross-compile with sorac FILE.sora "
                    << flag << "=...\n";
          return kUsageError;
        }
    try {
      return runCommand(argc, argv);
    } catch (const std::exception &e) {
      std::cerr << "sorac: internal error: " << e.what() << "\n";
      return kInternalError;
    }
  }
  Options o;
  int status = parseArgs(argc, argv, o);
  if (status >= 0)
    return status;
  try {
    return run(o);
  } catch (const std::exception &e) {
    std::cerr << "sorac: internal error: " << e.what() << "\n";
    return kInternalError;
  }
}
