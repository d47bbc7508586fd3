// Dataset throughput: camkit's pipeline (decode, CAM, overlays written) over N generated
// 224x224 JPEGs against the bare forward pass of the same TorchScript model as loaded, in one run.
//
//   bench_pipeline --model=resnet18.pt [--images=1000] [--threads=2] [--batch=8] [--workers=0]
//                  [--intra=0] [--forward=1] [--keep=DIR]
//
// Prints: pipeline images/s (overlays PNG-encoded and written, records, index), the model's
// forward images/s as loaded (batch 1, like a user's loop; and batch 8), the ratio pipeline /
// forward(batch 1) (goal >= 1.15), and the process's peak RSS after the pipeline (VmHWM; compare
// --images=1000 with --images=10000 --forward=0, goal: within 10%).
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "camkit/pipeline.hpp"

namespace {

namespace fs = std::filesystem;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Random but photo-like content (smooth blobs plus noise), so JPEG sizes are realistic.
void make_images(const fs::path& dir, int n) {
  fs::create_directories(dir);
  cv::RNG rng(12345);
  for (int i = 0; i < n; ++i) {
    cv::Mat small(7, 7, CV_8UC3), img, noise(224, 224, CV_8UC3);
    rng.fill(small, cv::RNG::UNIFORM, 0, 255);
    cv::resize(small, img, {224, 224}, 0, 0, cv::INTER_CUBIC);
    rng.fill(noise, cv::RNG::NORMAL, 0, 12);
    img += noise;
    char name[32];
    std::snprintf(name, sizeof name, "c%02d/%05d.jpg", i % 10, i);
    fs::create_directories((dir / name).parent_path());
    cv::imwrite((dir / name).string(), img, {cv::IMWRITE_JPEG_QUALITY, 90});
  }
}

double forward_rate(const std::string& model_path, int threads, int batch, int iterations) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m = torch::jit::load(model_path);
  m.eval();
  at::set_num_threads(threads);
  const at::Tensor x = torch::randn({batch, 3, 224, 224});
  for (int i = 0; i < 3; ++i) m.forward({x});
  const double t0 = now();
  for (int i = 0; i < iterations; ++i) m.forward({x});
  return batch * iterations / (now() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, keep;
  int images = 1000, threads = 2, batch = 8, workers = 0, intra = 0, forward = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&](const char* key) {
      return a.rfind(key, 0) == 0 ? a.substr(std::strlen(key)) : std::string();
    };
    if (!val("--model=").empty())
      model_path = val("--model=");
    else if (!val("--images=").empty())
      images = std::stoi(val("--images="));
    else if (!val("--threads=").empty())
      threads = std::stoi(val("--threads="));
    else if (!val("--batch=").empty())
      batch = std::stoi(val("--batch="));
    else if (!val("--workers=").empty())
      workers = std::stoi(val("--workers="));
    else if (!val("--intra=").empty())
      intra = std::stoi(val("--intra="));
    else if (!val("--forward=").empty())
      forward = std::stoi(val("--forward="));
    else if (!val("--keep=").empty())
      keep = val("--keep=");
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  if (model_path.empty()) {
    std::cerr << "usage: bench_pipeline --model=resnet18.pt [--images=N] [--threads=T] ...\n";
    return 2;
  }
  const fs::path root =
      keep.empty() ? fs::temp_directory_path() / ("camkit-bench-" + std::to_string(::getpid()))
                   : fs::path(keep);
  const double g0 = now();
  make_images(root / "in", images);
  std::printf("generated %d JPEGs 224x224 in %.1f s\n", images, now() - g0);

  camkit::ModelOptions mo;
  mo.optimize = images >= 8;  // as the CLI's --optimize auto
  const camkit::Model model = camkit::Model::load(model_path, mo);
  std::vector<camkit::PipelineInput> inputs;
  for (const auto& e : fs::recursive_directory_iterator(root / "in"))
    if (e.is_regular_file()) {
      camkit::PipelineInput in;
      in.path = e.path().string();
      in.relative = fs::relative(e.path(), root / "in").string();
      inputs.push_back(std::move(in));
    }
  std::sort(inputs.begin(), inputs.end(),
            [](const auto& a, const auto& b) { return a.relative < b.relative; });
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i].seq = i;
  camkit::PipelineOptions po;
  po.out_dir = (root / "out").string();
  po.preprocess = model.preprocess();
  po.threads = threads;
  po.batch_size = batch;
  po.workers = workers;
  po.intra_op_threads = intra;
  const camkit::PipelineSummary s = camkit::run_pipeline(model, inputs, po);
  const double pipe = static_cast<double>(s.done) / s.seconds;
  const long rss = peak_rss_kib();
  std::printf(
      "pipeline: %zu images (%zu failed) in %.2f s: %.2f images/s "
      "(threads %d, batch %d, workers %d, intra-op %d; overlays PNG written)\n",
      s.done, s.failed, s.seconds, pipe, threads, batch, workers, intra);
  std::printf("peak RSS after %d images: %.1f MiB\n", images, rss / 1024.0);
  if (forward) {
    const double f1 = forward_rate(model_path, threads, 1, 150);
    const double f8 = forward_rate(model_path, threads, 8, 20);
    std::printf("forward as loaded, batch 1: %.2f images/s\n", f1);
    std::printf("forward as loaded, batch 8: %.2f images/s\n", f8);
    std::printf(
        "ratio pipeline / forward(batch 1): %.3f (goal >= 1.15); / forward(batch 8): "
        "%.3f\n",
        pipe / f1, pipe / f8);
  }
  if (keep.empty()) fs::remove_all(root);
  return s.failed ? 1 : 0;
}
