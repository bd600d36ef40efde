"""What bench/run.py measures on: the CPU's name and vector extensions, and
the roof its GFLOP/s figures are read against, the single core's peak rate of
fused multiply-adds (bench/fma_peak.c)."""
import json
import os
import platform
import subprocess
import sys


def cpu_model():
    """The CPU's model name and whether it has AVX-512 (from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown", False
    name = next((l.split(":", 1)[1].strip() for l in info.splitlines()
                 if l.startswith("model name")), "unknown")
    flags = next((l.split(":", 1)[1].split() for l in info.splitlines()
                  if l.startswith("flags")), [])
    return name, "avx512f" in flags


def fma_peak(root, tmp):
    """bench/fma_peak.c compiled with the system cc at -O2 -march=native
    (the widest vectors the machine has) and run once: its JSON line, with
    `gflops` the best trial's single-core FMA rate."""
    binary = os.path.join(tmp, "fma_peak")
    cmd = [os.environ.get("CC", "cc"), "-O2", "-march=native",
           os.path.join(root, "bench/fma_peak.c"), "-o", binary]
    for args in (cmd, [binary]):
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"run.py: {' '.join(args)} failed ({p.returncode}):\n"
                     f"{p.stdout}{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])
