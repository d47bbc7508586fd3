// Per-clip cost of explaining a 3-D model (torchvision r3d_18, 16 x 112 x 112 clips) with camkit
// against the bare TorchScript forward pass of the same model, measured in one run.
//
//   bench_volume3d --model=r3d_18.pt [--threads=2] [google-benchmark flags]
//
// Cases (one seeded random clip, already prepared):
//   Forward          module.forward(x) of the model as loaded
//   CamTop1          camkit CAM, graph as loaded: forward + feature tap + top-1 map
//                    (goal: <= 1.05x Forward)
//   GradCamTop1      camkit Grad-CAM on layer4: tapped forward + backward to the tap
//                    (goal: <= 1.3x Forward)
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/script.h>

#include <iostream>
#include <random>
#include <string>

#include "camkit/explain.hpp"

namespace {

std::string g_model;
int g_threads = 2;

const camkit::Prepared& clip() {
  static const camkit::Prepared p = [] {
    camkit::Prepared c;
    c.channels = 3;
    c.depth = 16;
    c.height = c.width = 112;
    std::mt19937 gen(7);
    std::normal_distribution<float> normal;
    c.chw.resize(static_cast<std::size_t>(3) * 16 * 112 * 112);
    for (float& v : c.chw) v = normal(gen);
    c.geometry.image_depth = c.geometry.resized_depth = c.geometry.input_depth = 16;
    c.geometry.image_height = c.geometry.resized_height = c.geometry.input_height = 112;
    c.geometry.image_width = c.geometry.resized_width = c.geometry.input_width = 112;
    return c;
  }();
  return p;
}

void Forward(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m = torch::jit::load(g_model);
  m.eval();
  const camkit::Prepared& c = clip();
  const at::Tensor x =
      torch::from_blob(const_cast<float*>(c.chw.data()), {1, 3, 16, 112, 112}).clone();
  for (auto _ : state) benchmark::DoNotOptimize(m.forward({x}));
}

void Method(benchmark::State& state, camkit::Method method) {
  const camkit::Model model = camkit::Model::load(g_model, {});
  const camkit::Explainer explainer(model);
  camkit::ExplainOptions eo;
  eo.method = method;
  for (auto _ : state) benchmark::DoNotOptimize(explainer.explain(clip(), eo));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--model=", 0) == 0)
      g_model = a.substr(8);
    else if (a.rfind("--threads=", 0) == 0)
      g_threads = std::stoi(a.substr(10));
    else
      rest.push_back(argv[i]);
  }
  if (g_model.empty()) {
    std::cerr << "usage: bench_volume3d --model=r3d_18.pt [--threads=N] [bench flags]\n";
    return 2;
  }
  at::set_num_threads(g_threads);
  benchmark::RegisterBenchmark("Forward", Forward)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("CamTop1", Method, camkit::Method::cam)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("GradCamTop1", Method, camkit::Method::gradcam)
      ->Unit(benchmark::kMillisecond);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
