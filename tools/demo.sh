#!/usr/bin/env bash
# The README's demo: a real ImageNet model on real photos, and camkit's own trained models on
# generated inputs, gathered into one HTML report. usage: tools/demo.sh CAMKIT_BINARY OUT_DIR
set -euo pipefail
camkit=$(realpath "$1")
out=$2
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out"
photos=/usr/share/darknet/data

echo "== SqueezeNet 1.1 (ImageNet) on darknet's photos: top-3 classes, a map per class" >&2
"$camkit" explain models/squeezenet1_1.pt "$photos"/{dog,eagle,giraffe,horses,person,kite}.jpg \
  --top-k 3 --raw --out "$out/photos"

if [ -f models/shapes_cnn.pt ]; then
  echo "== shapes_cnn (trained here) on generated scenes, one or two objects each" >&2
  "$camkit" explain models/shapes_cnn.pt data/demo/shapes/single data/demo/shapes/multi \
    --top-k 3 --draw-box --out "$out/shapes"
  echo "== weak localisation of shapes_cnn on the demo scenes (models/README.md: held-out set)" >&2
  "$camkit" eval models/shapes_cnn.pt data/demo/shapes/single data/demo/shapes/multi \
    --boxes data/demo/shapes/boxes.csv --labels data/demo/shapes/labels.csv
fi
if [ -f models/shapes_vit.pt ]; then
  echo "== shapes_vit (a small vision transformer trained here) on the same scenes:" \
    "Grad-CAM on its last block's tokens, and attention relevance" >&2
  "$camkit" explain models/shapes_vit.pt data/demo/shapes/single data/demo/shapes/multi \
    --top-k 3 --draw-box --out "$out/shapes_vit"
  "$camkit" explain models/shapes_vit.pt data/demo/shapes/single data/demo/shapes/multi \
    --method attention-relevance --draw-box --out "$out/shapes_vit_relevance"
  echo "== weak localisation of shapes_vit on the demo scenes, both methods" >&2
  for method in gradcam attention-relevance; do
    "$camkit" eval models/shapes_vit.pt data/demo/shapes/single data/demo/shapes/multi \
      --method "$method" --boxes data/demo/shapes/boxes.csv --labels data/demo/shapes/labels.csv
  done
fi
if [ -f models/xray_resnet.pt ]; then
  echo "== xray_resnet (1 channel, single logit) on generated radiographs" >&2
  "$camkit" explain models/xray_resnet.pt data/demo/xray --image-colormap bone \
    --out "$out/xray"
fi
if [ -f models/knee_mrnet.pt ]; then
  echo "== knee_mrnet (MRNet-style exam model) on generated knee volumes: a map per slice" >&2
  "$camkit" explain models/knee_mrnet.pt data/demo/knee/sagittal --out "$out/knee/sagittal"
fi

if [ -f models/lesion3d_cnn.pt ]; then
  echo "== lesion3d_cnn (a 3-D CNN trained here) on generated head-CT-like NIfTI volumes:" \
    "one 3-D map per class, written as NIfTI on the scan's grid" >&2
  "$camkit" explain models/lesion3d_cnn.pt data/demo/lesion3d/scans --top-k 2 \
    --out "$out/lesion3d"
  echo "== 3-D localisation of lesion3d_cnn on the demo lesions (models/README.md: held-out set)" >&2
  "$camkit" eval models/lesion3d_cnn.pt data/demo/lesion3d/scans/lesion-*.nii.gz \
    --masks data/demo/lesion3d/masks.csv --tolerance 3 --box-threshold 0.2,0.5
fi

"$camkit" report "$out" --title "camkit demo"
echo "Open $(realpath "$out")/index.html in a browser." >&2
