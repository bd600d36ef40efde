//===- TrainWriter.cpp - A train block back as .sora source ---------------===//
//
// Every key is written when it differs from its default (Builtins.cpp's
// train block row), each source and optimizer with the arguments that
// differ from their rows' defaults.
//
//===----------------------------------------------------------------------===//
#include "TrainWriter.h"

#include "sora/dsl/Builtins.h"

#include <fmt/format.h>

namespace sora::dsl {

std::string soraNumber(double v) { return fmt::format("{}", v); }

std::string soraString(const std::string &s, std::string &error) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n' || c == '\r')
      error = fmt::format("the string '{}' spans lines; a .sora string ends "
                          "on its line",
                          s);
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

bool soraIdentifier(const std::string &s) {
  auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (s.empty() || !alpha(s[0]))
    return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9'))
      return false;
  return s != "model" && s != "train" && s != "input" && s != "output";
}

bool soraBindable(const std::string &s) {
  return soraIdentifier(s) && !lookupBuiltin(s) && s != "true" &&
         s != "false" && s != "same" && s != "valid";
}

namespace {

/// A learning rate: a number, or its schedule's call ("" for the default).
std::string schedule(const Schedule &s, double dflt) {
  if (s.warmup) {
    Schedule then = s;
    then.warmup = 0;
    return fmt::format("warmup(steps: {}, then: {})", s.warmup,
                       schedule(then, -1));
  }
  auto list = [](const auto &items) {
    std::string out;
    for (auto v : items)
      out += (out.empty() ? "" : ", ") + soraNumber(double(v));
    return "[" + out + "]";
  };
  switch (s.kind) {
  case Schedule::Constant:
    return s.initial == dflt ? "" : soraNumber(s.initial);
  case Schedule::Exponential:
    return fmt::format("exponential_decay(initial: {}, rate: {}, steps: {})",
                       soraNumber(s.initial), soraNumber(s.rate),
                       soraNumber(s.steps));
  case Schedule::Step:
    return fmt::format("step_decay(initial: {}, factor: {}, every: {})",
                       soraNumber(s.initial), soraNumber(s.factor),
                       soraNumber(s.every));
  case Schedule::Linear:
    return fmt::format("linear_decay(initial: {}, final: {}, steps: {})",
                       soraNumber(s.initial), soraNumber(s.final),
                       soraNumber(s.steps));
  case Schedule::Cosine:
    return fmt::format("cosine_decay(initial: {}, steps: {}, alpha: {})",
                       soraNumber(s.initial), soraNumber(s.steps),
                       soraNumber(s.alpha));
  case Schedule::Piecewise:
    return fmt::format("piecewise(boundaries: {}, values: {})",
                       list(s.boundaries), list(s.values));
  case Schedule::Plateau:
    return fmt::format("reduce_on_plateau(initial: {}, monitor: {}, factor: "
                       "{}, patience: {}, min_delta: {}, cooldown: {}, "
                       "min_lr: {})",
                       soraNumber(s.initial), s.monitor, soraNumber(s.factor),
                       s.patience, soraNumber(s.minDelta), s.cooldown,
                       soraNumber(s.final));
  }
  return "";
}

std::string optimizer(const Optimizer &o) {
  const char *name = o.kind == OptimizerKind::Adam    ? "adam"
                     : o.kind == OptimizerKind::AdamW ? "adamw"
                     : o.kind == OptimizerKind::SGD   ? "sgd"
                                                      : "rmsprop";
  const Builtin *b = lookupTrainFunction(name, BuiltinGroup::Optimizer);
  std::vector<std::string> args;
  std::string lr = schedule(o.lr, b->param("lr").dflt);
  if (!lr.empty())
    args.push_back("lr: " + lr);
  auto number = [&](const char *param, double v) {
    if (v != b->param(param).dflt)
      args.push_back(fmt::format("{}: {}", param, soraNumber(v)));
  };
  if (o.kind == OptimizerKind::Adam || o.kind == OptimizerKind::AdamW) {
    number("beta1", o.beta1);
    number("beta2", o.beta2);
    number("epsilon", o.epsilon);
  } else if (o.kind == OptimizerKind::SGD) {
    number("momentum", o.momentum);
    if (o.nesterov)
      args.push_back("nesterov: true");
  } else {
    number("rho", o.rho);
    number("epsilon", o.epsilon);
  }
  number("weight_decay", o.weightDecay);
  if (!o.decayBiases)
    args.push_back("decay_biases: false");
  number("clip_norm", o.clipNorm);
  number("clip_value", o.clipValue);
  std::string joined;
  for (const std::string &a : args)
    joined += (joined.empty() ? "" : ", ") + a;
  return joined.empty() ? name : fmt::format("{}({})", name, joined);
}

std::string source(const DataSource &d, std::string &error) {
  std::vector<std::string> args;
  if (d.kind == DataSource::Idx) {
    args.push_back("images: " + soraString(d.images, error));
    if (!d.labels.empty())
      args.push_back("labels: " + soraString(d.labels, error));
  } else {
    args.push_back("path: " + soraString(d.path, error));
    if (d.labelColumns.size() == 1) {
      args.push_back(fmt::format("label_column: {}", d.labelColumns[0]));
    } else if (!d.labelColumns.empty()) {
      std::string list;
      for (int64_t c : d.labelColumns)
        list += (list.empty() ? "" : ", ") + std::to_string(c);
      args.push_back("label_columns: [" + list + "]");
    }
  }
  if (d.scale != 1)
    args.push_back("scale: " + soraNumber(d.scale));
  if (d.onehot)
    args.push_back(fmt::format("onehot: {}", d.onehot));
  if (d.scaling == DataSource::Standardize)
    args.push_back("standardize: true");
  else if (d.scaling == DataSource::Normalize)
    args.push_back("normalize: true");
  std::string joined;
  for (const std::string &a : args)
    joined += (joined.empty() ? "" : ", ") + a;
  return fmt::format("{}({})", d.kind == DataSource::Idx ? "idx" : "csv",
                     joined);
}

std::string earlyStopping(const EarlyStopping &es) {
  std::string args = "monitor: " + es.monitor;
  if (es.patience != 1)
    args += fmt::format(", patience: {}", es.patience);
  if (es.minDelta != 0)
    args += ", min_delta: " + soraNumber(es.minDelta);
  if (es.restoreBest)
    args += ", restore_best: true";
  return "early_stopping(" + args + ")";
}

/// The loss, with the arguments that differ from its row's defaults.
std::string loss(const TrainConfig &t) {
  const char *name = lossName(t.loss);
  const Builtin *b = lookupTrainFunction(name, BuiltinGroup::Loss);
  std::vector<std::string> args;
  if (t.loss == LossKind::Huber && t.huberDelta != b->param("delta").dflt)
    args.push_back("delta: " + soraNumber(t.huberDelta));
  if (t.labelSmoothing != 0)
    args.push_back("label_smoothing: " + soraNumber(t.labelSmoothing));
  if (!t.classWeights.empty()) {
    std::string list;
    for (double w : t.classWeights)
      list += (list.empty() ? "" : ", ") + soraNumber(w);
    args.push_back("class_weights: [" + list + "]");
  }
  std::string joined;
  for (const std::string &a : args)
    joined += (joined.empty() ? "" : ", ") + a;
  return joined.empty() ? name : fmt::format("{}({})", name, joined);
}

} // namespace

std::string writeTrainBlock(const Model &m, const TrainConfig &t,
                            std::string &error) {
  std::string out;
  const Builtin &keys = trainBlock();
  out += fmt::format("\ntrain {} {{\n", m.name);
  auto key = [&](const char *name, const std::string &value) {
    out += fmt::format("    {} = {}\n", name, value);
  };
  auto whole = [&](const char *name, int64_t v) {
    if (double(v) != keys.param(name).dflt)
      key(name, std::to_string(v));
  };
  if (t.data.present())
    key("data", source(t.data, error));
  if (t.test.present())
    key("test", source(t.test, error));
  if (t.validation.present())
    key("validation", source(t.validation, error));
  if (t.targetInput)
    key("target", m.nodes[m.inputs.at(0)].name);
  key("loss", loss(t));
  key("optimizer", optimizer(t.optimizer));
  whole("batch_size", t.batchSize);
  whole("epochs", t.epochs);
  if (t.validationSplit != keys.param("validation_split").dflt)
    key("validation_split", soraNumber(t.validationSplit));
  if (!t.shuffle)
    key("shuffle", "false");
  if (t.bf16)
    key("precision", "bf16");
  std::string metrics;
  for (auto [on, name] : {std::pair{t.metricAccuracy, "accuracy"},
                          {t.metricMae, "mae"},
                          {t.metricRmse, "rmse"},
                          {t.metricPrecision, "precision"},
                          {t.metricRecall, "recall"},
                          {t.metricAuc, "auc"}})
    if (on)
      metrics += (metrics.empty() ? "" : ", ") + std::string(name);
  if (t.topK)
    metrics += (metrics.empty() ? "" : ", ") +
               fmt::format("top_k_accuracy(k: {})", t.topK);
  if (!metrics.empty())
    key("metrics", "[" + metrics + "]");
  whole("seed", t.seed);
  if (t.earlyStopping.enabled)
    key("early_stopping", earlyStopping(t.earlyStopping));
  out += "}\n";
  return out;
}

} // namespace sora::dsl
