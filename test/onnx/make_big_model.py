#!/usr/bin/python3
"""Write the ~100 MB models of the reader benchmark (not committed):

    /usr/bin/python3 test/onnx/make_big_model.py DIR

DIR/big_mlp.onnx: torch.onnx.export of an MLP 784-4096-4096-1000 (96 MB,
four large initializers); DIR/big_cnn.onnx: 40 conv 3x3 layers of 256
channels, batch norms folded by the exporter (92 MB, 82 initializers).
"""
import os
import sys

import torch


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(784, 4096), torch.nn.ReLU(),
        torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
        torch.nn.Linear(4096, 1000)).eval()
    torch.onnx.export(mlp, torch.zeros(1, 784),
                      os.path.join(out, "big_mlp.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    layers, c = [], 3
    for _ in range(40):
        layers += [torch.nn.Conv2d(c, 256, 3, padding=1),
                   torch.nn.BatchNorm2d(256), torch.nn.ReLU()]
        c = 256
    cnn = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(256, 10))
    torch.onnx.export(cnn.eval(), torch.zeros(1, 3, 32, 32),
                      os.path.join(out, "big_cnn.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])


if __name__ == "__main__":
    main()
