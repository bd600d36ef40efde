//===- conformance.cpp - ONNX's backend tests through sorac ---------------===//
//
//   conformance [--suite DIR]... [--report FILE.md] [--baseline FILE]
//               [--update-baseline] [--test NAME] [-O N] [-j N]
//
// Runs ONNX's node tests and PyTorch-converted models (libonnx-testdata;
// docs/onnx-conformance.md): each test's model is imported with its first
// graph input as the model's input and the others as constants, compiled
// in-process through the JIT, run on the stored inputs and compared with
// the stored outputs at ONNX's backend tolerances. Each test runs in a
// child process, so that a crash or a hang is that test's failure, not the
// run's. The baseline lists the tests that passed before; the run fails
// when one of them no longer does (the count only ratchets up).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/Jit.h"
#include "CodeGen/ModelCodeGen.h"
#include "Onnx/BakeWeights.h"
#include "Onnx/OnnxImport.h"
#include "Onnx/Tensors.h"
#include "sora/runtime.h"

#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using ::onnx::TensorProto;
using sora::onnx::NamedTensor;

namespace {

// ONNX's backend runner compares with np.testing.assert_allclose(actual,
// expected, rtol=1e-3, atol=1e-7) for every test of these suites (only the
// downloaded "real" models' data.json may set others).
constexpr double kRtol = 1e-3, kAtol = 1e-7;
// A test that runs longer is stuck (the slowest take about a second).
constexpr unsigned kTestSeconds = 60;

enum class Status { Pass, Fail, Unsupported, NotF32 };

const char *statusName(Status s) {
  switch (s) {
  case Status::Pass:
    return "pass";
  case Status::Fail:
    return "fail";
  case Status::Unsupported:
    return "unsupported";
  case Status::NotF32:
    return "not f32";
  }
  return "?";
}

struct Test {
  std::string name; ///< "node/test_relu"
  fs::path dir;
  std::string op; ///< the single node's op_type, else the folder's name
  Status status = Status::Fail;
  std::string detail; ///< why it does not pass
};

struct Options {
  std::vector<std::string> suites;
  std::string report, baseline, only;
  bool update = false;
  int optLevel = 0, jobs = 1;
};

/// A test's failure, thrown inside runTest.
struct Outcome {
  Status status;
  std::string detail;
};

bool readProto(const fs::path &path, google::protobuf::MessageLite &m) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream bytes;
  bytes << in.rdbuf();
  return m.ParseFromString(bytes.str());
}

bool isInt(int t) {
  return t == TensorProto::INT64 || t == TensorProto::INT32 ||
         t == TensorProto::INT16 || t == TensorProto::INT8 ||
         t == TensorProto::UINT8 || t == TensorProto::UINT16 ||
         t == TensorProto::UINT32;
}

/// The graph inputs that are not initializers (older models list both).
std::vector<const ::onnx::ValueInfoProto *>
runtimeInputs(const ::onnx::GraphProto &g) {
  std::set<std::string> init;
  for (const auto &t : g.initializer())
    init.insert(t.name());
  std::vector<const ::onnx::ValueInfoProto *> ins;
  for (const auto &in : g.input())
    if (!init.count(in.name()))
      ins.push_back(&in);
  return ins;
}

int elemType(const ::onnx::ValueInfoProto &v) {
  return v.type().has_tensor_type() ? v.type().tensor_type().elem_type() : 0;
}

/// Files the test under its operator, and settles the tests sorac cannot
/// compare: float32 outputs and a float or integer first input only.
void classify(Test &t) {
  ::onnx::ModelProto m;
  t.op = t.dir.filename().string();
  if (!readProto(t.dir / "model.onnx", m)) {
    t.status = Status::Unsupported;
    t.detail = "model.onnx does not parse";
    return;
  }
  const auto &g = m.graph();
  if (g.node_size() == 1)
    t.op = g.node(0).op_type();
  for (const auto &o : g.output())
    if (elemType(o) != TensorProto::FLOAT) {
      t.status = Status::NotF32;
      t.detail = "output '" + o.name() + "' is " +
                 sora::onnx::elementTypeName(elemType(o));
      return;
    }
  auto ins = runtimeInputs(g);
  if (!ins.empty() && elemType(*ins[0]) != TensorProto::FLOAT &&
      !isInt(elemType(*ins[0]))) {
    t.status = Status::NotF32;
    t.detail = "input '" + ins[0]->name() + "' is " +
               sora::onnx::elementTypeName(elemType(*ins[0]));
  }
}

