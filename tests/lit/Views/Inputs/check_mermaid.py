"""Structural check of a Mermaid flowchart read from stdin: a `flowchart`
header, every node declared exactly once, every edge between declared
nodes, subgraphs closed, and nothing else. Prints a summary on success."""
import re
import sys

lines = [l.rstrip("\n") for l in sys.stdin if l.strip()]
if not lines or not re.fullmatch(r"flowchart (TD|TB|LR|RL|BT)", lines[0]):
    sys.exit("error: the first line is not a flowchart header")
node = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)(\(\["[^"]*"\]\)|\[/"[^"]*"/\]|\["[^"]*"\])')
edge = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*) -->\|"[^"]*"\| ([A-Za-z_][A-Za-z0-9_]*)')
declared, edges, depth = {}, [], 0
for number, line in enumerate(lines[1:], 2):
    if re.fullmatch(r'\s*subgraph [A-Za-z_][A-Za-z0-9_]* \["[^"]*"\]', line):
        depth += 1
    elif line.strip() == "end":
        depth -= 1
        if depth < 0:
            sys.exit(f"error: line {number}: 'end' without a subgraph")
    elif m := edge.fullmatch(line):
        edges.append((number, m.group(1), m.group(2)))
    elif m := node.fullmatch(line):
        if m.group(1) in declared:
            sys.exit(f"error: line {number}: {m.group(1)} declared twice")
        declared[m.group(1)] = number
    else:
        sys.exit(f"error: line {number}: not a node, edge or subgraph: {line}")
if depth:
    sys.exit("error: a subgraph is not closed")
for number, a, b in edges:
    for n in (a, b):
        if n not in declared:
            sys.exit(f"error: line {number}: edge to undeclared node {n}")
print(f"mermaid ok: {len(declared)} nodes, {len(edges)} edges")
