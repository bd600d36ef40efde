//===- SemaLoss.cpp - A train block's loss and metrics --------------------===//
//
// `loss = huber(delta: 2)`, `loss = categorical_crossentropy(label_smoothing:
// 0.1, class_weights: [1, 4])`, `metrics = [accuracy, top_k_accuracy(k: 3),
// auc]`: each checked against Builtins.cpp's rows, then against the model
// (a metric that means nothing for its output is an error, not a number).
//
//===----------------------------------------------------------------------===//
#include "SemaImpl.h"

#include <fmt/format.h>

#include <algorithm>

namespace sora::dsl::sema {

namespace {
/// The metrics written as names; top_k_accuracy also takes an argument.
const std::vector<std::string> kMetricNames = {
    "accuracy",  "loss",   "mae", "rmse",
    "precision", "recall", "auc", "top_k_accuracy"};

bool crossEntropy(LossKind loss) {
  return loss == LossKind::CategoricalCrossentropy ||
         loss == LossKind::SparseCategoricalCrossentropy ||
         loss == LossKind::BinaryCrossentropy;
}
} // namespace

std::optional<LossKind> Checker::evalLoss(const ast::Expr &e,
                                          TrainConfig &config) {
  const ast::Call *call = asCall(e);
  const ast::Ident *id = asIdent(e);
  const ast::Ident *name = call ? &call->callee : id;
  std::vector<std::string> losses = trainFunctionNames(BuiltinGroup::Loss);
  if (!name || !lookupTrainFunction(name->name, BuiltinGroup::Loss)) {
    diags_.report(Diag::UnknownLoss, name ? name->range : e.range,
                  "unknown loss; expected " + joinOr(losses));
    if (name)
      if (auto best = closestMatch(name->name, losses))
        diags_.note(fmt::format("did you mean '{}'?", *best));
    return std::nullopt;
  }
  auto args = trainFunction(e, BuiltinGroup::Loss, "a loss");
  if (!args || !checkArgs(*args))
    return std::nullopt;
  // The rows are in LossKind's order.
  auto kind = LossKind(std::find(losses.begin(), losses.end(), name->name) -
                       losses.begin());
  if (kind == LossKind::Huber)
    config.huberDelta = args->number("delta");
  if (!crossEntropy(kind))
    return kind;
  config.labelSmoothing = args->number("label_smoothing");
  const ast::Expr *weights = args->expr("class_weights");
  if (!weights)
    return kind;
  const ast::List *list = asList(*weights);
  if (!list || list->items.empty()) {
    diags_.report(Diag::ArgumentType, weights->range,
                  "class_weights must be a list of weights, one per class, "
                  "e.g. [1, 4]");
    return std::nullopt;
  }
  for (const ast::Expr &item : list->items) {
    auto w = evalInRange(item, "a class weight", 0, false, 1e6, false);
    if (!w)
      return std::nullopt;
    config.classWeights.push_back(*w);
  }
  config.classWeightsAt = weights->range;
  return kind;
}

/// class_weights: one weight per class of the output.
void Checker::checkClassWeights(const TrainConfig &config, const Model &model,
                                SourceRange lossAt) {
  if (config.classWeights.empty() || model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  int64_t width = product(out.shape);
  int64_t classes = width;
  if (config.loss == LossKind::BinaryCrossentropy) {
    if (width != 1) {
      diags_.report(Diag::LossOutputMismatch, config.classWeightsAt,
                    fmt::format("class_weights with binary_crossentropy "
                                "weigh the labels 0 and 1 of one output "
                                "unit, but the output has {}",
                                width));
      diags_.note(out.range, "the output is defined here");
      return;
    }
    classes = 2;
  }
  if (int64_t(config.classWeights.size()) != classes) {
    diags_.report(Diag::LossOutputMismatch, config.classWeightsAt,
                  fmt::format("class_weights has {} weight{} but there are "
                              "{} classes",
                              config.classWeights.size(),
                              config.classWeights.size() == 1 ? "" : "s",
                              classes));
    if (config.loss == LossKind::BinaryCrossentropy)
      diags_.note("give the weights of the labels 0 and 1: [w0, w1]");
    else
      diags_.note(out.range,
                  fmt::format("the output has {} units, one per class", width));
    diags_.note(lossAt, "the loss is set here");
  }
}

void Checker::evalMetrics(const ast::Expr &value, TrainConfig &config,
                          std::map<std::string, SourceRange> &metricsAt) {
  const ast::List *list = asList(value);
  if (!list) {
    diags_.report(Diag::ArgumentType, value.range,
                  "metrics must be a list, e.g. [accuracy]");
    return;
  }
  for (const ast::Expr &item : list->items) {
    const ast::Call *call = asCall(item);
    const ast::Ident *id = asIdent(item);
    const ast::Ident *name = call ? &call->callee : id;
    auto known =
        name ? std::find(kMetricNames.begin(), kMetricNames.end(), name->name)
             : kMetricNames.end();
    if (known == kMetricNames.end() ||
        (call && !lookupTrainFunction(*known, BuiltinGroup::Metric))) {
      diags_.report(Diag::UnknownMetric, item.range,
                    known == kMetricNames.end()
                        ? "unknown metric; expected " + joinOr(kMetricNames)
                        : fmt::format("{} takes no arguments", *known));
      if (name && known == kMetricNames.end())
        if (auto best = closestMatch(name->name, kMetricNames))
          diags_.note(fmt::format("did you mean '{}'?", *best));
      continue;
    }
    if (*known == "top_k_accuracy") {
      auto args = trainFunction(item, BuiltinGroup::Metric, "a metric");
      if (!args || !checkArgs(*args))
        continue;
      config.topK = args->whole("k");
    }
    metricsAt.emplace(*known, item.range);
    config.metricAccuracy |= *known == "accuracy";
    config.metricMae |= *known == "mae";
    config.metricRmse |= *known == "rmse";
    config.metricPrecision |= *known == "precision";
    config.metricRecall |= *known == "recall";
    config.metricAuc |= *known == "auc";
  }
}

/// Each metric must mean something for the model: accuracy needs a
/// classifier, mae and rmse labels as wide as the output, top_k_accuracy
/// a softmax of more than k classes, precision, recall and auc a sigmoid.
void Checker::checkMetrics(
    const TrainConfig &config, const Model &model,
    const std::map<std::string, SourceRange> &metricsAt) {
  if (model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  int64_t width = product(out.shape);
  auto at = [&](const char *metric) -> const SourceRange * {
    auto it = metricsAt.find(metric);
    return it == metricsAt.end() ? nullptr : &it->second;
  };
  if (config.targetInput) {
    for (const char *metric :
         {"accuracy", "top_k_accuracy", "precision", "recall", "auc"})
      if (const SourceRange *r = at(metric)) {
        diags_.report(Diag::MetricNotApplicable, *r,
                      fmt::format("{} does not apply when the target is the "
                                  "input: the output is compared with it, "
                                  "not with classes",
                                  metric));
        diags_.note("use loss, mae or rmse: metrics = [loss, mae]");
        return;
      }
  }
  if (const SourceRange *r = at("accuracy")) {
    // One unit without a sigmoid is a regression: a 0.5 threshold on it
    // would report a number that means nothing (Keras' binary accuracy).
    // A cross-entropy makes a classifier, and an output that does not suit
    // it is loss-output-mismatch's to report.
    if (elementwiseLoss(config.loss) && width == 1 &&
        !outputActivation(out).is("sigmoid")) {
      diags_.report(Diag::MetricNotApplicable, *r,
                    "accuracy does not apply to a regression: the output "
                    "has one unit and no sigmoid");
      diags_.note(out.range, "the output is defined here");
      diags_.note("for a regression, use mae or rmse: metrics = [mae, rmse]");
    }
  }
  if (const SourceRange *r = at("top_k_accuracy")) {
    bool classifier = config.loss == LossKind::CategoricalCrossentropy ||
                      config.loss == LossKind::SparseCategoricalCrossentropy;
    if (!classifier) {
      diags_.report(Diag::MetricNotApplicable, *r,
                    fmt::format("top_k_accuracy ranks the classes of a "
                                "softmax, but the loss is {}",
                                lossName(config.loss)));
      diags_.note("use it with categorical_crossentropy or "
                  "sparse_categorical_crossentropy");
    } else if (config.topK >= width) {
      diags_.report(Diag::MetricNotApplicable, *r,
                    fmt::format("top_k_accuracy(k: {}) of {} classes is "
                                "always 1: k must be below the number of "
                                "classes",
                                config.topK, width));
      diags_.note(out.range, fmt::format("the output has {} units", width));
    }
  }
  for (const char *metric : {"precision", "recall", "auc"})
    if (const SourceRange *r = at(metric);
        r && !outputActivation(out).is("sigmoid")) {
      diags_.report(Diag::MetricNotApplicable, *r,
                    fmt::format("{} applies to a binary classifier, whose "
                                "output is a sigmoid (the probability of "
                                "the class 1)",
                                metric));
      diags_.note(out.range, "the output is defined here");
      diags_.note("for a classifier of several classes, use accuracy or "
                  "top_k_accuracy");
    }
  if (config.loss != LossKind::SparseCategoricalCrossentropy)
    return;
  for (const char *metric : {"mae", "rmse"})
    if (const SourceRange *r = at(metric)) {
      diags_.report(
          Diag::MetricNotApplicable, *r,
          fmt::format("{} compares the output with labels of its width, but "
                      "sparse_categorical_crossentropy takes class indices",
                      metric));
      diags_.note("for a classifier, use accuracy");
    }
}

} // namespace sora::dsl::sema
