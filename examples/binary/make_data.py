#!/usr/bin/env python3
"""Writes data.csv for the binary example: two concentric rings in the
plane, 2 000 points, label 0 for the inner ring (radius 0.5 to 1.0) and 1
for the outer ring (radius 1.5 to 2.5). Columns: x, y, label. Deterministic
(fixed seed), standard library only."""
import math
import os
import random

rng = random.Random(11)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.csv")
with open(path, "w") as f:
    f.write("x,y,label\n")
    for _ in range(2000):
        label = rng.randrange(2)
        r = rng.uniform(0.5, 1.0) if label == 0 else rng.uniform(1.5, 2.5)
        a = rng.uniform(0, 2 * math.pi)
        f.write(f"{r * math.cos(a):.5f},{r * math.sin(a):.5f},{label}\n")
