//===- Run.cpp - sorac run and sorac eval: compile in-process and train
//----===//
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
// the epoch callback.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"

#include "CodeGen/ModelCodeGen.h"
#include "CodeGen/Target.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"
#include "sora/runtime.h"

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Host.h>

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

// Laid out as `sorac --help` is: options at column 2, their text at 21.
const char *kRunUsage =
    "usage: sorac run FILE.sora [options]   (FILE.sora '-': standard input)\n"
    "       (sorac eval --help: evaluate a checkpoint)\n"
    "  --data DIR         look for the train block's data here first\n"
    "  --epochs N         train to N epochs (N >= 1) instead of the train\n"
    "                     block's\n"
    "  --limit N          use only the first N (>= 1) training samples\n"
    "  --seed N           seed weights and shuffling with N\n"
    "  --threads N        threads for the big loops (default 1); results\n"
    "                     are the same for every count\n"
    "  --model NAME       the model to train when the file has several\n"
    "  --init W           start from the checkpoint W (safetensors)\n"
    "  --save W           write the trained model to W (safetensors; W may\n"
    "                     be the --init file: the save is atomic)\n"
    "  --log FILE         write the training curves to FILE as CSV:\n"
    "                     epoch,loss,accuracy,mae,rmse,val_loss,\n"
    "                     val_accuracy,val_mae,val_rmse,seconds, one row\n"
    "                     per epoch, flushed as each ends\n"
    "  --plot FILE.svg    draw the training curves (loss, and accuracy\n"
    "                     where it applies) as an SVG picture\n"
    "  -q, --quiet        no progress and no metrics: only errors and what\n"
    "                     --report and --profile ask for\n"
    "  --report json      end with one line of JSON: the final metrics\n"
    "  --profile          time each layer's forward, backward and update\n"
    "  --version          the version of sorac and of its LLVM\n"
    "  -h, --help         this text\n"
    "On a terminal, each epoch shows a live progress bar that its summary\n"
    "line then replaces; otherwise (a pipe, a file) the summary lines only.\n";

