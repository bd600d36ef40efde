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

std::vector<std::string> trainKeys() {
  std::vector<std::string> names;
  for (const Param &p : trainBlock().params)
    names.push_back(p.name);
  return names;
}

std::optional<Args> Checker::trainFunction(const ast::Expr &e,
                                           BuiltinGroup group,
                                           const char *what) {
  const ast::Call *call = asCall(e);
  const ast::Ident *id = asIdent(e);
  const ast::Ident *name = call ? &call->callee : id;
  const Builtin *f = name ? lookupTrainFunction(name->name, group) : nullptr;
  if (!f) {
    std::vector<std::string> names = trainFunctionNames(group);
    Diag kind = group == BuiltinGroup::Optimizer     ? Diag::UnknownOptimizer
                : group == BuiltinGroup::Schedule    ? Diag::UnknownSchedule
                : group == BuiltinGroup::Initializer ? Diag::UnknownInitializer
                : group == BuiltinGroup::DataSource  ? Diag::UnknownDataSource
                                                     : Diag::ArgumentType;
    diags_.report(kind, name ? name->range : e.range,
                  fmt::format("expected {}: {}", what, joinOr(names)));
    if (name)
      if (auto best = closestMatch(name->name, names))
        diags_.note(fmt::format("did you mean '{}'?", *best));
    return std::nullopt;
  }
  if (!call) {
    for (const Param &p : f->params)
      if (p.required) {
        diags_.report(
            Diag::MissingArgument, e.range,
            fmt::format("{}() needs the argument '{}'", f->name, p.name));
        return std::nullopt;
      }
    return Args(*f);
  }
  return bindArguments(*f, *call, false);
}

std::optional<EarlyStopping> Checker::evalEarlyStopping(const ast::Expr &e) {
  auto args = trainFunction(e, BuiltinGroup::Callback, "early stopping");
  if (!args || !checkArgs(*args))
    return std::nullopt;
  EarlyStopping es;
  es.enabled = true;
  es.monitor = args->text("monitor");
  es.patience = args->whole("patience");
  es.minDelta = args->number("min_delta");
  es.restoreBest = args->flag("restore_best");
  es.range = args->given("monitor") ? args->expr("monitor")->range : e.range;
  return es;
}

void Checker::checkMonitor(
    const TrainConfig &config, const std::string &name, SourceRange at,
    const char *what, const std::map<std::string, SourceRange> &metricsAt) {
  bool validation = name.rfind("val_", 0) == 0;
  std::string metric = validation ? name.substr(4) : name;
  if (validation && config.validationSplit == 0 &&
      !config.validation.present()) {
    diags_.report(Diag::MonitorNotReported, at,
                  fmt::format("{} watches {}, but the train block has no "
                              "validation data",
                              what, name));
    diags_.note("hold some out with validation_split = 0.2, or watch '" +
                metric + "'");
    return;
  }
  if (metric != "loss" && !metricsAt.count(metric)) {
    diags_.report(Diag::MonitorNotReported, at,
                  fmt::format("{} watches {}, but '{}' is not in the train "
                              "block's metrics",
                              what, name, metric));
    diags_.note(fmt::format("add it: metrics = [{}]", metric));
  }
}

std::optional<DataSource> Checker::evalData(const ast::Expr &e) {
  auto args = trainFunction(e, BuiltinGroup::DataSource, "a data source");
  if (!args || !checkArgs(*args))
    return std::nullopt;
  DataSource d;
  d.range = e.range;
  for (size_t i = 0; i < args->fn().params.size(); ++i) {
    std::string name = args->fn().params[i].name;
    bool label = name == "labels" || name == "onehot" ||
                 name.rfind("label_column", 0) == 0;
    if (label && args->exprs_[i] && !d.labelsAt.end)
      d.labelsAt = args->exprs_[i]->range;
  }
  d.scale = args->number("scale");
  d.onehot = args->whole("onehot");
  if (std::string(args->fn().name) == "idx") {
    d.kind = DataSource::Idx;
    d.images = args->text("images");
    d.labels = args->text("labels");
  } else {
    d.kind = DataSource::Csv;
    d.path = args->text("path");
    if (!evalLabelColumns(*args, d) || !evalScaling(*args, d))
      return std::nullopt;
    d.labelColumn = d.labelColumns.empty() ? 0 : d.labelColumns[0];
  }
  return d;
}

