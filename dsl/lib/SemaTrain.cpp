//===- SemaTrain.cpp - Train blocks: keys, losses, optimizers, data ----===//
//
// Checked key by key, with docs/language.md's defaults for the keys not
// given; then the loss and the metrics against the model's output.
//
//===----------------------------------------------------------------------===//
#include "SemaImpl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace sora::dsl::sema {

const std::vector<std::string> kMetricNames = {"accuracy", "loss", "mae",
                                               "rmse"};

const std::vector<std::string> kTrainKeys = {
    "loss", "optimizer",        "lr",      "batch_size", "epochs",
    "seed", "validation_split", "shuffle", "metrics",    "data",
    "test"};

const Builtin *Checker::trainFunction(const ast::Expr &e, BuiltinGroup group,
                                      const char *what, Bound &args) {
  const ast::Call *call = asCall(e);
  const ast::Ident *id = asIdent(e);
  const ast::Ident *name = call ? &call->callee : id;
  const Builtin *f = name ? lookupTrainFunction(name->name, group) : nullptr;
  if (!f) {
    std::vector<std::string> names = trainFunctionNames(group);
    std::string list;
    for (size_t i = 0; i < names.size(); ++i)
      list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    Diag kind = group == BuiltinGroup::Optimizer  ? Diag::UnknownOptimizer
                : group == BuiltinGroup::Schedule ? Diag::UnknownSchedule
                                                  : Diag::UnknownDataSource;
    diags_.report(kind, name ? name->range : e.range,
                  fmt::format("expected {}: {}", what, list));
    if (name)
      if (auto best = closestMatch(name->name, names))
        diags_.note(fmt::format("did you mean '{}'?", *best));
    return nullptr;
  }
  if (!call) {
    args.assign(f->params.size(), nullptr);
    for (const Param &p : f->params)
      if (p.required) {
        diags_.report(
            Diag::MissingArgument, e.range,
            fmt::format("{}() needs the argument '{}'", f->name, p.name));
        return nullptr;
      }
    return f;
  }
  auto bound = bindArguments(*f, *call, false);
  if (!bound)
    return nullptr;
  args = *bound;
  return f;
}

std::optional<Schedule> Checker::evalRate(const ast::Expr &e) {
  Schedule s;
  if (!asCall(e)) {
    auto lr = evalInRange(e, "the learning rate", 0, true, 10, false);
    if (!lr)
      return std::nullopt;
    s.initial = *lr;
    return s;
  }
  Bound args;
  const Builtin *f = trainFunction(e, BuiltinGroup::Schedule,
                                   "a learning rate or a schedule", args);
  if (!f)
    return std::nullopt;
  auto initial = evalInRange(*args[0], "initial", 0, true, 10, false);
  if (!initial)
    return std::nullopt;
  s.initial = *initial;
  std::string name = f->name;
  if (name == "exponential_decay") {
    auto rate = evalInRange(*args[1], "rate", 0, true, 1, false);
    auto steps = evalInRange(*args[2], "steps", 0, true, 1e15, false);
    if (!rate || !steps)
      return std::nullopt;
    s.kind = Schedule::Exponential;
    s.rate = *rate;
    s.steps = *steps;
  } else if (name == "step_decay") {
    auto factor = evalInRange(*args[1], "factor", 0, true, 1, false);
    auto every = evalWhole(*args[2], "every", 1, int64_t(1) << 40);
    if (!factor || !every)
      return std::nullopt;
    s.kind = Schedule::Step;
    s.factor = *factor;
    s.every = double(*every);
  } else {
    auto final = evalInRange(*args[1], "final", 0, false, 10, false);
    auto steps = evalWhole(*args[2], "steps", 1, int64_t(1) << 40);
    if (!final || !steps)
      return std::nullopt;
    s.kind = Schedule::Linear;
    s.final = *final;
    s.steps = double(*steps);
  }
  return s;
}

