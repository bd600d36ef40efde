#!/usr/bin/python3
"""PyTorch's GRU and RNN (tanh and relu), two layers each, exported to
ONNX, for tests/onnx/pytorch_models.sh: the cells whose gate orders and
variants the importer must map (ONNX's z, r, h and linear_before_reset to
PyTorch's r, z, n). Untrained weights (PyTorch's default init, seeded) are
enough to check the numbers. Writes models/{gru,rnn}.onnx and their
.input.bin (int32 ids, 64 x 12) and .expected.bin (PyTorch's probabilities).
make check does not run this; regenerate with
    /usr/bin/python3 tests/onnx/make_recurrent.py"""
import os

import numpy as np
import torch

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
torch.manual_seed(3)
ids = torch.randint(0, 20, (64, 12))


class Model(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 8)
        if cell == "gru":
            self.first = torch.nn.GRU(8, 16, batch_first=True)
            self.second = torch.nn.GRU(16, 12, batch_first=True)
        else:
            self.first = torch.nn.RNN(8, 16, batch_first=True)
            self.second = torch.nn.RNN(16, 12, nonlinearity="relu",
                                       batch_first=True)
        self.out = torch.nn.Linear(12, 5)

    def forward(self, x):
        seq, _ = self.first(self.embed(x))
        last, _ = self.second(seq)
        return torch.softmax(self.out(last[:, -1, :]), dim=1)


for cell in ["gru", "rnn"]:
    model = Model(cell).eval()
    path = os.path.join(here, cell + ".onnx")
    torch.onnx.export(model, (ids[:2],), path, opset_version=14,
                      input_names=["word"], output_names=["probs"],
                      dynamic_axes={"word": {0: "batch"},
                                    "probs": {0: "batch"}})
    with torch.no_grad():
        expected = model(ids).numpy().astype("<f4")
    ids.numpy().astype("<i4").tofile(os.path.join(here, cell + ".input.bin"))
    expected.tofile(os.path.join(here, cell + ".expected.bin"))
    print(cell, os.path.getsize(path), "bytes")