/// csv()'s `label_column: 3` or `label_columns: [3, 4, 5]` (several
/// label values per sample, for an output wider than one).
bool Checker::evalLabelColumns(const Args &args, DataSource &d) {
  const ast::Expr *one = args.expr("label_column");
  const ast::Expr *many = args.expr("label_columns");
  if (one && many) {
    diags_.report(Diag::DuplicateArgument, many->range,
                  "give label_column or label_columns, not both");
    diags_.note(one->range, "label_column is given here");
    return false;
  }
  if (one)
    d.labelColumns = {args.whole("label_column")};
  if (!many)
    return true;
  const ast::List *list = asList(*many);
  if (!list || list->items.empty()) {
    diags_.report(Diag::ArgumentType, many->range,
                  "label_columns must be a list of column numbers, e.g. "
                  "[4, 5, 6]");
    return false;
  }
  std::map<int64_t, SourceRange> firstAt;
  for (const ast::Expr &item : list->items) {
    auto column = evalWhole(item, "a label column", 0, 1 << 20);
    if (!column)
      return false;
    if (auto it = firstAt.find(*column); it != firstAt.end()) {
      diags_.report(Diag::DuplicateArgument, item.range,
                    fmt::format("column {} is a label twice", *column));
      diags_.note(it->second, "first named here");
      return false;
    }
    firstAt.emplace(*column, item.range);
    d.labelColumns.push_back(*column);
  }
  if (d.labelColumns.size() > 1 && d.onehot) {
    diags_.report(Diag::ArgumentType, args.expr("onehot")->range,
                  "onehot: needs one label column, not several");
    diags_.note(many->range, "the label columns are given here");
    return false;
  }
  return true;
}

/// `target = <input>` against the sources: no labels then, labels otherwise.
void Checker::checkSourceLabels(TrainConfig &config, SourceRange targetAt) {
  for (DataSource *d : {&config.data, &config.test, &config.validation}) {
    if (!d->present())
      continue;
    d->targetInput = config.targetInput;
    bool csv = d->kind == DataSource::Csv;
    if (config.targetInput && d->labelsAt.end) {
      diags_.report(Diag::ArgumentType, d->labelsAt,
                    "the target is the model's input: remove the source's "
                    "labels");
      diags_.note(targetAt, "the target is set here");
    } else if (!config.targetInput &&
               (csv ? d->labelColumns.empty() : d->labels.empty())) {
      if (!targetAt.end) { // else the target's error is the one to fix
        diags_.report(Diag::MissingArgument, d->range,
                      csv ? "csv() needs the argument 'label_column' (or "
                            "'label_columns')"
                          : "idx() needs the argument 'labels'");
        diags_.note("or name the input as the target ('target = x') to "
                    "train the model to reproduce it (an autoencoder)");
      }
      *d = DataSource(); // reported: no follow-on label checks
    }
  }
}

/// `target = <input>`: the output is compared with the model's one float
/// input, so both must have one shape, and the loss must be a regression's.
void Checker::checkTargetInput(const TrainConfig &config, const Model &model,
                               SourceRange lossAt, SourceRange targetAt) {
  if (model.inputs.size() != 1 || model.nodes[model.inputs[0]].integer) {
    diags_.report(Diag::LossOutputMismatch, targetAt,
                  "an input as the target needs a model of one f32 input");
    return;
  }
  const Node &in = model.nodes[model.inputs[0]];
  const Node &out = model.nodes[model.output];
  if (out.shape != in.shape) {
    diags_.report(Diag::LossOutputMismatch, out.range,
                  fmt::format("the output is {} but its target, input '{}', "
                              "is {}",
                              shapeString(out.shape), in.name,
                              shapeString(in.shape)));
    diags_.note(in.range, "the input is declared here");
    diags_.note(targetAt, "the target is set here");
  }
  if (!elementwiseLoss(config.loss) &&
      config.loss != LossKind::BinaryCrossentropy) {
    diags_.report(Diag::LossOutputMismatch, lossAt,
                  fmt::format("{} compares classes; an input as the "
                              "target needs mse, mae, huber or "
                              "binary_crossentropy",
                              lossName(config.loss)));
    diags_.note(targetAt, "the target is set here");
  }
}

/// The activation a model's output node ends with.
Activation outputActivation(const Node &out) {
  bool hasActivation = out.kind == Node::Dense || out.kind == Node::Conv2D ||
                       out.kind == Node::Activate;
  return hasActivation ? out.activation : Activation{};
}