/// The importer's first error without the file's path.
std::string firstLine(const std::string &errors, const std::string &path) {
  std::string line = errors.substr(0, errors.find('\n'));
  if (line.compare(0, path.size() + 2, path + ": ") == 0)
    line = line.substr(path.size() + 2);
  return line;
}

std::string shapeText(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

NamedTensor readTensor(const fs::path &file, std::vector<int64_t> *ints) {
  TensorProto t;
  if (!readProto(file, t))
    throw Outcome{Status::Fail, file.filename().string() + " does not parse"};
  NamedTensor out;
  std::string error;
  bool ok = ints ? sora::onnx::readInts(t, file.parent_path(), *ints, error)
                 : sora::onnx::readFloats(t, file.parent_path(), out, error);
  if (!ok)
    throw Outcome{Status::Unsupported, file.filename().string() + ": " + error};
  out.shape.assign(t.dims().begin(), t.dims().end());
  return out;
}

/// `y` against `expected` as assert_allclose does (NaN matches NaN); a
/// description of the mismatches, empty when none.
std::string compare(const std::vector<float> &y,
                    const std::vector<float> &expected, bool verbose) {
  size_t bad = 0, worst = 0;
  double maxError = -1;
  for (size_t i = 0; i < y.size(); ++i) {
    double a = y[i], e = expected[i];
    bool ok = (std::isnan(a) && std::isnan(e)) || a == e ||
              std::fabs(a - e) <= kAtol + kRtol * std::fabs(e);
    if (ok)
      continue;
    double error = std::isnan(a - e) ? INFINITY : std::fabs(a - e);
    if (verbose && bad < 10)
      std::cout << "  [" << i << "] expected " << e << ", got " << a << "\n";
    ++bad;
    if (error > maxError) {
      maxError = error;
      worst = i;
    }
  }
  if (!bad)
    return "";
  std::ostringstream ss;
  ss << bad << " of " << y.size() << " values differ; max error "
     << std::setprecision(3) << maxError << " at [" << worst << "] (expected "
     << expected[worst] << ", got " << y[worst] << ")";
  return ss.str();
}

/// `proto` with its first input's leading dimension symbolic, written to
/// a temporary file (which the caller removes).
std::string batchedCopy(::onnx::ModelProto proto, const std::string &name) {
  auto *g = proto.mutable_graph();
  std::set<std::string> init;
  for (const auto &t : g->initializer())
    init.insert(t.name());
  for (auto &in : *g->mutable_input())
    if (!init.count(in.name())) {
      auto *dim = in.mutable_type()
                      ->mutable_tensor_type()
                      ->mutable_shape()
                      ->mutable_dim(0);
      dim->set_dim_param("batch");
      break;
    }
  std::string file = name;
  std::replace(file.begin(), file.end(), '/', '_');
  fs::path path =
      fs::temp_directory_path() /
      ("sorac-conformance-" + std::to_string(getpid()) + "-" + file + ".onnx");
  std::ofstream out(path, std::ios::binary);
  proto.SerializeToOstream(&out);
  return path.string();
}

/// One data set of a test: imports with its inputs, compiles, predicts and
/// compares; throws the Outcome when it does not pass.
void runDataSet(const Test &t, const fs::path &set, const Options &o,
                bool verbose) {
  ::onnx::ModelProto proto;
  readProto(t.dir / "model.onnx", proto);
  const auto &g = proto.graph();
  auto ins = runtimeInputs(g);
  if (ins.empty())
    throw Outcome{Status::Unsupported, "the graph has no inputs"};
  // input_K.pb is graph input K (as ONNX's runner reads them).
  NamedTensor x;
  std::vector<int64_t> ids;
  bool integer = isInt(elemType(*ins[0]));
  sora::onnx::ImportOptions options;
  options.name = "model";
  for (int k = 0; k < g.input_size(); ++k) {
    fs::path file = set / ("input_" + std::to_string(k) + ".pb");
    if (!fs::exists(file))
      break;
    const std::string &name = g.input(k).name();
    if (name == ins[0]->name()) {
      x = readTensor(file, integer ? &ids : nullptr);
    } else {
      NamedTensor c = readTensor(file, nullptr);
      c.name = name;
      options.constantInputs.push_back(std::move(c));
    }
  }
  std::string path = (t.dir / "model.onnx").string();
  std::ostringstream errors;
  auto imported = sora::onnx::importModel(path, errors, options);
  // A fixed leading dimension makes the whole input one sample; a model
  // that sorac cannot import so (a convolution wants [1, C, H, W]) is tried
  // again with that dimension as the batch: its samples one row each.
  const auto &shape = ins[0]->type().tensor_type().shape();
  bool batched = shape.dim_size() > 0 && !shape.dim(0).has_dim_value();
  if (!imported && !batched && shape.dim_size() > 1 &&
      shape.dim(0).dim_value() > 1) {
    std::string copy = batchedCopy(proto, t.name);
    std::ostringstream again;
    imported = sora::onnx::importModel(copy, again, options);
    fs::remove(copy);
    batched = imported.has_value();
    if (verbose)
      std::cout << errors.str() << "again with the first dimension as the "
                << "batch:\n";
    if (!imported) { // both reasons: either may be what stops the model
      if (verbose)
        std::cout << again.str();
      throw Outcome{Status::Unsupported,
                    firstLine(errors.str(), path) +
                        " (with the leading dimension as the batch: " +
                        firstLine(again.str(), copy) + ")"};
    }
  }
  if (!imported) {
    if (verbose)
      std::cout << errors.str();
    throw Outcome{Status::Unsupported, firstLine(errors.str(), path)};
  }

  sora::ir::CompiledModel cm = sora::ir::buildModelGraphs(
      imported->model, t.dir.string(), sora::ir::PipelineOptions::standard(),
      sora::ir::ModelGraphs::Predict);
  cm.bakedParams = sora::onnx::bakeWeights(cm.layout, imported->weights);
  if (verbose)
    sora::ir::print(std::cout, *cm.predict);
  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, *ctx).module;
  std::string verifyErrors;
  llvm::raw_string_ostream verifyStream(verifyErrors);
  if (llvm::verifyModule(*mod, &verifyStream))
    throw Outcome{Status::Fail, "invalid LLVM IR: " + verifyErrors};
  sora::Jit jit(std::move(mod), std::move(ctx), o.optLevel);
  const auto *desc = static_cast<const sora_model_desc *>(
      jit.lookup(cm.symbolPrefix() + "_desc"));

  size_t count = integer ? ids.size() : x.data.size();
  size_t n = batched && !x.shape.empty() ? size_t(x.shape[0]) : 1;
  if (n == 0 || count != n * size_t(desc->input_size))
    throw Outcome{Status::Fail, "the input " + shapeText(x.shape) + " is not " +
                                    std::to_string(n) + " samples of " +
                                    std::to_string(desc->input_size)};
  std::vector<float> rows(count);
  if (integer)
    for (size_t i = 0; i < count; ++i) {
      int32_t id = int32_t(ids[i]); // the runtime's ids: int32 bit patterns
      std::memcpy(&rows[i], &id, sizeof id);
    }
  else
    rows = x.data;

  sora_model *m = nullptr;
  if (sora_model_create(desc, &m) != SORA_OK)
    throw Outcome{Status::Fail,
                  std::string("sora_model_create: ") + sora_last_error()};
  std::vector<float> y(n * size_t(desc->output_size));
  sora_status s = sora_model_predict(m, rows.data(), n, y.data());
  sora_model_destroy(m);
  if (s != SORA_OK)
    throw Outcome{Status::Fail,
                  std::string("sora_model_predict: ") + sora_last_error()};

  NamedTensor expected = readTensor(set / "output_0.pb", nullptr);
  if (verbose)
    std::cout << "input " << shapeText(x.shape) << " as " << n << " x "
              << desc->input_size << "; output " << shapeText(expected.shape)
              << ", sorac's " << n << " x " << desc->output_size << "\n";
  if (expected.data.size() != y.size())
    throw Outcome{Status::Fail, "the output has " + std::to_string(y.size()) +
                                    " values, ONNX's " +
                                    shapeText(expected.shape)};
  std::string mismatch = compare(y, expected.data, verbose);
  if (!mismatch.empty())
    throw Outcome{Status::Fail, mismatch};
}

