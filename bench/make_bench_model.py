"""Writes the benchmark's model: torchvision ResNet18 (seeded random weights, BatchNorm statistics
randomised so it is not the identity), traced at 224x224 with ImageNet metadata.

usage: /usr/bin/python3 bench/make_bench_model.py OUT.pt
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import export_model  # noqa: E402
import camkit_meta  # noqa: E402


def build():
    """The eager network the file holds (bench/python_bench.py hooks into it)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


def main(out):
    model = build()
    meta = camkit_meta.build_meta("resnet18", 1000, 3, 224, 224, preset="imagenet")
    x = torch.randn(1, 3, 224, 224)
    export_model.export(model, out, meta, "trace", example=x, check_input=x)


if __name__ == "__main__":
    main(sys.argv[1])