const char *kEvalUsage =
    "usage: sorac eval FILE.sora --weights W.safetensors [options]\n"
    "Evaluates the checkpoint W on the train block's test data.\n"
    "  --weights W        the checkpoint to evaluate (safetensors)\n"
    "  --data DIR         look for the train block's data here first\n"
    "  --threads N        threads for the big loops (default 1); results\n"
    "                     are the same for every count\n"
    "  --model NAME       the model to evaluate when the file has several\n"
    "  -q, --quiet        no metrics: only errors and what --report asks for\n"
    "  --report json      end with one line of JSON: the test metrics\n"
    "  --version          the version of sorac and of its LLVM\n"
    "  -h, --help         this text\n";

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
  auto usage = [&](const std::string &message) {
    return usageError(message, o.eval ? "sorac eval" : "sorac run");
  };
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << (o.eval ? kEvalUsage : kRunUsage);
      return kOk;
    }
    if (arg == "--version") { // as `sorac --version`
      std::cout << "sorac version " << SORAC_VERSION << " (LLVM "
                << LLVM_VERSION_STRING
                << ")\nTarget: " << llvm::sys::getDefaultTargetTriple() << "\n";
      return kOk;
    }
    if (arg == "--profile") {
      if (o.eval)
        return usage("'--profile' is for sorac run: eval trains nothing");
      o.profile = true;
      continue;
    }
    if (arg == "-q" || arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    bool takesValue =
        flag == "--data" || flag == "--epochs" || flag == "--limit" ||
        flag == "--seed" || flag == "--threads" || flag == "--model" ||
        flag == "--init" || flag == "--save" || flag == "--weights" ||
        flag == "--report" || flag == "--log" || flag == "--plot";
    if (takesValue) {
      if (eq != std::string::npos)
        value = arg.substr(eq + 1);
      else if (i + 1 < argc)
        value = argv[++i];
      else
        return usage("option '" + flag + "' needs a value");
      // Each command takes only what its usage lists.
      bool runOnly = flag == "--epochs" || flag == "--limit" ||
                     flag == "--seed" || flag == "--init" || flag == "--save" ||
                     flag == "--log" || flag == "--plot";
      if (o.eval && runOnly)
        return usage("'" + flag + "' is for sorac run: eval trains nothing");
      if (!o.eval && flag == "--weights")
        return usage("'--weights' is for sorac eval; sorac run starts from a "
                     "checkpoint with --init");
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
    else if (flag == "--log" || flag == "--plot") {
      if (value.empty())
        return usage(flag + " needs a file name");
      (flag == "--log" ? o.log : o.plot) = value;
    } else if (flag == "--report") {
      if (value != "json")
        return usage("--report takes 'json'");
      o.report = value;
    } else if (flag == "--epochs" || flag == "--limit" || flag == "--seed" ||
               flag == "--threads") {
      int64_t n;
      if (!parseCount(value, n))
        return usage(flag + " needs a whole number, got '" + value + "'");
      // 0 would mean "the train block's" / "all": say so rather than do it.
      if (n == 0 && flag != "--seed")
        return usage(flag + " needs at least 1");
      (flag == "--epochs"  ? o.epochs
       : flag == "--limit" ? o.limit
       : flag == "--seed"  ? o.seed
                           : o.threads) = n;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage("unknown argument '" + arg + "'");
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

/// A number for the CSV log: empty where the metric does not apply.
std::string csv(double v) {
  if (!std::isfinite(v))
    return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

const char *kLogHeader = "epoch,loss,accuracy,mae,rmse,val_loss,val_accuracy,"
                         "val_mae,val_rmse,seconds\n";

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
    // mae and rmse are NaN (empty) unless the train block asks for them.
    std::string row = std::to_string(r->epoch);
    for (double v : {r->loss, p->accuracy ? r->accuracy : NAN, r->mae, r->rmse,
                     r->val_loss, p->accuracy ? r->val_accuracy : NAN,
                     r->val_mae, r->val_rmse, r->seconds})
      row += "," + csv(v);
    row += "\n";
    if (std::fputs(row.c_str(), p->log) < 0 || std::fflush(p->log) != 0) {
      p->logFailed = true;
      return 1; // stop: the curves asked for could not be kept
    }
  }
  return 0;
}

//===--- --plot: the training curves as SVG -------------------------------===//

/// Text made safe for XML.
std::string xmlEscape(const std::string &text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

/// A coordinate, to a tenth of a pixel.
std::string px(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", v);
  return text;
}

/// The step of about `target` ticks over `range`: 1, 2 or 5 times a power
/// of ten.
double tickStep(double range, int target) {
  double raw = range / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / magnitude;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
}

/// A tick label with as many decimals as `step` needs.
std::string tickLabel(double v, double step) {
  int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  char text[32];
  if (decimals > 6 || std::fabs(v) >= 1e7)
    std::snprintf(text, sizeof text, "%.3g", v);
  else
    std::snprintf(text, sizeof text, "%.*f", decimals,
                  std::fabs(v) < step * 1e-6 ? 0.0 : v);
  return text;
}

struct Curve {
  const char *id, *label, *color;
  bool dashed;
  std::vector<double> y; ///< per epoch; NaN or infinite: a gap
};

/// One panel of the plot: axes, grid, ticks, labels, legend and curves, the
/// plot area being (x, y, w, h). `unit` clamps the axis to [0, 1].
void drawPanel(std::ostringstream &svg, double x, double y, double w, double h,
               const std::vector<int64_t> &epochs,
               const std::vector<Curve> &curves, const char *axisLabel,
               bool unit) {
  // The value range: the finite points', widened to whole ticks.
  double lo = INFINITY, hi = -INFINITY;
  for (const Curve &c : curves)
    for (double v : c.y)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (!(lo <= hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-9 * std::max(1.0, std::fabs(hi))) {
    double pad = std::max(std::fabs(hi) * 0.1, 1e-3);
    lo -= pad;
    hi += pad;
  }
  double step = tickStep(hi - lo, 5);
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  if (unit) {
    lo = std::max(lo, 0.0);
    hi = std::min(hi, 1.0);
  }
  // A margin of 4% on every side keeps the points off the frame.
  double ylo = lo - 0.04 * (hi - lo), yhi = hi + 0.04 * (hi - lo);
  double e0 = double(epochs.front()), e1 = double(epochs.back());
  double xlo = e0 == e1 ? e0 - 1 : e0 - 0.04 * (e1 - e0);
  double xhi = e0 == e1 ? e1 + 1 : e1 + 0.04 * (e1 - e0);
  auto X = [&](double e) { return x + (e - xlo) / (xhi - xlo) * w; };
  auto Y = [&](double v) { return y + h - (v - ylo) / (yhi - ylo) * h; };

  svg << "<g class=\"panel\">\n";
  svg << "<rect x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"" << px(w)
      << "\" height=\"" << px(h) << "\" fill=\"#fbfbfb\" stroke=\"none\"/>\n";
  // Value ticks, with grid lines.
  for (double v = lo; v <= hi + step * 1e-6; v += step) {
    std::string ty = px(Y(v));
    svg << "<line x1=\"" << px(x) << "\" y1=\"" << ty << "\" x2=\"" << px(x + w)
        << "\" y2=\"" << ty << "\" stroke=\"#e3e3e3\" stroke-width=\"1\"/>\n"
        << "<line x1=\"" << px(x - 5) << "\" y1=\"" << ty << "\" x2=\"" << px(x)
        << "\" y2=\"" << ty << "\" stroke=\"#444\"/>\n"
        << "<text x=\"" << px(x - 8) << "\" y=\"" << ty
        << "\" dy=\"0.35em\" text-anchor=\"end\" font-size=\"11\" "
           "fill=\"#333\">"
        << tickLabel(v, step) << "</text>\n";
  }
  // Epoch ticks: whole epochs, about eight of them, within those drawn.
  double estep = std::max(1.0, tickStep(xhi - xlo, 8));
  for (double e = std::ceil(e0 / estep - 1e-9) * estep; e <= e1 + 1e-9;
       e += estep) {
    std::string tx = px(X(e));
    svg << "<line x1=\"" << tx << "\" y1=\"" << px(y) << "\" x2=\"" << tx
        << "\" y2=\"" << px(y + h)
        << "\" stroke=\"#efefef\" stroke-width=\"1\"/>\n"
        << "<line x1=\"" << tx << "\" y1=\"" << px(y + h) << "\" x2=\"" << tx
        << "\" y2=\"" << px(y + h + 5) << "\" stroke=\"#444\"/>\n"
        << "<text x=\"" << tx << "\" y=\"" << px(y + h + 18)
        << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333\">"
        << (long long)std::llround(e) << "</text>\n";
  }
  // The axes, and their labels.
  svg << "<path d=\"M" << px(x) << " " << px(y) << " V" << px(y + h) << " H"
      << px(x + w) << "\" fill=\"none\" stroke=\"#444\" stroke-width=\"1\"/>\n";
  svg << "<text x=\"" << px(x + w / 2) << "\" y=\"" << px(y + h + 38)
      << "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">epoch"
         "</text>\n";
  svg << "<text transform=\"translate(" << px(x - 48) << " " << px(y + h / 2)
      << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" "
         "fill=\"#222\">"
      << axisLabel << "</text>\n";
  // The curves: a path each (broken at missing points), and dots while
  // there are few enough epochs to tell them apart.
  bool dots = epochs.size() <= 60;
  for (const Curve &c : curves) {
    std::string d;
    bool pen = false;
    for (size_t i = 0; i < epochs.size(); ++i) {
      if (!std::isfinite(c.y[i])) {
        pen = false;
        continue;
      }
      d += (d.empty() ? "" : " ") + std::string(pen ? "L" : "M") +
           px(X(double(epochs[i]))) + " " + px(Y(c.y[i]));
      pen = true;
    }
    svg << "<path id=\"" << c.id << "\" d=\"" << d
        << "\" fill=\"none\" stroke=\"" << c.color
        << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
        << (c.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    if (dots) {
      svg << "<g fill=\"" << c.color << "\">";
      for (size_t i = 0; i < epochs.size(); ++i)
        if (std::isfinite(c.y[i]))
          svg << "<circle cx=\"" << px(X(double(epochs[i]))) << "\" cy=\""
              << px(Y(c.y[i])) << "\" r=\"2.5\"/>";
      svg << "</g>\n";
    }
  }
  // The legend, above the plot area's right end.
  double lx = x + w;
  for (size_t i = curves.size(); i-- > 0;) {
    const Curve &c = curves[i];
    lx -= 7.0 * std::strlen(c.label) + 34;
    svg << "<line x1=\"" << px(lx) << "\" y1=\"" << px(y - 12) << "\" x2=\""
        << px(lx + 22) << "\" y2=\"" << px(y - 12) << "\" stroke=\"" << c.color
        << "\" stroke-width=\"2\""
        << (c.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n"
        << "<text x=\"" << px(lx + 27) << "\" y=\"" << px(y - 12)
        << "\" dy=\"0.35em\" font-size=\"12\" fill=\"#222\">" << c.label
        << "</text>\n";
  }
  svg << "</g>\n";
}

/// The plot of --plot: loss per epoch, and accuracy in a second panel when
/// the model reports it; the validation curves dashed, where there are any.
std::string plotSvg(const std::string &model, const std::string &source,
                    const Progress &p) {
  const char *blue = "#1f77b4", *orange = "#e8710a";
  std::vector<int64_t> epochs;
  Curve loss{"loss", "training", blue, false, {}};
  Curve valLoss{"val_loss", "validation", orange, true, {}};
  Curve acc{"accuracy", "training", blue, false, {}};
  Curve valAcc{"val_accuracy", "validation", orange, true, {}};
  bool anyVal = false;
  for (const sora_epoch_report &r : p.history) {
    epochs.push_back(r.epoch);
    loss.y.push_back(r.loss);
    valLoss.y.push_back(r.val_loss);
    acc.y.push_back(r.accuracy);
    valAcc.y.push_back(r.val_accuracy);
    anyVal = anyVal || std::isfinite(r.val_loss);
  }
  std::vector<Curve> losses{loss}, accuracies{acc};
  if (anyVal) {
    losses.push_back(valLoss);
    accuracies.push_back(valAcc);
  }
  int panels = p.accuracy && !epochs.empty() ? 2 : 1;
  const double left = 72, right = 24, top = 86, bottom = 56, pw = 440, ph = 300,
               gap = 40;
  double width = left + panels * pw + (panels - 1) * (gap + left) + right;
  double height = top + ph + bottom;
  std::string title = model + ": training curves";

  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << px(width)
      << "\" height=\"" << px(height) << "\" viewBox=\"0 0 " << px(width) << " "
      << px(height)
      << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      << "<title>" << xmlEscape(title) << "</title>\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << px(left)
      << "\" y=\"30\" font-size=\"18\" "
         "font-weight=\"bold\" fill=\"#111\">"
      << xmlEscape(title) << "</text>\n";
  // The source as given, its tail if long (the plot's width is fixed).
  std::ostringstream sub;
  sub << (source.size() > 56 ? "..." + source.substr(source.size() - 53)
                             : source);
  if (epochs.empty()) {
    sub << " - no epochs trained";
  } else {
    sub << " - epoch" << (epochs.size() == 1 ? " " : "s ") << epochs.front();
    if (epochs.size() > 1)
      sub << " to " << epochs.back();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds,
                  p.seconds < 1000 ? " in %.3g s" : " in %.0f s", p.seconds);
    sub << seconds;
  }
  svg << "<text x=\"" << px(left)
      << "\" y=\"50\" font-size=\"12\" "
         "fill=\"#666\">"
      << xmlEscape(sub.str()) << "</text>\n";
  if (!epochs.empty()) {
    drawPanel(svg, left, top, pw, ph, epochs, losses, "loss", false);
    if (panels == 2)
      drawPanel(svg, left + pw + gap + left, top, pw, ph, epochs, accuracies,
                "accuracy", true);
  }
  svg << "</svg>\n";
  return svg.str();
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
  if (status >= 0)
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
  int status = 0;
  // From here on Ctrl-C stops training after the step in progress (or right
  // after its first step when pressed while compiling or loading).
  std::signal(SIGINT, onInterrupt);

  // The front end, as for `sorac FILE.sora`.
  std::string text;
  if (!readFile(o.input, text))
    return kInputError;
  sora::SourceFile file(sourceName(o.input), std::move(text));
  sora::DiagnosticEngine diags(file, std::cerr);
  std::optional<sora::ast::File> ast = sora::parseFile(file, diags);
  if (!ast)
    return kInputError;
  std::optional<sora::dsl::Program> program = sora::checkProgram(*ast, diags);
  if (!program)
    return kInputError;
  const sora::dsl::Model *model =
      selectModel(*program, o.model, file.path(), status);
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
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(cm, *ctx).module;
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
  sora_metrics test{NAN, NAN, 0, NAN, NAN};
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
    if (!o.quiet) {
      // As fit prints its test line: the metrics that apply (NaN: do not).
      std::printf("test: loss: %.4f", test.loss);
      for (auto [name, value] : {std::pair{"accuracy", test.accuracy},
                                 {"mae", test.mae},
                                 {"rmse", test.rmse}})
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
        !plot.finish(plotSvg(model->name, o.input, progress)))
      return kInputError;
  }
  std::fflush(stdout);
  if (o.report == "json") {
    bool trained = !progress.history.empty();
    const sora_epoch_report &r =
        trained ? progress.history.back() : sora_epoch_report{};
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
              << ", \"train_seconds\": " << json(progress.seconds) << "}\n";
  }
  return kOk;
}

} // namespace sorac