/// Runs every data set of `t`; its outcome.
Outcome runTest(const Test &t, const Options &o, bool verbose) {
  std::vector<fs::path> sets;
  for (const auto &e : fs::directory_iterator(t.dir))
    if (e.is_directory() &&
        e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty())
    return {Status::Unsupported, "no test_data_set_* folder"};
  try {
    for (const fs::path &set : sets)
      runDataSet(t, set, o, verbose);
  } catch (const Outcome &out) {
    return out;
  } catch (const std::exception &e) {
    // A compiler error on a model the importer accepted: sorac's bug.
    std::string what = e.what();
    return {Status::Fail, "exception: " + what.substr(0, what.find('\n'))};
  }
  return {Status::Pass, ""};
}

// --- Running the tests in child processes ---------------------------------

struct Child {
  pid_t pid;
  int fd;
  Test *test;
  std::string out;
};

Child start(Test &t, const Options &o) {
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error("pipe failed");
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(fds[0]);
    alarm(kTestSeconds);
    // LLVM's and the runtime's own messages would interleave.
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    Outcome out = runTest(t, o, false);
    std::string line =
        std::to_string(int(out.status)) + "\t" + out.detail + "\n";
    for (size_t done = 0; done < line.size();) {
      ssize_t w = write(fds[1], line.data() + done, line.size() - done);
      if (w <= 0)
        break;
      done += size_t(w);
    }
    _exit(0); // no static destructors: the parent owns the process state
  }
  close(fds[1]);
  return {pid, fds[0], &t, ""};
}

