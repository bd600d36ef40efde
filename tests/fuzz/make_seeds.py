#!/usr/bin/env python3
"""Writes the seed corpora of the runtime's fuzz targets: small valid files
(and a few that are valid but unusual), in the input layout each target
expects (see the comments at the top of IdxFuzzer.cpp, CsvFuzzer.cpp and
SafetensorsFuzzer.cpp).

    make_seeds.py OUT_DIR

writes OUT_DIR/fuzz_idx/, OUT_DIR/fuzz_csv/ and OUT_DIR/fuzz_safetensors/.
The output is the same on every run (gzip files carry no time stamp). Where
the Fashion-MNIST files of Debian's dataset-fashion-mnist are installed, the
first few samples of the test set become seeds too (the whole files are far
too big to be seeds)."""
import gzip
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION = "/usr/share/datasets/fashion-mnist"


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx(dims, data, kind=0x08):
    return bytes([0, 0, kind, len(dims)]) + b"".join(
        struct.pack(">I", d) for d in dims) + bytes(data)


def idx_input(images, labels, onehot=3, fit_trains=False):
    """fuzz_idx's layout: flags, the images' length (LE16), images, labels."""
    flags = (onehot & 0x0F) | (0x10 if fit_trains else 0)
    return bytes([flags]) + struct.pack("<H", len(images)) + images + labels


def csv_input(text, label_column, onehot=0, scale=0, fit_trains=False):
    """fuzz_csv's layout: flags, column and scale, then the file."""
    flags = (onehot & 0x0F) | (0x10 if fit_trains else 0)
    data = text.encode() if isinstance(text, str) else text
    return bytes([flags, (label_column & 7) | (scale & 3) << 3]) + data


# The model of tests/unit/runtime/fake_model.h.
WEIGHTS = [("dense.weight", [3, 4]), ("dense.bias", [3])]
STATE = [("optimizer.dense.weight.m", [3, 4]), ("optimizer.dense.bias.m", [3]),
         ("optimizer.dense.weight.v", [3, 4]), ("optimizer.dense.bias.v", [3])]
FAKE_HASH = 0x5EED5EED5EED


def safetensors(tensors, metadata=None, pad=True, order=None):
    """A safetensors file of F32 tensors [(name, shape)], values 0.5, 1.5..."""
    header, data, offset = {}, b"", 0
    for i, (name, shape) in enumerate(tensors):
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + 4 * n]}
        data += struct.pack("<%df" % n, *[0.5 + i + k for k in range(n)])
        offset += 4 * n
    if metadata is not None:
        header["__metadata__"] = metadata
    keys = order or list(header)
    text = "{" + ",".join(json.dumps(k) + ":" + json.dumps(header[k],
                                                            separators=(",", ":"))
                          for k in keys) + "}"
    raw = text.encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx_seeds(out):
    w = lambda name, data: write(out, "fuzz_idx", name, data)
    pixels = [i for i in range(3) for _ in range(4)]
    images, labels = idx([3, 2, 2], pixels), idx([3], [0, 1, 2])
    w("raw", idx_input(images, labels))
    w("raw-fit", idx_input(images, labels, fit_trains=True))
    w("gzip", idx_input(gz(images), gz(labels)))
    w("gzip-images-raw-labels", idx_input(gz(images), labels, onehot=0))
    w("labels-as-numbers", idx_input(images, labels, onehot=0))
    w("one-dimensional", idx_input(idx([4], [1, 2, 3, 4]), idx([4], [0, 1, 0, 1]),
                                   onehot=2, fit_trains=True))
    w("rank-4", idx_input(idx([2, 1, 2, 2], range(8)), idx([2], [1, 0]), onehot=2))
    w("wide-onehot", idx_input(images, idx([3], [14, 0, 7]), onehot=15))
    if os.path.exists(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")):
        with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
            head = f.read(16 + 8 * 784)
        with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
            lhead = f.read(8 + 8)
        # The first 8 samples, with the counts rewritten to 8.
        imgs = idx([8, 28, 28], head[16:])
        labs = idx([8], lhead[8:])
        w("fashion-8", idx_input(imgs, labs, onehot=10, fit_trains=True))
        w("fashion-8-gzip", idx_input(gz(imgs), gz(labs), onehot=10))


def csv_seeds(out):
    w = lambda name, data: write(out, "fuzz_csv", name, data)
    w("header", csv_input("a,b,label\n1,2,0\n3,4,1\n5,6,2\n", 2, onehot=3))
    w("no-header", csv_input("1,2,0\n3,4,1\n5,6,2\n7,8,0\n", 2, fit_trains=True))
    w("label-first", csv_input("0,1.5,2.5,3.5,4.5\n1,-1e3,2E-2,.5,6.\n", 0,
                               onehot=2, fit_trains=True))
    w("middle-label", csv_input("x,y,z\n1,0,3\n4,1,6\n", 1, onehot=2, scale=1))
    w("bom-crlf-blank", csv_input(b"\xef\xbb\xbfa, b ,c\r\n\r\n 1 ,\t2,0\r\n3,4,1",
                                  2, onehot=2))
    w("gzip", csv_input(gz(b"f1,f2,f3,f4,y\n1,2,3,4,0\n5,6,7,8,1\n"), 4,
                        onehot=2, fit_trains=True))
    w("scaled", csv_input("1e30,2,0\n3,4,1\n", 2, scale=3))
    w("negative-scale", csv_input("+1,-2,0\n3,4,1\n", 2, scale=2))
    for example, column in (("binary", 2), ("regression", 0)):
        path = os.path.join(ROOT, "examples", example, "data.csv")
        if os.path.exists(path):
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")[:24]
            w(example, csv_input(b"\n".join(lines) + b"\n", column,
                                 fit_trains=True))


def safetensors_seeds(out):
    w = lambda name, data: write(out, "fuzz_safetensors", name, data)
    meta = {"format": "sora", "model": "fake", "model_hash": str(FAKE_HASH),
            "step": "12", "epoch": "3", "rng": "0123456789abcdef" * 4}
    w("sora-with-state", safetensors(WEIGHTS + STATE, meta))
    w("sora-weights-only", safetensors(
        WEIGHTS, {k: v for k, v in meta.items() if k != "rng"}))
    w("pytorch", safetensors(WEIGHTS, {"format": "pt"}))
    w("no-metadata", safetensors(WEIGHTS))
    w("unpadded", safetensors(WEIGHTS, {"format": "pt"}, pad=False))
    w("metadata-first", safetensors(WEIGHTS, {"format": "pt", "note": "\u00e9\u6f22\U0001f600"},
                                    order=["__metadata__", "dense.bias", "dense.weight"]))
    # A header with spaces and escapes where JSON allows them.
    raw = (b'{ "dense.weight" : { "dtype" : "F32" , "shape" : [ 3 , 4 ] ,'
           b' "data_offsets" : [ 0 , 48 ] } , "dense.bia\\u0073" : {"shape":[3],'
           b'"dtype":"F32","data_offsets":[48,60]}}\n')
    w("whitespace-and-escapes", struct.pack("<Q", len(raw)) + raw +
      struct.pack("<15f", *range(15)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    idx_seeds(out)
    csv_seeds(out)
    safetensors_seeds(out)


if __name__ == "__main__":
    main()
