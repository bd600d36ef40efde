#!/usr/bin/env python3
"""Writes data.csv for the regression example: 2 000 samples of a known
smooth function, y = sin(2 x1) + 0.5 x2^2, on [-2, 2]^2, with a little noise.
Columns: x1, x2, y. Deterministic (fixed seed), standard library only."""
import math
import os
import random

rng = random.Random(7)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.csv")
with open(path, "w") as f:
    f.write("x1,x2,y\n")
    for _ in range(2000):
        x1, x2 = rng.uniform(-2, 2), rng.uniform(-2, 2)
        y = math.sin(2 * x1) + 0.5 * x2 * x2 + rng.gauss(0, 0.02)
        f.write(f"{x1:.5f},{x2:.5f},{y:.5f}\n")
