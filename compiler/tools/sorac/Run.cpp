//===- Run.cpp - sorac run and sorac eval: compile in-process and train
//----===//
//
//   sorac run FILE.sora [--data DIR] [--epochs N] [--limit N] [--seed N]
//             [--threads N] [--model NAME] [--init W.safetensors]
//             [--save W.safetensors] [--report json]
//   sorac eval FILE.sora --weights W.safetensors [--data DIR] [--model NAME]
//             [--report json]
//
// The model is compiled exactly as for an object file (same passes, same
// LLVM pipeline), then handed to LLVM's ORC JIT instead of the object
// writer; the runtime linked into sorac runs the train block through the
// descriptor, as a program linking model.o would. So `sorac run` and the
// object-file path share their numerics.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"

#include "CodeGen/ModelCodeGen.h"
#include "CodeGen/Target.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"
#include "sora/runtime.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/TargetSelect.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace sorac {

namespace {

const char *kRunUsage =
    "usage: sorac run FILE.sora [options]\n"
    "  --data DIR          look for the train block's data here first\n"
    "  --epochs N          train to N epochs instead of the train block's\n"
    "  --limit N           use only the first N training samples\n"
    "  --seed N            seed weights and shuffling with N\n"
    "  --threads N         threads for the big loops (default 1); results\n"
    "                      are the same for every count\n"
    "  --model NAME        the model to train when the file has several\n"
    "  --init W            start from the checkpoint W (safetensors)\n"
    "  --save W            write the trained model to W (safetensors)\n"
    "  --report json       end with one line of JSON: the final metrics\n"
    "  --profile           time each layer's forward, backward and update\n"
    "usage: sorac eval FILE.sora --weights W [--data DIR] [--model NAME]\n"
    "                 [--report json]\n";

struct RunOptions {
  bool eval = false;
  std::string input, data, model, init, save, weights, report;
  int64_t epochs = 0, limit = 0, seed = -1, threads = 1;
  bool profile = false;
};

int usage(const std::string &message) {
  std::cerr << "sorac: error: " << message << "\n" << kRunUsage;
  return kUsageError;
}

/// Parses a whole non-negative number; false if it is not one.
bool parseCount(const std::string &text, int64_t &out) {
  if (text.empty() || text.size() > 18)
    return false;
  for (char c : text)
    if (c < '0' || c > '9')
      return false;
  out = std::stoll(text);
  return true;
}

int parseRunArgs(int argc, char **argv, RunOptions &o) {
  o.eval = std::string(argv[1]) == "eval";
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kRunUsage;
      return kOk;
    }
    if (arg == "--profile") {
      o.profile = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    bool takesValue = flag == "--data" || flag == "--epochs" ||
                      flag == "--limit" || flag == "--seed" ||
                      flag == "--threads" || flag == "--model" ||
                      flag == "--init" || flag == "--save" ||
                      flag == "--weights" || flag == "--report";
    if (takesValue) {
      if (eq != std::string::npos)
        value = arg.substr(eq + 1);
      else if (i + 1 < argc)
        value = argv[++i];
      else
        return usage("option '" + flag + "' needs a value");
    }
    if (flag == "--data")
      o.data = value;
    else if (flag == "--model")
      o.model = value;
    else if (flag == "--init")
      o.init = value;
    else if (flag == "--save")
      o.save = value;
    else if (flag == "--weights")
      o.weights = value;
    else if (flag == "--report") {
      if (value != "json")
        return usage("--report takes 'json'");
      o.report = value;
    } else if (flag == "--epochs" || flag == "--limit" || flag == "--seed" ||
               flag == "--threads") {
      int64_t n;
      if (!parseCount(value, n))
        return usage(flag + " needs a whole number, got '" + value + "'");
      (flag == "--epochs"  ? o.epochs
       : flag == "--limit" ? o.limit
       : flag == "--seed"  ? o.seed
                           : o.threads) = n;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage("unknown option '" + arg + "'");
    } else if (o.input.empty()) {
      o.input = arg;
    } else {
      return usage("more than one input file");
    }
  }
  if (o.input.empty())
    return usage("no input file");
  if (o.eval && o.weights.empty())
    return usage("sorac eval needs --weights W.safetensors");
  if (o.threads < 1)
    return usage("--threads needs at least 1");
  return -1;
}

/// Prints a number for JSON (NaN as null).
std::string json(double v) {
  if (!std::isfinite(v))
    return "null";
  std::ostringstream ss;
  ss.precision(6);
  ss << v;
  return ss.str();
}

/// Collects what the runtime reports after each epoch.
struct Progress {
  sora_epoch_report last{};
  double seconds = 0;
  int64_t epochs = 0;
};

int collect(const sora_epoch_report *r, void *user) {
  auto *p = static_cast<Progress *>(user);
  p->last = *r;
  p->seconds += r->seconds;
  ++p->epochs;
  return 0;
}

int runtimeError(const char *what) {
  std::cerr << "sorac: error: " << what << ": " << sora_last_error() << "\n";
  return kInputError;
}

} // namespace

