#!/usr/bin/env python3
"""Runs `sorac run ... --report json` and checks the final metrics.

  expect_report.py SORAC MODEL.sora [sorac run options] -- CHECK...

CHECK is KEY>=VALUE or KEY<=VALUE (a metric of the JSON report), or
KEY<=F*variance(CSV,COLUMN,SPLIT): at most F times the variance of a CSV
column over its last SPLIT fraction of rows (the validation part, as Keras
holds it out). Prints the report and each check; exits 1 if one fails."""
import csv
import json
import re
import subprocess
import sys

args = sys.argv[1:]
split = args.index("--")
command, checks = args[:split], args[split + 1:]
run = subprocess.run([command[0], "run"] + command[1:] + ["--report", "json"],
                     capture_output=True, text=True)
sys.stdout.write(run.stdout)
sys.stderr.write(run.stderr)
if run.returncode != 0:
    sys.exit(f"FAIL: sorac run exited {run.returncode}")
report = json.loads(run.stdout.strip().splitlines()[-1])


def variance(path, column, fraction):
    with open(path) as f:
        rows = [r for r in csv.reader(f)][1:]
    tail = rows[int(len(rows) * (1 - fraction)):]
    values = [float(r[column]) for r in tail]
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


failed = False
for check in checks:
    key, op, bound = re.fullmatch(r"(\w+)(>=|<=)(.+)", check).groups()
    m = re.fullmatch(r"([\d.]+)\*variance\((.+),(\d+),([\d.]+)\)", bound)
    limit = (float(m.group(1)) * variance(m.group(2), int(m.group(3)),
                                          float(m.group(4)))
             if m else float(bound))
    value = report.get(key)
    ok = value is not None and (value >= limit if op == ">=" else value <= limit)
    print(f"{'PASS' if ok else 'FAIL'}: {key} = {value} {op} {limit:.6g}")
    failed |= not ok
sys.exit(1 if failed else 0)
