#!/usr/bin/python3
"""Train camkit's demo vision transformer on the shapes data of tools/make_datasets.py (CPU).

    /usr/bin/python3 tools/make_datasets.py --seed 1 --out /tmp/camkit-data
    /usr/bin/python3 tools/train_demo_vit.py --data /tmp/camkit-data --out models

shapes_vit: torchvision's VisionTransformer, small (the 160x160 scenes shrunk to 80x80 by the
model's preprocess.size, a three-convolution stem giving a 10x10 token grid plus a class token,
3 encoder blocks of width 64, 4 heads), trained on the same 6 shape classes as shapes_cnn with
the same augmentation. Exported with tools/export_model.py's
export() (traced with autograd, camkit.json embedded, checked by camkit when it is built).
Reported: held-out accuracy; the localisation figures come from `camkit eval` (Grad-CAM at the
default layer and attention relevance), as the commands in models/README.md show. The summary
is merged into OUT/demo_models.json under models.shapes_vit.
"""

import argparse
import functools
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import camkit_meta  # noqa: E402
import export_model  # noqa: E402
import train_demo_models as demo  # noqa: E402


def build(num_classes, size=80, layers=3, heads=4, width=64, mlp=128, stem=(16, 32, 64)):
    import torchvision.models as tvm
    from torchvision.models.vision_transformer import ConvStemConfig

    # A convolutional stem (Xiao et al. 2021, "Early convolutions help transformers see better")
    # in place of the patch projection: three stride-2 3x3 convolutions, so the token grid is
    # size/8 on a side. Its first block normalises per image (InstanceNorm), as shapes_cnn's
    # does: object and background colours are random, and without it the tokens are dominated
    # by the background colour and a small ViT learns the shapes very slowly.
    norms = [functools.partial(torch.nn.InstanceNorm2d, affine=True)] + \
        [torch.nn.BatchNorm2d] * (len(stem) - 1)
    stem_configs = [ConvStemConfig(out_channels=c, kernel_size=3, stride=2, norm_layer=n)
                    for c, n in zip(stem, norms)]
    model = tvm.VisionTransformer(image_size=size, patch_size=2 ** len(stem), num_layers=layers,
                                  num_heads=heads, hidden_dim=width, mlp_dim=mlp,
                                  num_classes=num_classes, dropout=0.0, attention_dropout=0.0,
                                  conv_stem_configs=stem_configs)
    # torchvision zero-initialises the head; a small random one lets every token learn at once.
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    return model


def shrink(x, size):
    """uint8 images [N, 3, H, W] -> float [N, 3, size, size] in [0, 1], resized as camkit's
    preprocess.size does (bilinear with antialiasing, pixel centres aligned)."""
    return F.interpolate(x.float() / 255.0, size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)


def accuracy(model, x, y, batch=100):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = demo.normalise(x[i:i + batch], demo.SHAPES_MEAN, demo.SHAPES_STD)
            right += int((model(xb).argmax(1) == y[i:i + batch]).sum())
    return right / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(prog="train_demo_vit.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="output folder of make_datasets.py")
    p.add_argument("--out", default="models", help="folder for shapes_vit.pt and the summary")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--size", type=int, default=80, help="side of the model's input")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    root = os.path.join(args.data, "shapes")
    x, y, _, classes = demo.load_shapes(root, "train")
    xv, yv, _, _ = demo.load_shapes(root, "val")
    x, xv = shrink(x, args.size), shrink(xv, args.size)
    log(f"shapes_vit: {len(x)} train, {len(xv)} val images")
    torch.manual_seed(args.seed)
    model = build(len(classes), size=x.shape[2])
    t0 = time.time()
    demo.train(model, x, lambda o, idx: F.cross_entropy(o, y[idx], label_smoothing=0.1),
               lambda o, idx: (o.argmax(1) == y[idx]).sum(), demo.SHAPES_MEAN, demo.SHAPES_STD,
               args.epochs, 64, args.lr, args.seed, log, wd=0.05)
    seconds = time.time() - t0
    acc = accuracy(model, xv, yv)
    h, w = args.size, args.size
    meta = camkit_meta.build_meta("shapes_vit", len(classes), 3, h, w, labels=classes,
                                  mean=demo.SHAPES_MEAN, std=demo.SHAPES_STD, size=(h, w))
    path = os.path.join(args.out, "shapes_vit.pt")
    export_model.export(model.eval(), path, meta, method="trace", log=log,
                        camkit=export_model.find_camkit())
    command = ("tools/train_demo_vit.py --data DIR --out models "
               f"--seed {args.seed} --epochs {args.epochs} --lr {args.lr} --size {args.size} "
               f"--threads {args.threads}")
    summary = {"command": command, "val_images": len(xv), "val_accuracy": round(acc, 4),
               "train_seconds": round(seconds), "epochs": args.epochs,
               "file_bytes": os.path.getsize(path), "torch": torch.__version__}
    summary_path = os.path.join(args.out, "demo_models.json")
    merged = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    merged.setdefault("models", {})["shapes_vit"] = summary
    with open(summary_path + ".tmp", "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)
    os.replace(summary_path + ".tmp", summary_path)
    print(json.dumps({"shapes_vit": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
