//===- GraphViews.cpp - The graph as Graphviz and Mermaid -----------------===//
//
// The dataflow graph drawn as the project's origin draws networks: values
// flow along edges labelled with their shapes, parameters enter from the
// side, and ops that the fuse pass made into one loop nest are drawn inside
// one cluster.
//
//===----------------------------------------------------------------------===//
#include "IR/GraphViews.h"

#include <fmt/format.h>

#include <map>
#include <ostream>

namespace sora::ir {

namespace {

std::string label(const Node &n) {
  switch (n.op) {
  case OpKind::Input:
    return "input " + n.name;
  case OpKind::Param:
    return n.name;
  case OpKind::Const:
    return fmt::format("const {:g}", n.attrs.value());
  default:
    return mnemonic(n.op);
  }
}

/// Nodes of each fused group, and the ungrouped nodes.
std::map<int, std::vector<const Node *>> byGroup(const Graph &g) {
  std::map<int, std::vector<const Node *>> groups;
  for (const auto &n : g.nodes())
    groups[n->group].push_back(n.get());
  return groups;
}

} // namespace

void printDot(std::ostream &os, const Graph &g) {
  os << "digraph \"" << g.name() << "\" {\n"
     << "  rankdir=TB;\n"
     << "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  auto declare = [&](const Node *n, const char *indent) {
    const char *style = n->op == OpKind::Input   ? ", shape=ellipse"
                        : n->op == OpKind::Param ? ", shape=note"
                                                 : "";
    os << indent << "n" << n->id << " [label=\"" << label(*n) << "\"" << style
       << "];\n";
  };
  for (const auto &[group, nodes] : byGroup(g)) {
    if (group < 0) {
      for (const Node *n : nodes)
        declare(n, "  ");
      continue;
    }
    os << "  subgraph cluster_" << group << " {\n"
       << "    label=\"fused " << group << "\"; style=dashed;\n";
    for (const Node *n : nodes)
      declare(n, "    ");
    os << "  }\n";
  }
  for (const auto &n : g.nodes())
    for (const Node *o : n->operands)
      os << "  n" << o->id << " -> n" << n->id << " [label=\"" << o->type.str()
         << "\"];\n";
  for (const Graph::Output &out : g.outputs())
    os << "  out_" << out.name << " [label=\"" << out.name
       << "\", shape=ellipse];\n  n" << out.node->id << " -> out_" << out.name
       << " [label=\"" << out.node->type.str() << "\"];\n";
  os << "}\n";
}

void printMermaid(std::ostream &os, const Graph &g) {
  os << "flowchart TD\n";
  auto declare = [&](const Node *n, const char *indent) {
    // Mermaid: ([..]) is a stadium (inputs), [/..../] a parallelogram.
    std::string text = label(*n);
    if (n->op == OpKind::Input)
      os << indent << "n" << n->id << "([\"" << text << "\"])\n";
    else if (n->op == OpKind::Param)
      os << indent << "n" << n->id << "[/\"" << text << "\"/]\n";
    else
      os << indent << "n" << n->id << "[\"" << text << "\"]\n";
  };
  for (const auto &[group, nodes] : byGroup(g)) {
    if (group < 0) {
      for (const Node *n : nodes)
        declare(n, "  ");
      continue;
    }
    os << "  subgraph g" << group << " [\"fused " << group << "\"]\n";
    for (const Node *n : nodes)
      declare(n, "    ");
    os << "  end\n";
  }
  for (const Graph::Output &out : g.outputs())
    os << "  out_" << out.name << "([\"" << out.name << "\"])\n";
  for (const auto &n : g.nodes())
    for (const Node *o : n->operands)
      os << "  n" << o->id << " -->|\"" << o->type.str() << "\"| n" << n->id
         << "\n";
  for (const Graph::Output &out : g.outputs())
    os << "  n" << out.node->id << " -->|\"" << out.node->type.str()
       << "\"| out_" << out.name << "\n";
}

} // namespace sora::ir