void finish(Child &c) {
  int st = 0;
  waitpid(c.pid, &st, 0);
  close(c.fd);
  Test &t = *c.test;
  size_t tab = c.out.find('\t');
  if (tab != std::string::npos && WIFEXITED(st)) {
    t.status = Status(std::stoi(c.out.substr(0, tab)));
    t.detail = c.out.substr(tab + 1);
    if (!t.detail.empty() && t.detail.back() == '\n')
      t.detail.pop_back();
  } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
    t.status = Status::Fail;
    t.detail = "timed out after " + std::to_string(kTestSeconds) + " s";
  } else if (WIFSIGNALED(st)) {
    t.status = Status::Fail;
    t.detail = std::string("crashed: ") + strsignal(WTERMSIG(st));
  } else {
    t.status = Status::Fail;
    t.detail = "exited with status " + std::to_string(WEXITSTATUS(st)) +
               " before reporting";
  }
}

void runAll(std::vector<Test> &tests, const Options &o) {
  std::vector<Child> running;
  size_t next = 0;
  while (next < tests.size() || !running.empty()) {
    while (int(running.size()) < o.jobs && next < tests.size()) {
      Test &t = tests[next++];
      if (t.status != Status::NotF32 && t.detail.empty())
        running.push_back(start(t, o));
    }
    if (running.empty())
      continue;
    std::vector<pollfd> fds;
    for (const Child &c : running)
      fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0)
      continue;
    for (size_t i = fds.size(); i-- > 0;) {
      if (!fds[i].revents)
        continue;
      char buf[4096];
      ssize_t r = read(running[i].fd, buf, sizeof buf);
      if (r > 0) {
        running[i].out.append(buf, size_t(r));
        continue;
      }
      finish(running[i]);
      running.erase(running.begin() + long(i));
    }
  }
}

// --- Report and baseline ---------------------------------------------------

struct Counts {
  int tests = 0, pass = 0, fail = 0, unsupported = 0, notF32 = 0;
  void add(Status s) {
    ++tests;
    (s == Status::Pass          ? pass
     : s == Status::Fail        ? fail
     : s == Status::Unsupported ? unsupported
                                : notF32) += 1;
  }
  const char *status() const {
    int f32 = tests - notF32;
    if (f32 == 0)
      return "not f32";
    if (pass == f32)
      return "passes";
    if (pass > 0)
      return "partly";
    return fail > 0 ? "fails" : "unsupported";
  }
};

void writeTable(std::ostream &os, const std::map<std::string, Counts> &rows) {
  os << "| Operator | Tests | Pass | Fail | Unsupported | Not f32 | Status "
        "|\n|---|---:|---:|---:|---:|---:|---|\n";
  for (const auto &[op, c] : rows)
    os << "| " << op << " | " << c.tests << " | " << c.pass << " | " << c.fail
       << " | " << c.unsupported << " | " << c.notF32 << " | " << c.status()
       << " |\n";
}

void writeReport(const std::string &path, const std::vector<Test> &tests,
                 const Options &o) {
  std::map<std::string, Counts> single, multi;
  std::map<std::string, Counts> suites;
  Counts total;
  for (const Test &t : tests) {
    bool one = t.op.rfind("test_", 0) != 0;
    (one ? single : multi)[t.op].add(t.status);
    suites[t.name.substr(0, t.name.find('/'))].add(t.status);
    total.add(t.status);
  }
  std::ofstream os(path);
  os << "<!-- Generated by tests/onnx/conformance --report; do not edit. "
        "-->\n\n";
  os << "| Suite | Tests | f32 | Pass | Fail | Unsupported |\n"
        "|---|---:|---:|---:|---:|---:|\n";
  suites["all"] = total;
  for (const auto &[s, c] : suites)
    os << "| " << s << " | " << c.tests << " | " << c.tests - c.notF32 << " | "
       << c.pass << " | " << c.fail << " | " << c.unsupported << " |\n";
  os << "\nCompiled at -O" << o.optLevel << "; tolerances rtol " << kRtol
     << ", atol " << kAtol << ".\n\n### Operators (single-node tests)\n\n";
  writeTable(os, single);
  os << "\n### Models of several nodes (by test)\n\n";
  writeTable(os, multi);
  os << "\n### Why the f32 tests that do not pass fail\n\n";
  for (const Test &t : tests)
    if (t.status == Status::Fail || t.status == Status::Unsupported)
      os << "- `" << t.name << "` (" << statusName(t.status)
         << "): " << t.detail << "\n";
}

