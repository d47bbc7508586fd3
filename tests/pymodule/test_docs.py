"""Every Python snippet of docs/python.md runs, in order, in one namespace, in a folder holding
what the page says it holds: models/, best.ckpt (a Lightning checkpoint of the pneumonia
notebook's network) and data/val/PNEUMONIA/0001.npy."""

import os
import re
import shutil

import pytest
import torch
import torchvision

from conftest import ROOT, XRAY_NPY

DOC = os.path.join(ROOT, "docs", "python.md")


def snippets():
    with open(DOC) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def lightning_checkpoint(path):
    """What a LightningModule holding the network as self.model saves (random weights)."""
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=1)
    net.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    state = {"model." + k: v for k, v in net.state_dict().items()}
    torch.save({"epoch": 3, "global_step": 120, "pytorch-lightning_version": "1.9.0",
                "state_dict": state, "hyper_parameters": {"lr": 1e-3}}, path)


@pytest.fixture
def doc_folder(tmp_path, monkeypatch):
    os.symlink(os.path.join(ROOT, "models"), tmp_path / "models")
    lightning_checkpoint(tmp_path / "best.ckpt")
    (tmp_path / "data" / "val" / "PNEUMONIA").mkdir(parents=True)
    shutil.copy(XRAY_NPY, tmp_path / "data" / "val" / "PNEUMONIA" / "0001.npy")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_has_both_workflows():
    text = "\n".join(snippets())
    assert "squeezenet1_1.pt" in text and "best.ckpt" in text and "bone" in text


def test_every_snippet_runs(doc_folder, capsys):
    namespace = {}
    for i, code in enumerate(snippets()):
        exec(compile(code, f"{DOC} snippet {i + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "box (" in printed and printed.count("\n") >= 4
    assert (doc_folder / "dog-second-class.png").stat().st_size > 0
    assert namespace["result"].record["decision"] in ("positive", "negative")
    assert "1 missing.jpg: no such file" in printed
