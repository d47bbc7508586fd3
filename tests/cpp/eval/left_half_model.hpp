// A TorchScript model whose output is a known function of its input, written by PyTorch into a
// temporary folder once per test process (atomically, so processes may race), and helpers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit::testing {

inline Prepared filled(int c, int h, int w, float v) {
  Prepared p;
  p.channels = c;
  p.height = h;
  p.width = w;
  p.chw.assign(static_cast<size_t>(c) * h * w, v);
  p.geometry = {h, w, h, w, 0, 0, h, w};
  return p;
}

// A display map with `v` where left(x) holds, else 0.
template <typename F>
Map map_where(int h, int w, F left, float v = 1) {
  Map m{h, w, std::vector<float>(static_cast<size_t>(h) * w, 0.f)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (left(x)) m.data[static_cast<size_t>(y) * w + x] = v;
  return m;
}

inline double sigmoid(double v) {
  return 1 / (1 + std::exp(-v));
}

// logit 0 = 10 * (mean over the left half, x < W/2, of the channel mean), logit 1 = 5, as
// CAM-ready layers: a 1x1 conv (channel mean), a fixed left-half mask, GAP, a linear layer.
inline constexpr const char* kModelScript = R"PY(
import os, sys, torch, torch.nn as nn
class Mask(nn.Module):
    def __init__(self, w):
        super().__init__()
        m = torch.zeros(1, 1, 1, w)
        m[..., : w // 2] = 1
        self.register_buffer("m", m)
    def forward(self, x):
        return x * self.m
class LeftHalf(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.grey = nn.Conv2d(3, 1, 1, bias=False)
        self.mask = Mask(w)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.grey.weight.fill_(1.0 / 3)
            self.fc.weight.copy_(torch.tensor([[20.0], [0.0]]))
            self.fc.bias.copy_(torch.tensor([0.0, 5.0]))
    def forward(self, x):
        a = self.mask(self.grey(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(a, 1), 1))
out = sys.argv[1]
m = torch.jit.trace(LeftHalf(8).eval(), torch.rand(1, 3, 8, 8))
meta = '{"camkit_meta_version": 1, "num_classes": 2, "task": "multiclass", ' \
       '"input": {"channels": 3, "height": 8, "width": 8}, "preprocess": {}}'
torch.jit.save(m, out + ".tmp", _extra_files={"camkit.json": meta})
os.replace(out + ".tmp", out)
)PY";

// The model's function, for expected values: P(class 0) = sigmoid(logit 0 - logit 1).
inline double left_half_p0(const Prepared& x) {
  double left = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 8; ++y)
      for (int i = 0; i < 4; ++i) left += x.chw[(c * 8 + y) * 8 + i];
  return sigmoid(10 * left / (3 * 32) - 5);
}

class FaithfulnessModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(::testing::TempDir()) / "camkit_faithfulness_v2";
    fs::create_directories(dir);
    model_path_ = (dir / "left_half.pt").string();
    if (fs::exists(model_path_)) return;  // written atomically by an earlier test process
    const fs::path script = dir / ("make_model." + std::to_string(::getpid()) + ".py");
    std::ofstream(script) << kModelScript;
    const std::string cmd =
        std::string(CAMKIT_PYTHON) + " " + script.string() + " " + model_path_ + " 2>&1";
    std::system(cmd.c_str());
    fs::remove(script);
  }
  void SetUp() override {
    if (!std::filesystem::exists(model_path_))
      GTEST_SKIP() << "could not write the test model with torch";
  }
  static inline std::string model_path_;
};

}  // namespace camkit::testing
