// Sanity checks: the similarities against SciPy / skimage (fixtures_faith.py), the randomised
// copy, and the verdicts on models whose answer is known: a map that is the input whatever the
// weights (flagged) and Grad-CAM of the trained demo model (not flagged).
#include "camkit/sanity.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "../model/fixtures.hpp"
#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "left_half_model.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;
using namespace camkit::testing;

std::string faith_dir() {
  return std::string(CAMKIT_FIXTURES) + "/faith/";
}

struct CliRun {
  int code = -1;
  std::string out;
};

CliRun run_cli(const std::string& cmd, const fs::path& dir) {
  const fs::path out = dir.string() + ".out";
  const int status = std::system((cmd + " >" + out.string() + " 2>&1").c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream o(out);
  std::stringstream so;
  so << o.rdbuf();
  r.out = so.str();
  fs::remove(out);
  return r;
}

Map map_of(const NpyArray& a) {
  return Map{static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]), a.values};
}

TEST(SanitySimilarity, AgreesWithScipyAndSkimage) {
  if (!fs::exists(faith_dir() + "sim_ref_0.npy")) GTEST_SKIP() << "no fixtures";
  for (int k = 0; k < 3; ++k) {
    const std::string s = std::to_string(k);
    const Map a = map_of(read_reference(faith_dir() + "sim_a_" + s + ".npy"));
    const Map b = map_of(read_reference(faith_dir() + "sim_b_" + s + ".npy"));
    const NpyArray ref = read_reference(faith_dir() + "sim_ref_" + s + ".npy");
    EXPECT_NEAR(spearman_correlation(a, b), ref.values[0], 1e-5) << k;
    EXPECT_NEAR(ssim(a, b), ref.values[1], 1e-5) << k;
    ASSERT_TRUE(hog_similarity(a, b)) << k;
    EXPECT_NEAR(*hog_similarity(a, b), ref.values[2], 1e-4) << k;
    const NpyArray hog = read_reference(faith_dir() + "hog_a_" + s + ".npy");
    const std::vector<double> mine = hog_descriptor(a);
    ASSERT_EQ(mine.size(), hog.values.size()) << k;
    for (size_t i = 0; i < mine.size(); ++i)
      EXPECT_NEAR(mine[i], hog.values[i], 1e-5) << k << " " << i;
  }
}

TEST(SanitySimilarity, HandMadeAnswers) {
  const Map a{2, 3, {0, 1, 2, 3, 4, 5}}, rev{2, 3, {5, 4, 3, 2, 1, 0}};
  const Map square{2, 3, {0, 1, 4, 9, 16, 25}}, flat{2, 3, {1, 1, 1, 1, 1, 1}};
  EXPECT_NEAR(spearman_correlation(a, square), 1, 1e-12);  // monotone: ranks agree
  EXPECT_NEAR(spearman_correlation(a, rev), -1, 1e-12);
  EXPECT_EQ(spearman_correlation(a, flat), 0);  // constant: no rank association
  EXPECT_NEAR(ssim(a, a), 1, 1e-12);
  EXPECT_FALSE(hog_similarity(a, a));  // under 24 x 24
  EXPECT_THROW(spearman_correlation(a, Map{3, 2, a.data}), Error);
}

// One channel. Features A_k = |w_k x| (a 1x1 convolution, then abs): for x >= 0 positive
// multiples of the input; logits (+s, -s), s the sum of the pooled A_k, plus 0 * a linear
// layer. Grad-CAM of class 0 is x
// min-max normalised, whatever the weights.
constexpr const char* kInputMapScript = R"PY(
import os, sys, torch, torch.nn as nn, torch.nn.functional as F
class InputMap(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(1, 4, 1, bias=False)
        self.head = nn.Linear(4, 2)
    def forward(self, x):
        p = F.adaptive_avg_pool2d(torch.abs(self.features(x)), 1).flatten(1)
        s = p.sum(1, keepdim=True)
        return torch.cat([s, -s], 1) + 0 * self.head(p)
torch.manual_seed(0)
m = torch.jit.trace(InputMap().eval(), torch.rand(1, 1, 32, 32))
meta = '{"camkit_meta_version": 1, "num_classes": 2, "task": "multiclass", ' \
       '"input": {"channels": 1, "height": 32, "width": 32}, "preprocess": {}}'
out = sys.argv[1]
torch.jit.save(m, out + ".tmp", _extra_files={"camkit.json": meta})
os.replace(out + ".tmp", out)
)PY";

class SanityModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path dir = fs::path(::testing::TempDir()) / "camkit_sanity_v3";
    fs::create_directories(dir);
    input_map_ = (dir / "input_map.pt").string();
    if (fs::exists(input_map_)) return;
    const fs::path script = dir / ("make." + std::to_string(::getpid()) + ".py");
    std::ofstream(script) << kInputMapScript;
    std::system(
        (std::string(CAMKIT_PYTHON) + " " + script.string() + " " + input_map_ + " 2>&1").c_str());
    fs::remove(script);
  }
  void SetUp() override {
    if (!fs::exists(input_map_)) GTEST_SKIP() << "could not write the test model with torch";
  }
  static Prepared noise_input(int h, int w, unsigned seed, int channels = 3) {
    Prepared p = filled(channels, h, w, 0);
    unsigned s = seed;
    for (float& v : p.chw) {
      s = s * 1664525u + 1013904223u;
      v = static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
    }
    return p;
  }
  static std::string shapes_model() {
    return std::string(CAMKIT_SOURCE_DIR) + "/models/shapes_cnn.pt";
  }
  static std::vector<std::string> shapes_inputs() {
    const std::string d = std::string(CAMKIT_SOURCE_DIR) + "/data/demo/shapes/single/";
    std::vector<std::string> out;
    for (const char* c : {"disc", "star"})
      for (const auto& e : fs::directory_iterator(d + c)) {
        out.push_back(e.path().string());
        break;
      }
    return out;
  }
  static inline std::string input_map_;
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(SanityModels, RandomisedCopyChangesTheWeightsNotTheFile) {
  ModelOptions mo;
  mo.optimize = false;
  const Model model = Model::load(shapes_model(), mo);
  const std::vector<std::string> blocks = sanity_blocks(model, 1);
  EXPECT_EQ(blocks, (std::vector<std::string>{"features", "fc"}));  // avgpool has none
  EXPECT_EQ(sanity_blocks(model, 2).back(), "fc");
  EXPECT_EQ(sanity_blocks(model, 2).front(), "features.0");
  const std::string before = file_bytes(shapes_model());
  const Model a = randomised_copy(model, {"fc"}, blocks, 3);
  const Model b = randomised_copy(model, {"fc"}, blocks, 3);
  const Model c = randomised_copy(model, {"fc"}, blocks, 4);
  EXPECT_EQ(file_bytes(shapes_model()), before);
  const Prepared in = noise_input(160, 160, 1);
  const auto s0 = Explainer(model).scores({&in}, 1).front();
  const auto sa = Explainer(a).scores({&in}, 1).front();
  EXPECT_EQ(sa, Explainer(b).scores({&in}, 1).front());  // seeded
  EXPECT_NE(sa, Explainer(c).scores({&in}, 1).front());
  EXPECT_NE(sa, s0);
  EXPECT_EQ(a.metadata().labels, model.metadata().labels);  // metadata travels with the copy
  EXPECT_THROW(randomised_copy(model, {"nope"}, blocks, 0), Error);
  EXPECT_THROW(sanity_blocks(model, 0), Error);
}

