// camkit eval end to end: a fixture model, generated images in an ImageFolder, a boxes CSV.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "../model/fixtures.hpp"
#include "camkit/eval.hpp"

namespace camkit::testing {
namespace {

namespace fs = std::filesystem;

const char* kModel = "custom_gap_flatten_linear_traced.pt";  // 3 x 64 x 80 input, 5 classes

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(models_dir() + kModel)) GTEST_SKIP() << "fixture model missing";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("camkit_eval_cli_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cv::RNG rng(7);
    // ImageFolder: a -> class 0, b -> class 1. One box per image, two for a/1.
    std::ofstream csv(dir_ / "boxes.csv");
    csv << "path,x0,y0,x1,y1\n";
    for (const char* name :
         {"data/a/0.png", "data/a/1.png", "data/a/2.png", "data/b/0.png", "data/b/1.png"}) {
      cv::Mat im(64, 80, CV_8UC3);
      rng.fill(im, cv::RNG::UNIFORM, 0, 256);
      fs::create_directories((dir_ / name).parent_path());
      cv::imwrite((dir_ / name).string(), im);
      images_.push_back((dir_ / name).string());
      csv << name << ",10,8,50,40\n";
    }
    csv << "data/a/1.png,0,0,80,64\n";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  CliRun camkit(const std::string& args) {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string cmd =
        std::string(CAMKIT_CLI) + " eval " + args + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
  std::string model() const { return models_dir() + kModel; }
  fs::path dir_;
  std::vector<std::string> images_;
};

TEST_F(EvalCli, JsonHasEveryMetricAndMatchesTheLibrary) {
  const CliRun r = camkit(model() + " " + (dir_ / "data").string() + " --boxes " +
                          (dir_ / "boxes.csv").string() +
                          " --box-threshold 0.2,0.5 --top-k-loc 2 --json --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["counts"]["inputs"], 5);
  EXPECT_EQ(j["counts"]["evaluated"], 5);
  EXPECT_EQ(j["counts"]["skipped"], 0);
  EXPECT_EQ(j["counts"]["localisation_images"], 5);
  EXPECT_EQ(j["counts"]["trials"], 5);
  EXPECT_EQ(j["settings"]["top_k"], 2);
  EXPECT_EQ(j["settings"]["pointing_tolerance"], 15.0);
  ASSERT_EQ(j["thresholds"].size(), 2u);
  EXPECT_EQ(j["thresholds"][1]["threshold"], 0.5);
  for (const char* key : {"threshold", "n", "top1_cls", "top1_loc", "topk_loc", "gt_known_loc",
                          "gt_known_loc_correct", "mean_iou", "pointing"})
    EXPECT_TRUE(j["thresholds"][0].contains(key)) << key;
  EXPECT_FALSE(j["best_threshold"].is_null());

  // The same numbers from the library, one image at a time.
  const Model m = Model::load(model());
  const Explainer explainer(m);
  Evaluation ev(EvalOptions{{0.2f, 0.5f}, 0.5, 15, 2});
  for (size_t i = 0; i < images_.size(); ++i) {
    GroundTruth gt;
    gt.labels = {i < 3 ? 0 : 1};
    gt.boxes.push_back({-1, Box{10, 8, 50, 40}});
    if (i == 1) gt.boxes.push_back({-1, Box{0, 0, 80, 64}});
    const Prepared in = prepare(read_input(images_[i]), m.preprocess());
    ExplainOptions eo;
    eo.top_k = 2;
    eo.classes = gt.labels;
    ev.add(eval_record(explainer.explain(in, eo), in, gt, {0.2f, 0.5f}));
  }
  const EvalReport want = ev.report();
  EXPECT_EQ(j["top1_cls_correct"], want.top1_cls_correct);
  EXPECT_EQ(j["topk_cls_correct"], want.topk_cls_correct);
  EXPECT_EQ(j["pointing_hits"], want.pointing_hits);
  for (size_t t = 0; t < 2; ++t) {
    EXPECT_EQ(j["thresholds"][t]["gt_known_loc_correct"], want.rows[t].gt_known_correct);
    EXPECT_EQ(j["thresholds"][t]["top1_loc_correct"], want.rows[t].top1_loc_correct);
    EXPECT_NEAR(j["thresholds"][t]["mean_iou"].get<double>(), *want.rows[t].mean_iou, 1e-9);
  }
}

TEST_F(EvalCli, TableOnStdout) {
  const CliRun r = camkit(model() + " " + (dir_ / "data").string() + " --boxes " +
                          (dir_ / "boxes.csv").string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("gt-known-loc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best threshold (gt-known-loc): 0.20"), std::string::npos) << r.out;
}

TEST_F(EvalCli, BadInputsAreSkippedAndExitOne) {
  std::ofstream(dir_ / "data/b/broken.png") << "not a png";
  std::ofstream(dir_ / "boxes.csv", std::ios::app) << "data/b/broken.png,1,1,5,5\n";
  cv::imwrite((dir_ / "data/a/nobox.png").string(), cv::Mat(64, 80, CV_8UC3, cv::Scalar(9)));
  const CliRun r = camkit(model() + " " + (dir_ / "data").string() + " --boxes " +
                          (dir_ / "boxes.csv").string() + " --json --threads 1");
  EXPECT_EQ(r.code, 1) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["counts"]["inputs"], 7);
  EXPECT_EQ(j["counts"]["evaluated"], 5);
  EXPECT_EQ(j["counts"]["skipped"], 2);
  EXPECT_NE(r.err.find("broken.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nobox.png: no boxes"), std::string::npos) << r.err;
}

TEST_F(EvalCli, UsageAndModelErrors) {
  const std::string data = (dir_ / "data").string();
  const std::string boxes = (dir_ / "boxes.csv").string();
  CliRun r = camkit(model() + " " + data + " --boxes " + (dir_ / "missing.csv").string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("missing.csv"), std::string::npos) << r.err;
  EXPECT_EQ(camkit(model() + " " + data).code, 2);  // --boxes is required
  EXPECT_EQ(camkit(model() + " " + data + " --boxes " + boxes + " --box-threshold 1.5").code, 2);
  std::ofstream(dir_ / "bad.csv") << "data/a/0.png,1,2,3\n";
  r = camkit(model() + " " + data + " --boxes " + (dir_ / "bad.csv").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.csv:1"), std::string::npos) << r.err;
  EXPECT_EQ(camkit((dir_ / "none.pt").string() + " " + data + " --boxes " + boxes).code, 3);
}

}  // namespace
}  // namespace camkit::testing
