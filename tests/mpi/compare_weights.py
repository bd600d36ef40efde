#!/usr/bin/env python3
"""compare_weights.py A.safetensors B.safetensors [--rtol R] [--atol A]

Compares the weights (not the optimizer state) of two sora checkpoints:
every tensor of A must be in B with the same shape, and every value must
satisfy |a - b| <= atol + rtol * |b|. Prints the largest differences and
exits 1 if any value is outside the tolerance."""
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__" or name.startswith("optimizer."):
            continue
        b, e = t["data_offsets"]
        values = struct.unpack("<%df" % ((e - b) // 4), data[b:e])
        tensors[name] = (t["shape"], values)
    return tensors


def main(argv):
    args, rtol, atol = [], 1e-4, 1e-5
    i = 1
    while i < len(argv):
        if argv[i] == "--rtol":
            rtol = float(argv[i + 1]); i += 2
        elif argv[i] == "--atol":
            atol = float(argv[i + 1]); i += 2
        else:
            args.append(argv[i]); i += 1
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = load(args[0]), load(args[1])
    if sorted(a) != sorted(b):
        print("different tensors: %s vs %s" % (sorted(a), sorted(b)))
        return 1
    worst_abs = worst_rel = 0.0
    bad = 0
    count = 0
    for name in sorted(a):
        (sa, va), (sb, vb) = a[name], b[name]
        if sa != sb:
            print("%s: shape %s vs %s" % (name, sa, sb))
            return 1
        for x, y in zip(va, vb):
            d = abs(x - y)
            count += 1
            worst_abs = max(worst_abs, d)
            if y != 0:
                worst_rel = max(worst_rel, d / abs(y))
            if d > atol + rtol * abs(y):
                bad += 1
    print("%d weights in %d tensors: max |diff| %.3g, max relative diff "
          "%.3g (tolerance: atol %g + rtol %g); %d outside" %
          (count, len(a), worst_abs, worst_rel, atol, rtol, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