std::set<std::string> readBaseline(const std::string &path) {
  std::set<std::string> names;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#')
      names.insert(line);
  return names;
}

int usage(const std::string &message) {
  std::cerr << "conformance: " << message
            << "\nusage: conformance [--suite DIR]... [--report FILE.md] "
               "[--baseline FILE] [--update-baseline] [--test NAME] [-O N] "
               "[-j N]\n";
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--suite")
      o.suites.push_back(value());
    else if (a == "--report")
      o.report = value();
    else if (a == "--baseline")
      o.baseline = value();
    else if (a == "--update-baseline")
      o.update = true;
    else if (a == "--test")
      o.only = value();
    else if (a == "-O")
      o.optLevel = std::atoi(value().c_str());
    else if (a == "-j")
      o.jobs = std::max(1, std::atoi(value().c_str()));
    else
      return usage("unknown argument '" + a + "'");
  }
  if (o.suites.empty())
    for (const char *s : {"node", "pytorch-converted", "pytorch-operator"})
      o.suites.push_back(std::string("/usr/share/libonnx-testdata/data/") + s);
  if (o.update && o.baseline.empty())
    return usage("--update-baseline needs --baseline FILE");

  std::vector<Test> tests;
  for (const std::string &suite : o.suites) {
    if (!fs::is_directory(suite))
      return usage("no test folder '" + suite + "'");
    std::string prefix = fs::path(suite).filename().string();
    for (const auto &e : fs::directory_iterator(suite))
      if (fs::exists(e.path() / "model.onnx")) {
        Test t;
        t.dir = e.path();
        t.name = prefix + "/" + e.path().filename().string();
        tests.push_back(std::move(t));
      }
  }
  std::sort(tests.begin(), tests.end(),
            [](const Test &a, const Test &b) { return a.name < b.name; });

  if (!o.only.empty()) { // one test, in this process, saying what it does
    for (Test &t : tests)
      if (t.name == o.only || t.dir.filename() == o.only) {
        classify(t);
        Outcome out = t.status == Status::NotF32 ? Outcome{t.status, t.detail}
                                                 : runTest(t, o, true);
        std::cout << t.name << " (" << t.op << "): " << statusName(out.status)
                  << (out.detail.empty() ? "" : ": " + out.detail) << "\n";
        return out.status == Status::Pass ? 0 : 1;
      }
    return usage("no test '" + o.only + "'");
  }

  auto begin = std::chrono::steady_clock::now();
  for (Test &t : tests)
    classify(t);
  runAll(tests, o);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
          .count();

  Counts total;
  std::set<std::string> passing;
  for (const Test &t : tests) {
    total.add(t.status);
    if (t.status == Status::Pass)
      passing.insert(t.name);
  }
  std::cout << tests.size() << " tests, " << total.tests - total.notF32
            << " f32: " << total.pass << " pass, " << total.fail << " fail, "
            << total.unsupported << " unsupported (" << std::fixed
            << std::setprecision(1) << seconds << " s)\n";
  if (!o.report.empty())
    writeReport(o.report, tests, o);
  if (o.baseline.empty())
    return 0;
  if (o.update) {
    std::ofstream out(o.baseline);
    for (const std::string &name : passing)
      out << name << "\n";
    std::cout << "wrote " << passing.size() << " tests to " << o.baseline
              << "\n";
    return 0;
  }
  std::set<std::string> baseline = readBaseline(o.baseline);
  int lost = 0, gained = 0;
  for (const Test &t : tests) {
    if (baseline.count(t.name) && t.status != Status::Pass) {
      std::cout << "REGRESSION " << t.name << ": " << statusName(t.status)
                << ": " << t.detail << "\n";
      ++lost;
    } else if (!baseline.count(t.name) && t.status == Status::Pass) {
      std::cout << "newly passing: " << t.name << "\n";
      ++gained;
    }
  }
  if (gained)
    std::cout << gained << " tests pass that the baseline does not list; "
              << "conformance --baseline " << o.baseline
              << " --update-baseline adds them\n";
  if (lost)
    std::cout << lost << " tests of the baseline no longer pass\n";
  return lost ? 1 : 0;
}
