//===- Run.cpp - sorac run and sorac eval: compile in-process and train ---===//
//
//   sorac run FILE.sora [--data DIR] [--epochs N] [--limit N] [--seed N]
//             [--threads N] [--model NAME] [--init W.safetensors]
//             [--save W.safetensors] [--log FILE.csv] [--plot FILE.svg]
//             [--quiet] [--report json] [--profile]
//   sorac eval FILE.sora --weights W.safetensors [--data DIR] [--model NAME]
//             [--quiet] [--report json]
//
// The model is compiled exactly as for an object file (same passes, same
// LLVM pipeline), then handed to LLVM's ORC JIT instead of the object
// writer; the runtime linked into sorac runs the train block through the
// descriptor, as a program linking model.o would. So `sorac run` and the
// object-file path share their numerics.
//
// Progress is the runtime's: one Keras-style line per epoch, and on a
// terminal a live bar first. The training curves (--log, --plot) come from
// the epoch callback (the plot is drawn by Plot.cpp).
//
//===----------------------------------------------------------------------===//
#include "Driver.h"
#include "Options.h"
#include "Plot.h"

#include "CodeGen/Jit.h"
#include "CodeGen/ModelCodeGen.h"
#include "sora/runtime.h"

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace sorac {

namespace {

const Command kRun{
    "sorac run",
    RunVis | EvalVis,
    RunVis,
    "sorac run: compile FILE.sora in-process and train it",
    "sorac run FILE.sora [options]   (FILE.sora '-': standard input)\n"
    "       (sorac eval --help: evaluate a checkpoint)",
    "\nOn a terminal, each epoch shows a live progress bar that its summary\n"
    "line then replaces; otherwise (a pipe, a file) the summary lines only.\n"};

const Command kEval{
    "sorac eval",
    RunVis | EvalVis,
    EvalVis,
    "sorac eval: evaluate the checkpoint W on the train block's test data",
    "sorac eval FILE.sora --weights W.safetensors [options]",
    nullptr};

struct RunOptions {
  bool eval = false;
  std::string input, data, model, init, save, weights, report, log, plot;
  int64_t epochs = 0, limit = 0, seed = -1, threads = 1;
  bool profile = false, quiet = false;
};

/// Refuses (prints why, false) a path that cannot become a file: a
/// directory, or one in a directory that does not exist. Checked before
/// training, which may take hours, rather than at the save after it.
bool canCreate(const std::string &path) {
  struct stat st;
  int error = 0;
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path.substr(0, slash);
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    error = EISDIR;
  else if (stat(dir.c_str(), &st) != 0)
    error = errno;
  else if (!S_ISDIR(st.st_mode))
    error = ENOTDIR;
  if (error)
    std::cerr << "sorac: error: cannot write '" << path
              << "': " << std::strerror(error) << "\n";
  return error == 0;
}

/// Takes one argument into `o` (parseCommandLine's `each`).
int takeRunArg(RunOptions &o, const llvm::opt::Arg &arg) {
  const Command &command = o.eval ? kEval : kRun;
  auto usage = [&](const std::string &message) {
    return usageError(message, command.name);
  };
  const llvm::opt::Option &option = arg.getOption();
  std::string flag = option.getPrefixedName().str();
  std::string value = arg.getNumValues() ? arg.getValue() : "";
  // Each command takes only what its usage lists.
  if (option.getID() != OPT_INPUT && !option.hasVisibilityFlag(command.lists))
    return usage(o.eval ? "'" + flag + "' is for sorac run: eval trains nothing"
                        : "'" + flag +
                              "' is for sorac eval; sorac run starts from a "
                              "checkpoint with --init");
  switch (option.getID()) {
  case OPT_INPUT:
    if (!o.input.empty())
      return usage("more than one input file");
    o.input = value;
    break;
  case OPT_profile:
    o.profile = true;
    break;
  case OPT_quiet:
    o.quiet = true;
    break;
  case OPT_data:
    o.data = value;
    break;
  case OPT_model:
    o.model = value;
    break;
  case OPT_init:
    o.init = value;
    break;
  case OPT_save:
    o.save = value;
    break;
  case OPT_weights:
    o.weights = value;
    break;
  case OPT_log:
  case OPT_plot:
    if (value.empty())
      return usage(flag + " needs a file name");
    (option.getID() == OPT_log ? o.log : o.plot) = value;
    break;
  case OPT_report:
    if (value != "json")
      return usage("--report takes 'json'");
    o.report = value;
    break;
  case OPT_epochs:
  case OPT_limit:
  case OPT_seed:
  case OPT_threads: {
    int64_t n;
    if (!parseCount(value, n))
      return usage(flag + " needs a whole number, got '" + value + "'");
    // 0 would mean "the train block's" / "all": say so rather than do it.
    if (n == 0 && option.getID() != OPT_seed)
      return usage(flag + " needs at least 1");
    (option.getID() == OPT_epochs  ? o.epochs
     : option.getID() == OPT_limit ? o.limit
     : option.getID() == OPT_seed  ? o.seed
                                   : o.threads) = n;
    break;
  }
  default:
    throw std::logic_error(std::string(command.name) +
                           " takes an option it does not handle: " + flag);
  }
  return kGoOn;
}

int parseRunArgs(int argc, char **argv, RunOptions &o) {
  o.eval = std::string(argv[1]) == "eval";
  const Command &command = o.eval ? kEval : kRun;
  auto usage = [&](const std::string &message) {
    return usageError(message, command.name);
  };
  // run and eval compile for this machine: one line that says what to do
  // instead, before anything else (no --help to point at).
  for (int i = 2; i < argc; ++i)
    for (llvm::StringRef flag : {"--target", "--mcpu"})
      if (llvm::StringRef(argv[i]) == flag ||
          llvm::StringRef(argv[i]).starts_with((flag + "=").str())) {
        std::cerr << "sorac: error: " << flag.str() << " cannot be used with "
                  << command.name
                  << ", which runs the model on this machine; "
                     "cross-compile with sorac FILE.sora "
                  << flag.str() << "=...\n";
        return kUsageError;
      }
  int status =
      parseCommandLine(command, {argv + 2, argv + argc},
                       [&](const llvm::opt::Arg &arg, llvm::StringRef) {
                         return takeRunArg(o, arg);
                       });
  if (status != kGoOn)
    return status;
  if (o.input.empty())
    return usage("no input file");
  if (o.eval && o.weights.empty())
    return usage("sorac eval needs --weights W.safetensors");
  if (!o.log.empty() && !o.plot.empty() && sameFile(o.log, o.plot))
    return usage("--log and --plot name the same file '" + o.log + "'");
  if (!o.plot.empty()) {
    // The plot is SVG whatever the name says; a .png would not open.
    std::string ext =
        o.plot.size() >= 4 ? o.plot.substr(o.plot.size() - 4) : "";
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (ext != ".svg")
      return usage("--plot writes SVG: name the file *.svg, not '" + o.plot +
                   "'");
  }
  if (!o.data.empty()) {
    // Else the data lookup would quietly fall back to its other places.
    struct stat st;
    if (stat(o.data.c_str(), &st) != 0) {
      std::cerr << "sorac: error: --data '" << o.data
                << "': " << std::strerror(errno) << "\n";
      return kUsageError;
    }
    if (!S_ISDIR(st.st_mode)) {
      std::cerr << "sorac: error: --data '" << o.data
                << "' is not a directory\n";
      return kUsageError;
    }
  }
  // Never write over what is read; --save may name the --init file
  // (resuming in place: the save is atomic).
  if (!outputsSpareInputs({o.save}, {o.input, o.weights}) ||
      !outputsSpareInputs({o.log, o.plot}, {o.input, o.init, o.weights}))
    return kUsageError;
  for (const std::string *out : {&o.save, &o.plot})
    if (!out->empty() && !canCreate(*out))
      return kInputError;
  return kGoOn;
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

/// A number for the CSV log: empty where the metric does not apply.
std::string csv(double v) {
  if (!std::isfinite(v))
    return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

const char *kLogHeader =
    "epoch,loss,accuracy,mae,rmse,val_loss,val_accuracy,val_mae,val_rmse,"
    "seconds,top_k_accuracy,precision,recall,auc,val_top_k_accuracy,"
    "val_precision,val_recall,val_auc\n";

/// `, "<prefix>top_k_accuracy": ...` and the same of precision, recall
/// and auc (null where not asked for), for --report json.
std::string metricsJson(const char *prefix, double topK, double precision,
                        double recall, double auc) {
  std::string out;
  for (auto [name, v] : {std::pair{"top_k_accuracy", topK},
                         {"precision", precision},
                         {"recall", recall},
                         {"auc", auc}})
    out += std::string(", \"") + prefix + name + "\": " + json(v);
  return out;
}

/// Collects what the runtime reports after each epoch, and writes the log.
struct Progress {
  std::vector<sora_epoch_report> history; ///< this run's epochs, in order
  double seconds = 0;
  bool accuracy = false;    ///< the model reports accuracy (as fit prints it)
  std::FILE *log = nullptr; ///< --log, open; flushed after every row
  bool logFailed = false;   ///< a row could not be written (training stopped)
};

int collect(const sora_epoch_report *r, void *user) {
  auto *p = static_cast<Progress *>(user);
  p->history.push_back(*r);
  p->seconds += r->seconds;
  if (p->log) {
    // mae, rmse and the later metrics (after seconds, so that the first
    // columns stay where they were) are NaN (empty) unless the train block
    // asks for them.
    std::string row = std::to_string(r->epoch);
    for (double v : {r->loss, p->accuracy ? r->accuracy : NAN, r->mae, r->rmse,
                     r->val_loss, p->accuracy ? r->val_accuracy : NAN,
                     r->val_mae, r->val_rmse, r->seconds, r->top_k_accuracy,
                     r->precision, r->recall, r->auc, r->val_top_k_accuracy,
                     r->val_precision, r->val_recall, r->val_auc})
      row += "," + csv(v);
    row += "\n";
    if (std::fputs(row.c_str(), p->log) < 0 || std::fflush(p->log) != 0) {
      p->logFailed = true;
      return 1; // stop: the curves asked for could not be kept
    }
  }
  return 0;
}

/// A file of --log or --plot, opened before training so that a path that
/// cannot be written fails before the work. The plot is written to a
/// temporary name and renamed into place once complete; the log is the
/// file itself, a row flushed as each epoch ends. Closed (and a temporary
/// removed) when it goes.
struct OutputFile {
  std::string path, tmp; ///< tmp: empty for the log
  std::FILE *file = nullptr;
  ~OutputFile() {
    if (file)
      std::fclose(file);
    if (!tmp.empty())
      std::remove(tmp.c_str());
  }
  bool open(const std::string &to, bool atomically) {
    path = to;
    if (atomically)
      tmp = to + ".tmp" + std::to_string(getpid());
    file = std::fopen((atomically ? tmp : to).c_str(), "w");
    if (!file)
      tmp.clear();
    return file || fail();
  }
  /// Writes `text`, closes, renames into place.
  bool finish(const std::string &text) {
    bool ok = std::fputs(text.c_str(), file) >= 0;
    ok = std::fclose(file) == 0 && ok;
    file = nullptr;
    if (ok && !tmp.empty())
      ok = std::rename(tmp.c_str(), path.c_str()) == 0;
    return ok || fail();
  }
  bool fail() {
    std::cerr << "sorac: error: cannot write '" << path
              << "': " << std::strerror(errno) << "\n";
    return false;
  }
};

/// Ctrl-C during training: the runtime stops after the step in progress.
extern "C" void onInterrupt(int) { sora_request_stop(); }

int runtimeError(const char *what) {
  std::cerr << "sorac: error: " << what << ": " << sora_last_error() << "\n";
  return kInputError;
}

} // namespace

/// Under mpirun (Open MPI's or a PMI launcher's world of more than one
/// rank)?
static bool launchedByMpirun() {
  for (const char *var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char *v = std::getenv(var); v && std::atoi(v) > 1)
      return true;
  return false;
}

namespace {
/// The MPI layer (sora/mpi.h) in the plugin sorac_mpi.so, loaded only under
/// mpirun so that sorac itself needs no MPI library to start.
struct MpiPlugin {
  sora_status (*init)(int *, char ***) = nullptr;
  void (*finalize)() = nullptr;
  void (*abort)(int) = nullptr;
};
} // namespace

/// Loads the plugin from SORAC_MPI_PLUGIN relative to this executable's
/// folder (bin/ -> lib/sorac/, in the build tree as when installed); false
/// with a message that says why not.
static bool loadMpiPlugin(MpiPlugin &p) {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable("sorac", &anchor);
  llvm::SmallString<256> path(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(path, SORAC_MPI_PLUGIN);
  llvm::sys::path::remove_dots(path, /*remove_dot_dot=*/true);
  if (!llvm::sys::fs::exists(path)) {
    std::cerr << "sorac: error: started by mpirun, but this sorac has no MPI "
                 "plugin ('"
              << path.str().str()
              << "' is missing: build sorac where MPI is installed, e.g. "
                 "libopenmpi-dev)\n";
    return false;
  }
  // RTLD_GLOBAL: Open MPI's own components look up libmpi's symbols.
  void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (h) {
    p.init = reinterpret_cast<decltype(p.init)>(dlsym(h, "sora_mpi_init"));
    p.finalize =
        reinterpret_cast<decltype(p.finalize)>(dlsym(h, "sora_mpi_finalize"));
    p.abort = reinterpret_cast<decltype(p.abort)>(dlsym(h, "sora_mpi_abort"));
  }
  if (!h || !p.init || !p.finalize || !p.abort) {
    std::cerr << "sorac: error: cannot load the MPI plugin '"
              << path.str().str() << "': " << dlerror() << "\n";
    return false;
  }
  return true;
}

static int runModel(RunOptions &o);

int runCommand(int argc, char **argv) {
  RunOptions o;
  int status = parseRunArgs(argc, argv, o);
  if (status != kGoOn)
    return status;
  // mpirun -np N sorac run: data-parallel training (docs/distributed.md).
  // Only rank 0 prints, saves and writes the log, the plot and the report.
  if (!o.eval && launchedByMpirun()) {
    MpiPlugin mpi;
    if (!loadMpiPlugin(mpi))
      return kInputError;
    if (mpi.init(nullptr, nullptr) != SORA_OK)
      return runtimeError("cannot start MPI");
    if (sora_rank() != 0) {
      o.quiet = true;
      o.profile = false;
      o.save.clear();
      o.log.clear();
      o.plot.clear();
      o.report.clear();
    }
    status = runModel(o);
    // A failed rank would leave the others waiting in an allreduce.
    if (status != kOk && status != 130 && sora_world_size() > 1)
      mpi.abort(status);
    mpi.finalize();
    return status;
  }
  return runModel(o);
}

static int runModel(RunOptions &o) {
  // From here on Ctrl-C stops training after the step in progress (or right
  // after its first step when pressed while compiling or loading).
  std::signal(SIGINT, onInterrupt);

  FrontEnd fe;
  if (int status = fe.load(o.input, o.model, o.eval ? "eval" : "run");
      status != kGoOn)
    return status;
  const sora::dsl::Model *model = &fe.model();

  // Compile as for an object file, then JIT; the data-parallel kernels
  // only under mpirun (a tenth of the compile time).
  sora::ir::CompiledModel cm = sora::ir::buildModelGraphs(
      *model, fe.directory(), sora::ir::PipelineOptions::standard(),
      launchedByMpirun() ? sora::ir::ModelGraphs::DataParallel
                         : sora::ir::ModelGraphs::Training);
  cm.profile = o.profile;
  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, *ctx).module;
  sora::Jit jit(std::move(mod), std::move(ctx), 2);
  const auto *desc =
      static_cast<const sora_model_desc *>(jit.lookup(model->name + "_desc"));

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
  if (*sora_last_note())
    std::cerr << "sorac: note: " << sora_last_note() << "\n";
  const char *dataDir = o.data.empty() ? nullptr : o.data.c_str();

  Progress progress;
  sora_metrics test{NAN, NAN, 0, NAN, NAN, NAN, NAN, NAN, NAN};
  if (o.eval) {
    sora_dataset set;
    if (!desc->test.images && !desc->test.path) {
      std::cerr << "sorac: error: the train block of '" << model->name
                << "' has no test data to evaluate on\n";
      return kInputError;
    }
    if (sora_dataset_load_inputs(&desc->test, desc->num_inputs, desc->inputs,
                                 dataDir, desc->source_dir, &set) != SORA_OK)
      return runtimeError("cannot load the test data");
    sora_status s =
        sora_model_evaluate(m, set.x, set.y, size_t(set.count), &test);
    sora_dataset_free(&set);
    if (s != SORA_OK)
      return runtimeError("cannot evaluate");
    if (!o.quiet) {
      // As fit prints its test line: the metrics that apply (NaN: do not).
      std::printf("test: loss: %.4f", test.loss);
      for (auto [name, value] : {std::pair{"accuracy", test.accuracy},
                                 {"mae", test.mae},
                                 {"rmse", test.rmse},
                                 {"top_k_accuracy", test.top_k_accuracy},
                                 {"precision", test.precision},
                                 {"recall", test.recall},
                                 {"auc", test.auc}})
        if (!std::isnan(value))
          std::printf(" - %s: %.4f", name, value);
      std::printf(" (%lld samples)\n", (long long)test.count);
    }
  } else {
    // As fit shows accuracy: where the train block asks for it and it
    // applies.
    progress.accuracy = (desc->metrics & SORA_METRIC_ACCURACY) != 0 &&
                        desc->accuracy_kind != SORA_ACCURACY_NONE;
    OutputFile log, plot;
    if (!o.log.empty()) {
      if (!log.open(o.log, false))
        return kInputError;
      progress.log = log.file;
      if (std::fputs(kLogHeader, log.file) < 0 || std::fflush(log.file) != 0) {
        log.fail();
        return kInputError;
      }
    }
    if (!o.plot.empty() && !plot.open(o.plot, true))
      return kInputError;
    sora_fit_options fit = sora_fit_defaults();
    fit.epochs = o.epochs;
    fit.limit = o.limit;
    fit.seed = o.seed;
    fit.callback = collect;
    fit.user = &progress;
    fit.test = &test;
    fit.verbose = !o.quiet;
    // The live bar is for a person watching a terminal; a pipe or a file
    // (and TERM=dumb) gets the plain lines that scripts read.
    const char *term = std::getenv("TERM");
    // Under mpirun, whose forwarding of a child's output hands it a
    // terminal of its own, the plain lines too.
    fit.progress = !o.quiet && isatty(STDOUT_FILENO) &&
                   !(term && std::strcmp(term, "dumb") == 0) &&
                   sora_world_size() == 1;
    sora_status s = sora_model_fit(m, dataDir, &fit);
    if (progress.logFailed) {
      log.fail();
      return kInputError;
    }
    if (s == SORA_INTERRUPTED) {
      // Keep the work: the checkpoint of the last finished step, from which
      // --init resumes exactly; 130 is a shell's status for SIGINT.
      std::cerr << "sorac: " << sora_last_error();
      if (!o.save.empty()) {
        if (sora_model_save(m, o.save.c_str()) != SORA_OK)
          return runtimeError("cannot save the model");
        std::cerr << "; saved to " << o.save << " (resume with --init)";
      }
      std::cerr << "\n";
      if (!o.log.empty())
        log.finish("");
      return 130;
    }
    if (s != SORA_OK)
      return runtimeError("training failed"); // --save keeps the last file
    if (o.quiet && o.profile && !progress.history.empty())
      sora_profile_print(desc, int64_t(progress.history.size()));
    if (!o.save.empty() && sora_model_save(m, o.save.c_str()) != SORA_OK)
      return runtimeError("cannot save the model");
    if (!o.log.empty() && !log.finish(""))
      return kInputError;
    if (!o.plot.empty() &&
        !plot.finish(plotSvg(model->name, o.input, progress.history,
                             progress.seconds, progress.accuracy)))
      return kInputError;
  }
  std::fflush(stdout);
  if (o.report == "json") {
    bool trained = !progress.history.empty();
    const sora_epoch_report last =
        trained ? progress.history.back() : sora_epoch_report{};
    // Early stopping's restored weights are the best epoch's: its metrics
    // are those of the weights the run ends with.
    sora_epoch_report r = last;
    const sora_early_stopping *es = desc->early_stopping;
    if (es && es->restore_best)
      for (const sora_epoch_report &e : progress.history)
        if (e.epoch == last.best_epoch)
          r = e;
    std::cout << "{\"model\": \"" << model->name
              << "\", \"epochs\": " << sora_model_epoch(m)
              << ", \"steps\": " << sora_model_step(m)
              << ", \"train_loss\": " << json(trained ? r.loss : NAN)
              << ", \"train_accuracy\": " << json(trained ? r.accuracy : NAN)
              << ", \"train_mae\": " << json(trained ? r.mae : NAN)
              << ", \"train_rmse\": " << json(trained ? r.rmse : NAN)
              << ", \"val_loss\": " << json(trained ? r.val_loss : NAN)
              << ", \"val_accuracy\": " << json(trained ? r.val_accuracy : NAN)
              << ", \"val_mae\": " << json(trained ? r.val_mae : NAN)
              << ", \"val_rmse\": " << json(trained ? r.val_rmse : NAN)
              << ", \"test_loss\": " << json(test.loss)
              << ", \"test_accuracy\": " << json(test.accuracy)
              << ", \"test_mae\": " << json(test.mae)
              << ", \"test_rmse\": " << json(test.rmse)
              << metricsJson("train_", trained ? r.top_k_accuracy : NAN,
                             trained ? r.precision : NAN,
                             trained ? r.recall : NAN, trained ? r.auc : NAN)
              << metricsJson("val_", trained ? r.val_top_k_accuracy : NAN,
                             trained ? r.val_precision : NAN,
                             trained ? r.val_recall : NAN,
                             trained ? r.val_auc : NAN)
              << metricsJson("test_", test.top_k_accuracy, test.precision,
                             test.recall, test.auc)
              << ", \"stopped_epoch\": "
              << (last.stopping ? std::to_string(last.epoch) : "null")
              << ", \"best_epoch\": "
              << (es && trained ? std::to_string(last.best_epoch) : "null")
              << ", \"train_seconds\": " << json(progress.seconds) << "}\n";
  }
  return kOk;
}

} // namespace sorac
