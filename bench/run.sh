#!/usr/bin/env bash
# Runs camkit's benchmarks; figures go to the README. usage: bench/run.sh [BUILD_DIR]
# Needs: a Release build (make build), Debian's python3-torch, darknet's photos.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
model=$build/bench/resnet18_bench.pt
image=/usr/share/darknet/data/dog.jpg
[ -f "$model" ] || /usr/bin/python3 "$here/make_bench_model.py" "$model"
echo "== per image: explain vs bare forward (ResNet18, 224x224, 2 threads)"
"$build/bench/bench_explain" --model="$model" --image="$image" --threads=2 \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=2
echo "== cold start: camkit explain of one JPEG, model load included (median of 7)"
times=()
for _ in 1 2 3 4 5 6 7; do
  out=$(mktemp -d)
  s=$(date +%s.%N)
  "$build/camkit" explain "$model" "$image" -o "$out" --threads 2 2>/dev/null
  e=$(date +%s.%N)
  times+=("$(echo "$e - $s" | bc)")
  rm -rf "$out"
done
printf '%s\n' "${times[@]}" | sort -n | sed -n 4p | xargs printf 'median %.3f s\n'
start=$(date +%s.%N); "$build/camkit" --version >/dev/null; end=$(date +%s.%N)
echo "process start-up alone (LibTorch's static initialisation): $(echo "$end - $start" | bc) s"
echo "== dataset pipeline: 1,000 generated 224x224 JPEGs, overlays written, vs the bare forward pass"
"$build/bench/bench_pipeline" --model="$model" --images=1000 --threads=2
echo "== peak RSS with 10,000 images (compare with the 1,000-image figure above)"
"$build/bench/bench_pipeline" --model="$model" --images=10000 --threads=2 --forward=0
echo "== 3-D: explain vs bare forward (r3d_18, 16x112x112 clips, 2 threads)"
model3d=$build/bench/r3d_18_bench.pt
[ -f "$model3d" ] || /usr/bin/python3 "$here/../tools/export_model.py" r3d_18 "$model3d" \
  --frames 16 --input-size 112 --num-classes 400 --skip-camkit-check >/dev/null
"$build/bench/bench_volume3d" --model="$model3d" --threads=2 \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
if [ -d "$build/python/camkit" ]; then
  echo "== from Python: explain vs the forward pass from torch, explain_batch vs hooks + cv2"
  PYTHONPATH=$build/python /usr/bin/python3 "$here/python_bench.py" --model="$model"
fi
echo "== the camkit command against PyTorch's eager forward and LibTorch's, wall clock"
/usr/bin/python3 "$here/cli_bench.py" --camkit "$build/camkit" --threads 2 --vit
