// Per-image cost of explaining with camkit against the bare TorchScript forward pass of the same
// model, measured in one run. ResNet18 at 224x224 on the machine's cores.
//
//   bench_explain --model=resnet18.pt --image=dog.jpg [--threads=2] [google-benchmark flags]
//
// Cases (all on one decoded, preprocessed image unless named otherwise):
//   Forward/as_loaded        module.forward(x) of the model as loaded: the user's own inference
//   Forward/optimized        the same model frozen + optimize_for_inference (for reference)
//   ExplainTop1/plain        camkit, graph as loaded: forward + feature tap + top-1 CAM
//   ExplainTop1/optimized    camkit, frozen and optimised graph (the CLI's default for 8+ inputs)
//   ExplainTop1Rendered      the optimised explain + display map + box + overlay + PNG encoding
//   GradCamTop1              Grad-CAM on layer4: tapped forward + backward from the logit to the
//                            tap only (goal: <= 1.2x Forward/as_loaded)
//   ScoreCamTop1             Score-CAM on layer4 with default options: masks made per batch,
//                            masked inputs through the optimised graph in batches of at most
//                            four 224x224 inputs on the CPU, constant channels scored once
//   ScoreCamNaive            the straightforward computation: A from the model's submodules,
//                            then per channel (512) its mask and one batch-1 forward of the model
//                            as loaded, then the weighted sum; its map is checked against
//                            camkit's before timing (goal: ScoreCamTop1 <= 0.6x this)
//   DecodeAndPrepare         JPEG decoding + torchvision-exact resize, crop, normalisation
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/script.h>

#include <iostream>
#include <string>

#include "camkit/explain.hpp"
#include "camkit/output.hpp"

namespace {

std::string g_model, g_image;
int g_threads = 2;

struct Fixture {
  camkit::Image image;
  camkit::Prepared input;
  at::Tensor tensor;
  Fixture() {
    const camkit::Model m = camkit::Model::load(g_model, {});
    image = camkit::read_input(g_image);
    input = camkit::prepare(image, m.preprocess());
    tensor =
        torch::from_blob(input.chw.data(), {1, input.channels, input.height, input.width}).clone();
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void Forward(benchmark::State& state, bool optimized) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m = torch::jit::load(g_model);
  m.eval();
  if (optimized) m = torch::jit::optimize_for_inference(m);
  const at::Tensor x = fixture().tensor;
  for (auto _ : state) benchmark::DoNotOptimize(m.forward({x}));
}

void ExplainTop1(benchmark::State& state, bool optimized) {
  camkit::ModelOptions opt;
  opt.optimize = optimized;
  const camkit::Model model = camkit::Model::load(g_model, opt);
  const camkit::Explainer explainer(model);
  for (auto _ : state) benchmark::DoNotOptimize(explainer.explain(fixture().input, {}));
}

void Method(benchmark::State& state, camkit::Method method) {
  const camkit::Model model = camkit::Model::load(g_model, {});
  const camkit::Explainer explainer(model);
  camkit::ExplainOptions eo;
  eo.method = method;
  for (auto _ : state) benchmark::DoNotOptimize(explainer.explain(fixture().input, eo));
}

// Score-CAM written the straightforward way on the model as loaded: A from its submodules (the
// bench model is torchvision's ResNet18), then per channel its mask (bilinear upsampling,
// min-max) and one forward pass of batch 1, then the softmax-weighted sum. The same work as
// camkit's ScoreCamTop1, which is checked before timing.
at::Tensor naive_scorecam(torch::jit::Module& m, const at::Tensor& x, int64_t cls) {
  at::Tensor a = x;
  for (const char* name :
       {"conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"})
    a = m.attr(name).toModule().forward({a}).toTensor();
  a = a[0];
  at::Tensor scores = at::empty({a.size(0)});
  for (int64_t k = 0; k < a.size(0); ++k) {
    at::Tensor mask =
        at::upsample_bilinear2d(a.slice(0, k, k + 1).unsqueeze(0), {x.size(2), x.size(3)}, false);
    const at::Tensor lo = mask.min(), range = mask.max() - lo;
    mask = range.item<float>() > 0 ? (mask - lo) / range : at::zeros_like(mask);
    scores[k] = m.forward({x * mask}).toTensor()[0][cls];
  }
  return (scores.softmax(0).view({-1, 1, 1}) * a).sum(0);
}

void ScoreCamNaive(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m = torch::jit::load(g_model);
  m.eval();
  const at::Tensor x = fixture().tensor;
  camkit::ExplainOptions eo;
  eo.method = camkit::Method::scorecam;
  static const camkit::Explanation ex =
      camkit::Explainer(camkit::Model::load(g_model, {})).explain(fixture().input, eo);
  const int64_t cls = ex.maps[0].prediction.class_index;
  static const double err = [&] {  // once, not per repetition: it costs a naive run
    const camkit::Map& cam = ex.maps[0].raw;
    const at::Tensor theirs =
        torch::from_blob(const_cast<float*>(cam.data.data()), {cam.height, cam.width});
    return ((naive_scorecam(m, x, cls) - theirs).abs().max() / theirs.abs().max()).item<double>();
  }();
  if (!(err < 1e-4)) {
    state.SkipWithError(("naive map differs from camkit's by " + std::to_string(err)).c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(naive_scorecam(m, x, cls));
}

void ExplainTop1Rendered(benchmark::State& state) {
  const camkit::Model model = camkit::Model::load(g_model, {});
  const camkit::Explainer explainer(model);
  const Fixture& f = fixture();
  for (auto _ : state) {
    const camkit::Explanation ex = explainer.explain(f.input, {});
    const camkit::Localization loc = camkit::localize(ex.maps[0].raw, f.input, 0.2f, false);
    const camkit::Rgb8 pic = camkit::overlay(camkit::to_rgb8(f.image), loc.display, loc.region,
                                             camkit::Colormap::jet, 0.5f);
    benchmark::DoNotOptimize(camkit::encode_png(pic));
  }
}

void DecodeAndPrepare(benchmark::State& state) {
  const camkit::Preprocess pre = *camkit::find_preset("imagenet");
  for (auto _ : state) benchmark::DoNotOptimize(camkit::prepare(camkit::read_input(g_image), pre));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--model=", 0) == 0)
      g_model = a.substr(8);
    else if (a.rfind("--image=", 0) == 0)
      g_image = a.substr(8);
    else if (a.rfind("--threads=", 0) == 0)
      g_threads = std::stoi(a.substr(10));
    else
      rest.push_back(argv[i]);
  }
  if (g_model.empty() || g_image.empty()) {
    std::cerr << "usage: bench_explain --model=M.pt --image=I.jpg [--threads=N] [bench flags]\n";
    return 2;
  }
  at::set_num_threads(g_threads);
  benchmark::RegisterBenchmark("Forward/as_loaded", Forward, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ExplainTop1/plain", ExplainTop1, false)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Forward/optimized", Forward, true)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ExplainTop1/optimized", ExplainTop1, true)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ExplainTop1Rendered", ExplainTop1Rendered)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("DecodeAndPrepare", DecodeAndPrepare)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("GradCamTop1", Method, camkit::Method::gradcam)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ScoreCamTop1", Method, camkit::Method::scorecam)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3);
  benchmark::RegisterBenchmark("AblationCamTop1", Method, camkit::Method::ablationcam)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ScoreCamNaive", ScoreCamNaive)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(2);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