int runCommand(int argc, char **argv) {
  RunOptions o;
  int status = parseRunArgs(argc, argv, o);
  if (status >= 0)
    return status;

  // The front end, as for `sorac FILE.sora`.
  std::string text;
  if (!readFile(o.input, text))
    return kInputError;
  sora::SourceFile file(o.input, std::move(text));
  sora::DiagnosticEngine diags(file, std::cerr);
  std::optional<sora::ast::File> ast = sora::parseFile(file, diags);
  if (!ast)
    return kInputError;
  std::optional<sora::dsl::Program> program = sora::checkProgram(*ast, diags);
  if (!program)
    return kInputError;
  const sora::dsl::Model *model =
      selectModel(*program, o.model, o.input, status);
  if (!model)
    return status;
  if (!model->train) {
    diags.report(sora::Diag::NotSupportedYet, model->range,
                 "sorac " + std::string(o.eval ? "eval" : "run") +
                     " needs a train block for model '" + model->name + "'");
    return kInputError;
  }
  if (model->inputs.size() != 1) {
    diags.report(sora::Diag::NotSupportedYet, model->range,
                 "a model with several inputs cannot be compiled by this "
                 "version of sorac yet");
    return kInputError;
  }
  diags.flush();

  // Compile as for an object file, then JIT.
  sora::ir::CompiledModel cm =
      sora::ir::buildModelGraphs(*model, absoluteDirectory(file.directory()));
  cm.profile = o.profile;
  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, *ctx);
  std::string error;
  auto tm = sora::createTargetMachine("", "", 2, error);
  if (!tm)
    throw std::logic_error(error);
  sora::optimizeModule(*mod, *tm, 2);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto jit = llvm::cantFail(llvm::orc::LLJITBuilder().create());
  // The runtime and libm come from this process.
  jit->getMainJITDylib().addGenerator(llvm::cantFail(
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          jit->getDataLayout().getGlobalPrefix())));
  llvm::cantFail(jit->addIRModule(
      llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx))));
  auto symbol = jit->lookup(model->name + "_desc");
  if (!symbol)
    throw std::logic_error(llvm::toString(symbol.takeError()));
  const sora_model_desc *desc = symbol->toPtr<const sora_model_desc *>();

  if (sora_set_threads(o.threads) != SORA_OK)
    return runtimeError("cannot start the threads");
  sora_model *m = nullptr;
  if (sora_model_create(desc, &m) != SORA_OK)
    return runtimeError("cannot create the model");
  struct Destroy {
    sora_model *m;
    ~Destroy() { sora_model_destroy(m); }
  } destroy{m};
  if (o.seed >= 0 && sora_model_init(m, o.seed) != SORA_OK)
    return runtimeError("cannot initialise the model");
  const std::string &start = o.eval ? o.weights : o.init;
  if (!start.empty() && sora_model_load(m, start.c_str()) != SORA_OK)
    return runtimeError("cannot load the checkpoint");
  const char *dataDir = o.data.empty() ? nullptr : o.data.c_str();

  Progress progress;
  sora_metrics test{NAN, NAN, 0};
  if (o.eval) {
    sora_dataset set;
    if (!desc->test.images && !desc->test.path) {
      std::cerr << "sorac: error: the train block of '" << model->name
                << "' has no test data to evaluate on\n";
      return kInputError;
    }
    if (sora_dataset_load(&desc->test, dataDir, desc->source_dir, &set) !=
        SORA_OK)
      return runtimeError("cannot load the test data");
    sora_status s =
        sora_model_evaluate(m, set.x, set.y, size_t(set.count), &test);
    sora_dataset_free(&set);
    if (s != SORA_OK)
      return runtimeError("cannot evaluate");
    std::printf("test: loss: %.4f", test.loss);
    if (desc->accuracy_kind != SORA_ACCURACY_NONE)
      std::printf(" - accuracy: %.4f", test.accuracy);
    std::printf(" (%lld samples)\n", (long long)test.count);
  } else {
    sora_fit_options fit = sora_fit_defaults();
    fit.epochs = o.epochs;
    fit.limit = o.limit;
    fit.seed = o.seed;
    fit.callback = collect;
    fit.user = &progress;
    fit.test = &test;
    if (sora_model_fit(m, dataDir, &fit) != SORA_OK)
      return runtimeError("training failed");
    if (!o.save.empty() && sora_model_save(m, o.save.c_str()) != SORA_OK)
      return runtimeError("cannot save the model");
  }
  std::fflush(stdout);
  if (o.report == "json") {
    const sora_epoch_report &r = progress.last;
    bool trained = progress.epochs > 0;
    std::cout << "{\"model\": \"" << model->name
              << "\", \"epochs\": " << sora_model_epoch(m)
              << ", \"steps\": " << sora_model_step(m)
              << ", \"train_loss\": " << json(trained ? r.loss : NAN)
              << ", \"train_accuracy\": " << json(trained ? r.accuracy : NAN)
              << ", \"val_loss\": " << json(trained ? r.val_loss : NAN)
              << ", \"val_accuracy\": " << json(trained ? r.val_accuracy : NAN)
              << ", \"test_loss\": " << json(test.loss)
              << ", \"test_accuracy\": " << json(test.accuracy)
              << ", \"train_seconds\": " << json(progress.seconds) << "}\n";
  }
  return kOk;
}

} // namespace sorac