TEST_F(SanityModels, InputOnlyMapIsFlagged) {
  ModelOptions mo;
  mo.optimize = false;
  const Model model = Model::load(input_map_, mo);
  SanityOptions so;
  so.methods = {Method::gradcam};
  so.depth = 1;
  const std::vector<Prepared> inputs{noise_input(32, 32, 1, 1), noise_input(32, 32, 2, 1)};
  const SanityResult r = sanity_check(model, inputs, so);
  EXPECT_EQ(r.blocks, (std::vector<std::string>{"head", "features"}));
  EXPECT_EQ(r.classes, (std::vector<int>{0, 0}));
  ASSERT_EQ(r.methods.size(), 1u);
  const SanityMethod& m = r.methods.front();
  ASSERT_EQ(m.cascade.size(), 2u);
  for (const SanityScores& s : m.cascade) {
    EXPECT_NEAR(s.spearman, 1, 1e-6) << s.step;
    EXPECT_NEAR(s.ssim, 1, 1e-5) << s.step;
    ASSERT_TRUE(s.hog);
    EXPECT_NEAR(*s.hog, 1, 1e-5) << s.step;
  }
  EXPECT_TRUE(m.flagged);
  EXPECT_NE(m.reason.find("barely depend"), std::string::npos);
  ASSERT_EQ(m.figure.size(), 2u);
  EXPECT_EQ(m.figure[0].size(), 3u);  // original + 2 steps
  const Rgb8 fig = sanity_figure(r, m);
  EXPECT_EQ(fig.data.size(), static_cast<size_t>(fig.height) * fig.width * 3);
  const nlohmann::json j = nlohmann::json::parse(sanity_json(r));
  EXPECT_TRUE(j["methods"][0]["flagged"].get<bool>());
  EXPECT_EQ(j["blocks"].size(), 2u);
  EXPECT_NE(sanity_table(r).find("FLAGGED"), std::string::npos);
}

TEST_F(SanityModels, GradCamOfTheTrainedModelPassesAndAnIdenticalAgainstIsFlagged) {
  ModelOptions mo;
  mo.optimize = false;
  const Model model = Model::load(shapes_model(), mo);
  std::vector<Prepared> inputs;
  for (const std::string& p : shapes_inputs())
    inputs.push_back(prepare(read_input(p), model.preprocess()));
  ASSERT_EQ(inputs.size(), 2u);
  SanityOptions so;
  so.methods = {Method::gradcam};
  so.depth = 1;
  const SanityResult r = sanity_check(model, inputs, so);
  const SanityMethod& m = r.methods.front();
  ASSERT_EQ(m.cascade.size(), 2u);
  EXPECT_LT(m.cascade.back().spearman, 0.5);
  EXPECT_FALSE(m.flagged) << m.reason;
  // Data randomisation against the very same model: identical maps, flagged.
  const SanityResult same = sanity_check(model, inputs, so, &model);
  ASSERT_TRUE(same.methods.front().against);
  EXPECT_NEAR(same.methods.front().against->spearman, 1, 1e-9);
  EXPECT_TRUE(same.methods.front().flagged);
}

TEST_F(SanityModels, Cli) {
  if (std::string(CAMKIT_CLI).empty()) GTEST_SKIP() << "no camkit command in this build";
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("camkit_sanity_cli." + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string in = dir.string() + ".png";
  cv::Mat im(32, 32, CV_8UC1);
  cv::RNG(3).fill(im, cv::RNG::UNIFORM, 0, 256);
  cv::imwrite(in, im);
  const std::string base = std::string(CAMKIT_CLI) + " eval " + input_map_ + " " + in +
                           " --threads 1 --no-optimize --sanity-depth 1 ";
  CliRun r = run_cli(base + "--sanity --method gradcam -o " + dir.string(), dir);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("gradcam: FLAGGED"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir / "sanity_gradcam.png"));
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(dir / "sanity.json"));
  EXPECT_TRUE(j["methods"][0]["flagged"].get<bool>());
  // camkit report shows the result (no explain records in the folder).
  EXPECT_EQ(run_cli(std::string(CAMKIT_CLI) + " report " + dir.string(), dir).code, 0);
  std::ifstream page(dir / "index.html");
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("src=\"sanity_gradcam.png\""), std::string::npos);
  EXPECT_NE(html.find("flagged"), std::string::npos);
  EXPECT_EQ(run_cli(base + "--sanity", dir).code, 2);                 // no --out
  EXPECT_EQ(run_cli(base + "--against " + input_map_, dir).code, 2);  // without --sanity
  EXPECT_EQ(run_cli(base + "--sanity --faithfulness -o " + dir.string(), dir).code, 2);
  fs::remove_all(dir);
  fs::remove(in);
}

}  // namespace
}  // namespace camkit
