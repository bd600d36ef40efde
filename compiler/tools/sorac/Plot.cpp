//===- Plot.cpp - sorac run --plot: the training curves as SVG ------------===//
//
// A self-contained SVG picture (no script, no fonts to fetch): loss per
// epoch, and accuracy where the model reports it, with ticks at round
// numbers and the validation curves dashed.
//
//===----------------------------------------------------------------------===//
#include "Plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace sorac {

namespace {

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

} // namespace

std::string plotSvg(const std::string &model, const std::string &source,
                    const std::vector<sora_epoch_report> &history,
                    double seconds, bool accuracy) {
  const char *blue = "#1f77b4", *orange = "#e8710a";
  std::vector<int64_t> epochs;
  Curve loss{"loss", "training", blue, false, {}};
  Curve valLoss{"val_loss", "validation", orange, true, {}};
  Curve acc{"accuracy", "training", blue, false, {}};
  Curve valAcc{"val_accuracy", "validation", orange, true, {}};
  bool anyVal = false;
  for (const sora_epoch_report &r : history) {
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
  int panels = accuracy && !epochs.empty() ? 2 : 1;
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
    char took[32];
    std::snprintf(took, sizeof took,
                  seconds < 1000 ? " in %.3g s" : " in %.0f s", seconds);
    sub << took;
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

} // namespace sorac
