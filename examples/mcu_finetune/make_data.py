#!/usr/bin/python3
"""Writes data.c: Fashion-MNIST images as C arrays for the microcontroller
(flash: const), from Debian's dataset-fashion-mnist package.

    make_data.py OUT.c [TRAIN [TEST]]

TRAIN images (default 300) from the start of the training set, to fine-tune
on, and TEST (default 200) from the start of the test set, to measure on:
bytes as the files hold them (0..255; the program scales them by 1/255)
and their classes."""
import gzip
import struct
import sys

DIR = "/usr/share/datasets/fashion-mnist"


def read(name, count, header):
    with gzip.open(f"{DIR}/{name}", "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic not in (2049, 2051):
        sys.exit(f"make_data.py: {name} is not an IDX file")
    size = 784 if magic == 2051 else 1
    return data[header:header + count * size]


def array(name, kind, data, per_line=24):
    rows = [", ".join(str(b) for b in data[i:i + per_line])
            for i in range(0, len(data), per_line)]
    return f"const {kind} {name}[{len(data)}] = {{\n  " + ",\n  ".join(rows) + "\n};\n"


def main():
    out = sys.argv[1]
    train = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    test = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    parts = [
        "/* Made by make_data.py from Fashion-MNIST; do not edit. */\n",
        "#include <stdint.h>\n\n",
        f"const int train_count = {train}, test_count = {test};\n",
        array("train_images", "uint8_t", read("train-images-idx3-ubyte.gz", train, 16)),
        array("train_labels", "uint8_t", read("train-labels-idx1-ubyte.gz", train, 8)),
        array("test_images", "uint8_t", read("t10k-images-idx3-ubyte.gz", test, 16)),
        array("test_labels", "uint8_t", read("t10k-labels-idx1-ubyte.gz", test, 8)),
    ]
    with open(out, "w") as f:
        f.write("".join(parts))


if __name__ == "__main__":
    main()
