//===- ASTAdapted.h - Boost.Fusion adaption of the AST ----------*- C++ -*-===//
//
// Only the adaption, so that X3 can fill the structs field by field. The
// `range` of each Located node is not adapted: the grammar's annotator fills
// it after a successful match.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/AST.h"

#include <boost/fusion/include/adapt_struct.hpp>

BOOST_FUSION_ADAPT_STRUCT(sora::ast::Chain, head, steps)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Unary, negate, chain)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::ProductTail, op, operand)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Product, first, rest)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::SumTail, op, operand)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Expr, first, rest)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Arg, name, value)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Call, callee, args)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::List, open, items)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::TensorType, element, dims)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::InputStmt, name, type)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Binding, isOutput, name, value)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Model, name, body)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::TrainEntry, key, value)
BOOST_FUSION_ADAPT_STRUCT(sora::ast::Train, model, entries)