std::optional<Optimizer> Checker::evalOptimizer(const ast::Expr &e,
                                                SourceRange &lrGivenAt) {
  Bound args;
  const Builtin *f =
      trainFunction(e, BuiltinGroup::Optimizer, "an optimizer", args);
  if (!f)
    return std::nullopt;
  Optimizer opt;
  std::string name = f->name;
  opt.kind = name == "adam"  ? OptimizerKind::Adam
             : name == "sgd" ? OptimizerKind::SGD
                             : OptimizerKind::RMSprop;
  if (opt.kind == OptimizerKind::SGD)
    opt.lr.initial = 0.01; // Keras' default for SGD
  bool ok = true;
  if (args[0]) {
    auto lr = evalRate(*args[0]);
    ok &= lr.has_value();
    opt.lr = lr.value_or(opt.lr);
    lrGivenAt = args[0]->range;
  }
  auto number = [&](size_t i, const char *what, double min, bool minOpen,
                    double max, bool maxOpen, double &field) {
    if (i >= args.size() || !args[i])
      return;
    auto v = evalInRange(*args[i], what, min, minOpen, max, maxOpen);
    ok &= v.has_value();
    field = v.value_or(field);
  };
  if (opt.kind == OptimizerKind::Adam) {
    number(1, "beta1", 0, false, 1, true, opt.beta1);
    number(2, "beta2", 0, false, 1, true, opt.beta2);
    number(3, "epsilon", 0, true, 1, true, opt.epsilon);
  } else if (opt.kind == OptimizerKind::SGD) {
    number(1, "momentum", 0, false, 1, true, opt.momentum);
    if (args[2]) {
      auto flag = evalFlag(*args[2]);
      ok &= flag.has_value();
      opt.nesterov = flag.value_or(false);
      if (opt.nesterov && opt.momentum == 0 && ok) {
        diags_.report(Diag::OutOfRange, args[2]->range,
                      "nesterov needs a momentum above 0");
        ok = false;
      }
    }
  } else {
    number(1, "rho", 0, false, 1, true, opt.rho);
    number(2, "epsilon", 0, true, 1, true, opt.epsilon);
  }
  if (!ok)
    return std::nullopt;
  return opt;
}

std::optional<DataSource> Checker::evalData(const ast::Expr &e) {
  Bound args;
  const Builtin *f =
      trainFunction(e, BuiltinGroup::DataSource, "a data source", args);
  if (!f)
    return std::nullopt;
  DataSource d;
  d.range = e.range;
  bool ok = true;
  if (std::string(f->name) == "idx") {
    d.kind = DataSource::Idx;
    auto images = evalString(*args[0], "images");
    auto labels = evalString(*args[1], "labels");
    ok = images && labels;
    d.images = images.value_or("");
    d.labels = labels.value_or("");
  } else {
    d.kind = DataSource::Csv;
    auto path = evalString(*args[0], "path");
    auto column = evalWhole(*args[1], "label_column", 0, 1 << 20);
    ok = path && column;
    d.path = path.value_or("");
    d.labelColumn = column.value_or(0);
  }
  if (args[2]) {
    auto scale = evalConstant(*args[2], "scale");
    ok &= scale.has_value();
    d.scale = scale.value_or(1);
  }
  if (args[3]) {
    auto onehot = evalWhole(*args[3], "onehot", 2, 1 << 20);
    ok &= onehot.has_value();
    d.onehot = onehot.value_or(0);
  }
  if (!ok)
    return std::nullopt;
  return d;
}

/// The activation a model's output node ends with.
ActivationKind outputActivation(const Node &out) {
  bool hasActivation = out.kind == Node::Dense || out.kind == Node::Conv2D ||
                       out.kind == Node::Activate;
  return hasActivation ? out.activation.kind : ActivationKind::Linear;
}