/// The output and the labels must suit the loss.
void Checker::checkLossAgainstModel(const TrainConfig &config,
                                    const Model &model, SourceRange lossAt) {
  if (model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  Activation act = outputActivation(out);
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
    if (!act.is("softmax"))
      mismatch(fmt::format("{} needs the output to be a softmax", loss),
               "end the model with 'activation: softmax'");
    break;
  case LossKind::BinaryCrossentropy:
    if (!act.is("sigmoid"))
      mismatch(fmt::format("{} needs the output to be a sigmoid", loss),
               "end the model with 'activation: sigmoid'");
    break;
  case LossKind::MeanSquaredError:
  case LossKind::MeanAbsoluteError:
  case LossKind::Huber:
    break;
  }
  if (config.targetInput)
    return; // checkTargetInput's
  // Label rows: one-hot rows of the output's width, or one number. With
  // `onehot:` given, the number of classes is a fact of the data: the fix
  // is the layer's width (unless another source already matches it), not
  // an `onehot:` that would fail when the labels are read.
  auto widthFollowsOnehot = [&](const DataSource &d) {
    for (const DataSource *other :
         {&config.data, &config.test, &config.validation})
      if (other->present() && other->onehot == width)
        return false;
    return d.onehot != 0;
  };
  // The class count a source without `onehot:` should name: the layer's,
  // or that of a source whose `onehot:` the layer is to follow.
  int64_t classes = width;
  for (const DataSource *d : {&config.data, &config.test, &config.validation})
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
  for (const DataSource *d : {&config.data, &config.test, &config.validation}) {
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
    else if (config.loss == LossKind::BinaryCrossentropy &&
             d->labelWidth() != width)
      diags_.report(Diag::LabelWidthMismatch, d->range,
                    fmt::format("the labels are {} wide but the output is {}",
                                d->labelWidth(), width));
    else if (elementwiseLoss(config.loss) && d->labelWidth() != width) {
      if (widthFollowsOnehot(*d))
        onehotAgainstLayer(*d);
      else
        diags_.report(Diag::LabelWidthMismatch, d->range,
                      fmt::format("the labels are {} wide but the output is {}",
                                  d->labelWidth(), width));
    }
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
  SourceRange lossAt, lrKeyAt, lrInOptimizerAt{0, 0}, targetAt{0, 0};
  std::map<std::string, SourceRange> metricsAt; ///< each metric's first entry
  // Constants in a train block are evaluated with no model in scope.
  Model scratch;
  model_ = &scratch;
  names_.clear();
  definedAt_.clear();
  Args keys(trainBlock());
  for (const ast::TrainEntry &entry : t.entries) {
    const std::string &key = entry.key.name;
    static const std::vector<std::string> kTrainKeys = trainKeys();
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
    size_t index = keys.fn().indexOf(key);
    keys.exprs_[index] = &value;
    if (keys.fn().params[index].kind != ParamKind::Other) {
      checkArg(keys, index); // a value with a range: the table's
      continue;
    }
    if (key == "loss") {
      loss = evalLoss(value, config);
      lossAt = value.range;
    } else if (key == "optimizer") {
      if (auto opt = evalOptimizer(value, lrInOptimizerAt))
        config.optimizer = *opt;
    } else if (key == "lr") {
      lrKey = evalRate(value);
      lrKeyAt = value.range;
    } else if (key == "metrics") {
      evalMetrics(value, config, metricsAt);
    } else if (key == "target") {
      // The name of the model's input that the output is to reproduce.
      const ast::Ident *id = asIdent(value);
      targetAt = value.range;
      std::vector<std::string> inputs;
      for (int in : model->inputs)
        inputs.push_back(model->nodes[in].name);
      config.targetInput = id && std::find(inputs.begin(), inputs.end(),
                                           id->name) != inputs.end();
      if (!config.targetInput) {
        diags_.report(Diag::ArgumentType, value.range,
                      fmt::format("target must name an input of model '{}' "
                                  "(its output then learns to reproduce it): "
                                  "{}",
                                  model->name, joinOr(inputs, "'")));
        if (id)
          if (auto best = closestMatch(id->name, inputs))
            diags_.note(fmt::format("did you mean '{}'?", *best));
      }
    } else if (key == "early_stopping") {
      if (auto es = evalEarlyStopping(value))
        config.earlyStopping = *es;
    } else if (key == "data" || key == "test" || key == "validation") {
      if (auto d = evalData(value))
        (key == "data"   ? config.data
         : key == "test" ? config.test
                         : config.validation) = *d;
    }
  }
  model_ = nullptr;
  config.batchSize = keys.whole("batch_size");
  config.epochs = keys.whole("epochs");
  config.seed = keys.whole("seed");
  config.validationSplit = keys.number("validation_split");
  config.shuffle = keys.flag("shuffle");
  config.bf16 = keys.text("precision") == "bf16";
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
                "sparse_categorical_crossentropy, binary_crossentropy, mse, "
                "mae, huber)");
  }
  checkSourceLabels(config, targetAt);
  checkValidation(config, *model, seen);
  if (loss) {
    config.loss = *loss;
    bool regression = elementwiseLoss(config.loss) ||
                      config.loss == LossKind::BinaryCrossentropy;
    if (config.targetInput && model->output >= 0)
      checkTargetInput(config, *model, lossAt, targetAt);
    if (regression || !config.targetInput)
      checkLossAgainstModel(config, *model, lossAt);
    checkClassWeights(config, *model, lossAt);
    checkMetrics(config, *model, metricsAt);
  }
  if (config.optimizer.lr.kind == Schedule::Plateau)
    checkMonitor(config, config.optimizer.lr.monitor,
                 config.optimizer.lr.monitorAt, "reduce_on_plateau", metricsAt);
  if (config.earlyStopping.enabled)
    checkMonitor(config, config.earlyStopping.monitor,
                 config.earlyStopping.range, "early_stopping", metricsAt);
  model->train = config;
}

} // namespace sora::dsl::sema
