//===- SemaOptimizer.cpp - Optimizers and learning-rate schedules -------===//
//
// The optimizer call of a train block, and a learning rate: a number or a
// schedule's call (a warmup wraps another schedule).
//
//===----------------------------------------------------------------------===//
#include "SemaImpl.h"

#include <fmt/format.h>

namespace sora::dsl::sema {

std::optional<Schedule> Checker::evalRate(const ast::Expr &e) {
  Schedule s;
  if (!asCall(e)) {
    auto lr = evalInRange(e, "the learning rate", 0, true, 10, false);
    if (!lr)
      return std::nullopt;
    s.initial = *lr;
    return s;
  }
  auto args =
      trainFunction(e, BuiltinGroup::Schedule, "a learning rate or a schedule");
  if (!args)
    return std::nullopt;
  std::string name = args->fn().name;
  // The rest of a schedule is checked only once its start is right.
  bool hasInitial = name != "warmup" && name != "piecewise";
  if ((hasInitial && !checkArg(*args, args->fn().indexOf("initial"))) ||
      !checkArgs(*args))
    return std::nullopt;
  if (hasInitial)
    s.initial = args->number("initial");
  if (name == "exponential_decay") {
    s.kind = Schedule::Exponential;
    s.rate = args->number("rate");
    s.steps = args->number("steps");
  } else if (name == "step_decay") {
    s.kind = Schedule::Step;
    s.factor = args->number("factor");
    s.every = double(args->whole("every"));
  } else if (name == "linear_decay") {
    s.kind = Schedule::Linear;
    s.final = args->number("final");
    s.steps = double(args->whole("steps"));
  } else if (name == "cosine_decay") {
    s.kind = Schedule::Cosine;
    s.steps = double(args->whole("steps"));
    s.alpha = args->number("alpha");
  } else if (name == "warmup") {
    s = args->rate("then");
    if (s.warmup) {
      // One ramp is what a warmup means; a second would only lengthen it.
      diags_.report(Diag::ArgumentType, args->expr("then")->range,
                    "a warmup cannot follow a warmup: give 'then:' a number "
                    "or a decay schedule");
      return std::nullopt;
    }
    if (s.kind == Schedule::Plateau) {
      // Its reductions depend on epochs, which a ramp of steps would blur.
      diags_.report(Diag::ArgumentType, args->expr("then")->range,
                    "reduce_on_plateau cannot follow a warmup");
      return std::nullopt;
    }
    s.warmup = args->whole("steps");
  } else if (name == "reduce_on_plateau") {
    s.kind = Schedule::Plateau;
    s.monitor = args->text("monitor");
    s.monitorAt =
        args->given("monitor") ? args->expr("monitor")->range : e.range;
    s.factor = args->number("factor");
    s.patience = args->whole("patience");
    s.minDelta = args->number("min_delta");
    s.cooldown = args->whole("cooldown");
    s.final = args->number("min_lr");
  } else if (!evalPiecewise(*args, s)) {
    return std::nullopt;
  }
  return s;
}

/// piecewise(boundaries: [b0, b1, ...], values: [v0, v1, ..., vn]): steps
/// increasing, one value more than boundaries.
bool Checker::evalPiecewise(const Args &args, Schedule &s) {
  const ast::Expr *b = args.expr("boundaries"), *v = args.expr("values");
  const ast::List *bounds = asList(*b), *values = asList(*v);
  if (!bounds || bounds->items.empty()) {
    diags_.report(Diag::ArgumentType, b->range,
                  "boundaries must be a list of step numbers, e.g. [1000, "
                  "5000]");
    return false;
  }
  if (!values) {
    diags_.report(Diag::ArgumentType, v->range,
                  "values must be a list of learning rates, e.g. [0.1, 0.01, "
                  "0.001]");
    return false;
  }
  const ast::Expr *previous = nullptr;
  for (const ast::Expr &item : bounds->items) {
    auto step = evalWhole(item, "a boundary", 0, int64_t(1) << 40);
    if (!step)
      return false;
    if (previous && *step <= s.boundaries.back()) {
      diags_.report(Diag::OutOfRange, item.range,
                    fmt::format("boundaries must increase: {} comes after {}",
                                *step, s.boundaries.back()));
      diags_.note(previous->range, "the boundary before it");
      return false;
    }
    s.boundaries.push_back(*step);
    previous = &item;
  }
  for (const ast::Expr &item : values->items) {
    auto rate = evalInRange(item, "a learning rate", 0, false, 10, false);
    if (!rate)
      return false;
    s.values.push_back(*rate);
  }
  if (s.values.size() != s.boundaries.size() + 1) {
    diags_.report(Diag::ArgumentType, v->range,
                  fmt::format("piecewise() needs one value more than "
                              "boundaries: {} boundar{} need {} values, got {}",
                              s.boundaries.size(),
                              s.boundaries.size() == 1 ? "y" : "ies",
                              s.boundaries.size() + 1, s.values.size()));
    return false;
  }
  s.kind = Schedule::Piecewise;
  s.initial = s.values[0];
  return true;
}

std::optional<Optimizer> Checker::evalOptimizer(const ast::Expr &e,
                                                SourceRange &lrGivenAt) {
  auto args = trainFunction(e, BuiltinGroup::Optimizer, "an optimizer");
  if (!args)
    return std::nullopt;
  Optimizer opt;
  std::string name = args->fn().name;
  opt.kind = name == "adam"    ? OptimizerKind::Adam
             : name == "adamw" ? OptimizerKind::AdamW
             : name == "sgd"   ? OptimizerKind::SGD
                               : OptimizerKind::RMSprop;
  if (args->given("lr"))
    lrGivenAt = args->expr("lr")->range;
  if (!checkArgs(*args))
    return std::nullopt;
  opt.lr = args->rate("lr");
  if (opt.kind == OptimizerKind::Adam || opt.kind == OptimizerKind::AdamW) {
    opt.beta1 = args->number("beta1");
    opt.beta2 = args->number("beta2");
    opt.epsilon = args->number("epsilon");
  } else if (opt.kind == OptimizerKind::SGD) {
    opt.momentum = args->number("momentum");
    opt.nesterov = args->flag("nesterov");
    if (opt.nesterov && opt.momentum == 0) {
      diags_.report(Diag::OutOfRange, args->expr("nesterov")->range,
                    "nesterov needs a momentum above 0");
      return std::nullopt;
    }
  } else {
    opt.rho = args->number("rho");
    opt.epsilon = args->number("epsilon");
  }
  opt.weightDecay = args->number("weight_decay");
  opt.decayBiases = args->flag("decay_biases");
  opt.clipNorm = args->number("clip_norm");
  opt.clipValue = args->number("clip_value");
  // Keras allows one clipping too: the order of two would be arbitrary.
  if (opt.clipNorm > 0 && opt.clipValue > 0) {
    diags_.report(Diag::DuplicateArgument, args->expr("clip_value")->range,
                  "give clip_norm or clip_value, not both");
    diags_.note(args->expr("clip_norm")->range, "clip_norm is given here");
    return std::nullopt;
  }
  return opt;
}

} // namespace sora::dsl::sema
