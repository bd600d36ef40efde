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
#include "CodeGen/ModelCodeGen.h"
#include "CodeGen/Target.h"
#include "IR/Graph.h"
#include "sora/dsl/AST.h"
#include "sora/dsl/Diagnostics.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace {

enum Exit { kOk = 0, kInputError = 1, kUsageError = 2, kInternalError = 3 };

const char *kUsage =
    "usage: sorac FILE.sora [options]\n"
    "  -o PATH            output file (default: <model>.o); the header is\n"
    "                     written beside an object, with the extension .h\n"
    "  --emit=KIND        ast | ir | ir-eval | ir-train | llvm | asm | obj |\n"
    "                     header (default: obj)\n"
    "  --model NAME       the model to compile when the file has several\n"
    "  -O0 .. -O3         LLVM optimisation level (default: -O2)\n"
    "  --target=TRIPLE    target triple (default: the host)\n"
    "  --mcpu=CPU         target CPU (default: the host's)\n"
    "  -h, --help         this text\n";

struct Options {
  std::string input;
  std::string output;
  std::string emit = "obj";
  std::string model;
  std::string triple;
  std::string cpu;
  int optLevel = 2;
};

int usageError(const std::string &message) {
  std::cerr << "sorac: error: " << message << "\n" << kUsage;
  return kUsageError;
}

/// Parses argv; returns -1 to go on, else the exit status.
int parseArgs(int argc, char **argv, Options &o) {
  auto value = [&](int &i, const std::string &arg,
                   const std::string &flag) -> std::optional<std::string> {
    if (arg.rfind(flag + "=", 0) == 0)
      return arg.substr(flag.size() + 1);
    if (arg == flag && i + 1 < argc)
      return std::string(argv[++i]);
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return kOk;
    }
    if (auto v = value(i, arg, "-o")) {
      o.output = *v;
    } else if (auto v = value(i, arg, "--emit")) {
      o.emit = *v;
    } else if (auto v = value(i, arg, "--model")) {
      o.model = *v;
    } else if (auto v = value(i, arg, "--target")) {
      o.triple = *v;
    } else if (auto v = value(i, arg, "--mcpu")) {
      o.cpu = *v;
    } else if (arg.size() == 3 && arg.rfind("-O", 0) == 0 && arg[2] >= '0' &&
               arg[2] <= '3') {
      o.optLevel = arg[2] - '0';
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError("unknown option '" + arg + "'");
    } else if (o.input.empty()) {
      o.input = arg;
    } else {
      return usageError("more than one input file ('" + o.input + "' and '" +
                        arg + "')");
    }
  }
  static const char *kinds[] = {"ast",  "ir",  "ir-eval", "ir-train",
                                "llvm", "asm", "obj",     "header"};
  if (std::find(std::begin(kinds), std::end(kinds), o.emit) == std::end(kinds))
    return usageError("unknown --emit kind '" + o.emit + "'");
  if (o.input.empty())
    return usageError("no input file");
  return -1;
}

/// Reads a whole file; reports why not.
bool readFile(const std::string &path, std::string &text) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::cerr << "sorac: error: cannot read '" << path << "': no such file\n";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    std::cerr << "sorac: error: '" << path << "' is not a regular file\n";
    return false;
  }
  constexpr off_t kMaxSource = 64 << 20;
  if (st.st_size > kMaxSource) {
    std::cerr << "sorac: error: '" << path << "' is larger than 64 MiB\n";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) {
    std::cerr << "sorac: error: cannot read '" << path << "'\n";
    return false;
  }
  text = ss.str();
  return true;
}

/// Writes `data` to `path` through a temporary file in the same directory.
bool writeAtomically(const std::string &path, const std::string &data) {
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), std::streamsize(data.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      std::cerr << "sorac: error: cannot write '" << path << "'\n";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    std::cerr << "sorac: error: cannot write '" << path << "'\n";
    return false;
  }
  return true;
}

std::string absoluteDirectory(const std::string &dir) {
  char buf[PATH_MAX];
  if (realpath(dir.c_str(), buf))
    return buf;
  return dir;
}

int emitText(const Options &o, const std::string &text) {
  if (o.output.empty() || o.output == "-") {
    std::cout << text;
    return kOk;
  }
  return writeAtomically(o.output, text) ? kOk : kInputError;
}

int run(const Options &o) {
  std::string text;
  if (!readFile(o.input, text))
    return kInputError;
  sora::SourceFile file(o.input, std::move(text));
  sora::DiagnosticEngine diags(file, std::cerr);

  std::optional<sora::ast::File> ast = sora::parseFile(file, diags);
  if (!ast)
    return kInputError;
  if (o.emit == "ast") {
    std::ostringstream ss;
    sora::ast::print(ss, *ast);
    return emitText(o, ss.str());
  }

  std::optional<sora::dsl::Program> program = sora::checkProgram(*ast, diags);
  if (!program)
    return kInputError;

  // Which model.
  const sora::dsl::Model *model = nullptr;
  if (program->models.empty()) {
    std::cerr << o.input << ": error: the file defines no model\n";
    return kInputError;
  }
  if (!o.model.empty()) {
    for (const auto &m : program->models)
      if (m.name == o.model)
        model = &m;
    if (!model) {
      std::cerr << "sorac: error: no model named '" << o.model << "' in "
                << o.input << "\n";
      return kUsageError;
    }
  } else if (program->models.size() == 1) {
    model = &program->models[0];
  } else {
    std::cerr << "sorac: error: " << o.input
              << " defines several models; choose one with --model:";
    for (const auto &m : program->models)
      std::cerr << " " << m.name;
    std::cerr << "\n";
    return kUsageError;
  }
  if (model->inputs.size() != 1) {
    diags.error(model->range, "a model with several inputs cannot be "
                              "compiled by this version of sorac yet");
    return kInputError;
  }

  sora::ir::CompiledModel cm =
      sora::ir::buildModelGraphs(*model, absoluteDirectory(file.directory()));
  if (o.emit == "ir" || o.emit == "ir-eval" || o.emit == "ir-train") {
    sora::ir::Graph *g = o.emit == "ir"        ? cm.predict.get()
                         : o.emit == "ir-eval" ? cm.evaluate.get()
                                               : cm.train.get();
    if (!g) {
      std::cerr << "sorac: error: model '" << model->name
                << "' has no train block\n";
      return kInputError;
    }
    std::ostringstream ss;
    sora::ir::print(ss, *g);
    return emitText(o, ss.str());
  }

  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, ctx);
  std::string verifyErrors;
  llvm::raw_string_ostream verifyStream(verifyErrors);
  if (llvm::verifyModule(*mod, &verifyStream))
    throw std::logic_error("generated LLVM IR is invalid:\n" + verifyErrors);
  if (o.emit == "header")
    return emitText(o, sora::ir::emitHeader(cm, o.input));

  std::string error;
  auto tm = sora::createTargetMachine(o.triple, o.cpu, o.optLevel, error);
  if (!tm) {
    std::cerr << "sorac: error: " << error << "\n";
    return kUsageError;
  }
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

  std::string objPath = o.output.empty() ? model->name + ".o" : o.output;
  std::string headerPath = objPath;
  size_t dot = headerPath.rfind('.');
  size_t slash = headerPath.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash))
    headerPath.resize(dot);
  headerPath += ".h";
  if (!writeAtomically(objPath, code))
    return kInputError;
  if (!writeAtomically(headerPath, sora::ir::emitHeader(cm, o.input))) {
    std::remove(objPath.c_str());
    return kInputError;
  }
  return kOk;
}

} // namespace

int main(int argc, char **argv) {
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