std::optional<LossKind> Checker::evalLoss(const ast::Expr &e) {
  static const std::vector<std::string> losses = {
      "categorical_crossentropy", "sparse_categorical_crossentropy",
      "binary_crossentropy", "mse"};
  const ast::Ident *id = asIdent(e);
  if (id)
    for (size_t i = 0; i < losses.size(); ++i)
      if (losses[i] == id->name)
        return LossKind(i);
  diags_.report(Diag::UnknownLoss, e.range,
                "unknown loss; expected categorical_crossentropy, "
                "sparse_categorical_crossentropy, binary_crossentropy or mse");
  if (id)
    if (auto best = closestMatch(id->name, losses))
      diags_.note(fmt::format("did you mean '{}'?", *best));
  return std::nullopt;
}

/// The output and the labels must suit the loss.
void Checker::checkLossAgainstModel(const TrainConfig &config,
                                    const Model &model, SourceRange lossAt) {
  if (model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  ActivationKind act = outputActivation(out);
  int64_t width = product(out.shape);
  const char *loss = lossName(config.loss);
  auto mismatch = [&](const std::string &message, const std::string &fix) {
    diags_.report(Diag::LossOutputMismatch, out.range, message);
    diags_.note(lossAt, fmt::format("the loss is set to {} here", loss));
    diags_.note(fix);
  };
  switch (config.loss) {
  case LossKind::CategoricalCrossentropy:
  case LossKind::SparseCategoricalCrossentropy:
    if (act != ActivationKind::Softmax)
      mismatch(fmt::format("{} needs the output to be a softmax", loss),
               "end the model with 'activation: softmax'");
    break;
  case LossKind::BinaryCrossentropy:
    if (act != ActivationKind::Sigmoid)
      mismatch(fmt::format("{} needs the output to be a sigmoid", loss),
               "end the model with 'activation: sigmoid'");
    break;
  case LossKind::MeanSquaredError:
    break;
  }
  // Label rows: one-hot rows of the output's width, or one number. With
  // `onehot:` given, the number of classes is a fact of the data: the fix
  // is the layer's width (unless another source already matches it), not
  // an `onehot:` that would fail when the labels are read.
  auto widthFollowsOnehot = [&](const DataSource &d) {
    for (const DataSource *other : {&config.data, &config.test})
      if (other->present() && other->onehot == width)
        return false;
    return d.onehot != 0;
  };
  // The class count a source without `onehot:` should name: the layer's,
  // or that of a source whose `onehot:` the layer is to follow.
  int64_t classes = width;
  for (const DataSource *d : {&config.data, &config.test})
    if (d->present() && widthFollowsOnehot(*d) && classes == width)
      classes = d->onehot;
  auto onehotAgainstLayer = [&](const DataSource &d) {
    diags_.report(Diag::LabelWidthMismatch, d.range,
                  fmt::format("the labels are one-hot rows of {} ('onehot: "
                              "{}') but the output has {} units",
                              d.onehot, d.onehot, width));
    const Node *layer = &out;
    while (layer->kind != Node::Dense && layer->inputs.size() == 1 &&
           model.nodes[layer->inputs[0]].shape == layer->shape)
      layer = &model.nodes[layer->inputs[0]]; // through softmax(), dropout
    if (layer->kind == Node::Dense)
      diags_.note(layer->unitsRange,
                  fmt::format("the output layer has {} units; make it {} to "
                              "match 'onehot: {}'",
                              width, d.onehot, d.onehot));
    else
      diags_.note(out.range,
                  fmt::format("the output has {} values per sample; make it "
                              "{} to match 'onehot: {}'",
                              width, d.onehot, d.onehot));
  };
  for (const DataSource *d : {&config.data, &config.test}) {
    if (!d->present())
      continue;
    bool needsOnehot = config.loss == LossKind::CategoricalCrossentropy;
    bool forbidsOnehot =
        config.loss == LossKind::SparseCategoricalCrossentropy ||
        config.loss == LossKind::BinaryCrossentropy;
    if (needsOnehot && !d->onehot && classes != width)
      diags_.report(Diag::LabelWidthMismatch, d->range,
                    fmt::format("{} needs one-hot labels; add 'onehot: {}' "
                                "as the other source has",
                                loss, classes));
    else if (needsOnehot && d->onehot != width && !widthFollowsOnehot(*d))
      diags_.report(Diag::LabelWidthMismatch, d->range,
                    fmt::format("{} needs one-hot labels as wide as the "
                                "output; {} 'onehot: {}'",
                                loss, d->onehot ? "set" : "add", width));
    else if (needsOnehot && d->onehot != width)
      onehotAgainstLayer(*d);
    else if (forbidsOnehot && d->onehot)
      diags_.report(
          Diag::LabelWidthMismatch, d->range,
          fmt::format("{} takes labels as numbers; remove 'onehot:'", loss));
    else if (config.loss == LossKind::MeanSquaredError &&
             (d->onehot ? d->onehot : 1) != width) {
      if (widthFollowsOnehot(*d))
        onehotAgainstLayer(*d);
      else
        diags_.report(Diag::LabelWidthMismatch, d->range,
                      fmt::format("the labels are {} wide but the output is {}",
                                  d->onehot ? d->onehot : 1, width));
    }
  }
}

/// Each metric must mean something for the model: accuracy needs a
/// classifier, mae and rmse labels as wide as the output.
void Checker::checkMetrics(
    const TrainConfig &config, const Model &model,
    const std::map<std::string, SourceRange> &metricsAt) {
  if (model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  if (auto it = metricsAt.find("accuracy"); it != metricsAt.end()) {
    // One unit without a sigmoid is a regression: a 0.5 threshold on it
    // would report a number that means nothing (Keras' binary accuracy).
    // A cross-entropy makes a classifier, and an output that does not suit
    // it is loss-output-mismatch's to report.
    if (config.loss == LossKind::MeanSquaredError && product(out.shape) == 1 &&
        outputActivation(out) != ActivationKind::Sigmoid) {
      diags_.report(Diag::MetricNotApplicable, it->second,
                    "accuracy does not apply to a regression: the output "
                    "has one unit and no sigmoid");
      diags_.note(out.range, "the output is defined here");
      diags_.note("for a regression, use mae or rmse: metrics = [mae, rmse]");
    }
  }
  if (config.loss != LossKind::SparseCategoricalCrossentropy)
    return;
  for (const char *metric : {"mae", "rmse"})
    if (auto it = metricsAt.find(metric); it != metricsAt.end()) {
      diags_.report(
          Diag::MetricNotApplicable, it->second,
          fmt::format("{} compares the output with labels of its width, but "
                      "sparse_categorical_crossentropy takes class indices",
                      metric));
      diags_.note("for a classifier, use accuracy");
    }
}

void Checker::checkTrain(const ast::Train &t, Program &program) {
  Model *model = nullptr;
  for (Model &m : program.models)
    if (m.name == t.model.name)
      model = &m;
  if (!model) {
    diags_.report(
        Diag::UnknownModel, t.model.range,
        fmt::format("train block for unknown model '{}'", t.model.name));
    std::vector<std::string> names;
    for (Model &m : program.models)
      names.push_back(m.name);
    if (auto best = closestMatch(t.model.name, names))
      diags_.note(fmt::format("did you mean '{}'?", *best));
    return;
  }
  if (model->train) {
    diags_.report(
        Diag::DuplicateTrainBlock, t.model.range,
        fmt::format("model '{}' has a second train block", t.model.name));
    diags_.note(model->train->range, "the first train block is here");
    return;
  }
  TrainConfig config;
  config.range = t.model.range;
  std::map<std::string, SourceRange> seen;
  std::optional<LossKind> loss;
  std::optional<Schedule> lrKey;
  SourceRange lossAt, lrKeyAt, lrInOptimizerAt{0, 0};
  std::map<std::string, SourceRange> metricsAt; ///< each metric's first entry
  // Constants in a train block are evaluated with no model in scope.
  Model scratch;
  model_ = &scratch;
  names_.clear();
  definedAt_.clear();
  for (const ast::TrainEntry &entry : t.entries) {
    const std::string &key = entry.key.name;
    if (std::find(kTrainKeys.begin(), kTrainKeys.end(), key) ==
        kTrainKeys.end()) {
      diags_.report(Diag::UnknownTrainKey, entry.key.range,
                    fmt::format("unknown train key '{}'", key));
      if (auto best = closestMatch(key, kTrainKeys))
        diags_.note(fmt::format("did you mean '{}'?", *best));
      continue;
    }
    if (auto it = seen.find(key); it != seen.end()) {
      diags_.report(Diag::DuplicateTrainKey, entry.key.range,
                    fmt::format("'{}' is set twice", key));
      diags_.note(it->second, "first set here");
      continue;
    }
    seen[key] = entry.key.range;
    const ast::Expr &value = entry.value;
    if (key == "loss") {
      loss = evalLoss(value);
      lossAt = value.range;
    } else if (key == "optimizer") {
      if (auto opt = evalOptimizer(value, lrInOptimizerAt))
        config.optimizer = *opt;
    } else if (key == "lr") {
      lrKey = evalRate(value);
      lrKeyAt = value.range;
    } else if (key == "batch_size") {
      config.batchSize =
          evalWhole(value, "batch_size", 1, 1 << 20).value_or(config.batchSize);
    } else if (key == "epochs") {
      config.epochs =
          evalWhole(value, "epochs", 1, 1 << 30).value_or(config.epochs);
    } else if (key == "seed") {
      config.seed =
          evalWhole(value, "seed", 0, int64_t(1) << 53).value_or(config.seed);
    } else if (key == "validation_split") {
      config.validationSplit =
          evalInRange(value, "validation_split", 0, false, 1, true)
              .value_or(config.validationSplit);
    } else if (key == "shuffle") {
      config.shuffle = evalFlag(value).value_or(config.shuffle);
    } else if (key == "metrics") {
      const ast::List *list = asList(value);
      if (!list) {
        diags_.report(Diag::ArgumentType, value.range,
                      "metrics must be a list, e.g. [accuracy]");
        continue;
      }
      for (const ast::Expr &item : list->items) {
        const ast::Ident *id = asIdent(item);
        auto known =
            id ? std::find(kMetricNames.begin(), kMetricNames.end(), id->name)
               : kMetricNames.end();
        if (known == kMetricNames.end()) {
          diags_.report(Diag::UnknownMetric, item.range,
                        "unknown metric; expected accuracy, loss, mae or rmse");
          if (id)
            if (auto best = closestMatch(id->name, kMetricNames))
              diags_.note(fmt::format("did you mean '{}'?", *best));
          continue;
        }
        metricsAt.emplace(*known, item.range);
        config.metricAccuracy |= *known == "accuracy";
        config.metricMae |= *known == "mae";
        config.metricRmse |= *known == "rmse";
      }
    } else if (key == "data" || key == "test") {
      if (auto d = evalData(value))
        (key == "data" ? config.data : config.test) = *d;
    }
  }
  model_ = nullptr;
  if (lrKey) {
    if (lrInOptimizerAt.end != 0) {
      diags_.report(Diag::DuplicateArgument, lrKeyAt,
                    "the learning rate is given twice");
      diags_.note(lrInOptimizerAt, "the optimizer's lr: is given here");
    }
    config.optimizer.lr = *lrKey;
  }
  if (!seen.count("loss")) {
    diags_.report(Diag::MissingLoss, t.model.range,
                  "the train block needs a 'loss'");
    diags_.note("insert 'loss = categorical_crossentropy' (or "
                "sparse_categorical_crossentropy, binary_crossentropy, mse)");
  }
  if (loss) {
    config.loss = *loss;
    checkLossAgainstModel(config, *model, lossAt);
    checkMetrics(config, *model, metricsAt);
  }
  model->train = config;
}

} // namespace sora::dsl::sema
