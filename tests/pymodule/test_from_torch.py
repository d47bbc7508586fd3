"""Model.from_torch: a live nn.Module traced or scripted in memory, with autograd enabled."""

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from torch import nn

import camkit
from conftest import SHAPE_PNG


class Net(nn.Module):
    """Conv -> GAP -> linear: a CAM head."""

    def __init__(self, k=4):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(16, k)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


def cam_reference(net, x, c):
    """Zhou et al.'s CAM with a forward hook: M_c = sum_k W[c, k] A_k."""
    with torch.no_grad():
        a = net.features(x)[0]
        return torch.einsum("k,khw->hw", net.fc.weight[c], a).numpy()


@pytest.mark.parametrize("method", ["trace", "script"])
def test_traced_and_scripted_modules(method):
    net = Net().eval()
    x = torch.randn(1, 3, 32, 32)
    model = camkit.Model.from_torch(net, x, method=method, labels=["a", "b", "c", "d"])
    assert model.path == "<torch>" and model.has_cam_head and model.layer == "features"
    r = model.explain(x, top_k=2)
    with torch.no_grad():
        logits = net(x)[0]
    assert r.classes == logits.argsort(descending=True)[:2].tolist()
    assert r.predictions[0].label == "abcd"[r.classes[0]]
    want = cam_reference(net, x, r.classes[0])
    assert np.abs(r.raw[0] - want).max() <= 1e-4 * np.abs(want).max()
    assert model.info()["metadata"]["input"] == {"channels": 3, "height": 32, "width": 32}


def test_preprocessing_arguments_and_pixels():
    model = camkit.Model.from_torch(Net(), torch.zeros(1, 3, 64, 64), size=64, mean=0.5,
                                    std=0.25, name="net")
    r = model.explain(SHAPE_PNG)  # a 160x160 PNG, resized to 64x64
    assert model.preprocess["size"] == (64, 64) and r.record["model"] == "net"
    assert r.image_size == (160, 160)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_traced_under_no_grad_still_has_gradients():
    """A ViT's attention traced under torch.no_grad() records a kernel without a derivative;
    from_torch traces with autograd enabled, so gradient methods run."""
    torch.manual_seed(3)
    vit = tvm.VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2,
                                hidden_dim=32, mlp_dim=64, num_classes=3).eval()
    with torch.no_grad():  # torchvision zero-initialises the head: make every part matter
        for p in vit.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        model = camkit.Model.from_torch(vit, x)
        r = model.explain(x, method="gradcam")
    assert model.info()["gradients"]["available"]
    assert r.raw[0].shape == (4, 4) and np.isfinite(r.raw[0]).all()


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_a_module_torchscript_cannot_reproduce_is_refused():
    class Branching(nn.Module):
        def forward(self, x):
            return x.mean((2, 3)) if bool(x.min() > 0) else -x.mean((2, 3))

    with pytest.raises(camkit.ModelError, match="does not reproduce the module"):
        camkit.Model.from_torch(Branching(), torch.ones(1, 3, 8, 8))


def test_bad_method():
    with pytest.raises(camkit.UsageError, match="'trace' or 'script'"):
        camkit.Model.from_torch(Net(), torch.zeros(1, 3, 8, 8), method="compile")
