// camkit eval --faithfulness end to end, and the faithfulness.hpp usage example, on the
// left-half model of left_half_model.hpp.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "camkit/eval.hpp"
#include "camkit/faithfulness.hpp"
#include "left_half_model.hpp"

namespace camkit {
namespace {

using namespace camkit::testing;
namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out, err;
};

TEST_F(FaithfulnessModel, CliJsonWithoutBoxes) {
  const fs::path dir = fs::path(::testing::TempDir()) / "camkit_faithfulness_cli";
  fs::remove_all(dir);
  fs::create_directories(dir / "data/a");
  fs::create_directories(dir / "data/b");
  cv::RNG rng(5);
  for (const char* name : {"data/a/0.png", "data/a/1.png", "data/b/0.png"}) {
    cv::Mat im(8, 8, CV_8UC3);
    rng.fill(im, cv::RNG::UNIFORM, 128, 256);
    cv::imwrite((dir / name).string(), im);
  }
  auto run = [&](const std::string& args) {
    const fs::path out = dir / "out.txt", err = dir / "err.txt";
    const std::string cmd = std::string(CAMKIT_CLI) + " eval " + model_path_ + " " +
                            (dir / "data").string() + " " + args + " >" + out.string() + " 2>" +
                            err.string();
    const int status = std::system(cmd.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream o(out), e(err);
    std::stringstream so, se;
    so << o.rdbuf();
    se << e.rdbuf();
    r.out = so.str();
    r.err = se.str();
    return r;
  };
  CliRun r = run("--faithfulness --faithfulness-steps 8 --json --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["method"], "cam");
  EXPECT_EQ(j["counts"]["evaluated"], 3);
  EXPECT_FALSE(j.contains("thresholds"));  // no boxes: no localisation
  const nlohmann::json& f = j["faithfulness"];
  EXPECT_EQ(f["method"], "cam");
  EXPECT_EQ(f["class"], "predicted");
  EXPECT_EQ(f["steps"], 8);
  EXPECT_EQ(f["images"], 3);
  EXPECT_EQ(f["trials"], 3);
  for (const char* key : {"deletion_auc", "insertion_auc", "average_drop", "increase_in_confidence",
                          "seconds_per_image", "map_seconds_per_image"})
    ASSERT_TRUE(f[key].is_number()) << key;
  EXPECT_LT(f["deletion_auc"].get<double>(), f["insertion_auc"].get<double>());

  // The same number from the library.
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  FaithfulnessOptions fo;
  fo.steps = 8;
  FaithfulnessSummary summary;
  for (const char* name : {"data/a/0.png", "data/a/1.png", "data/b/0.png"}) {
    const Prepared in = prepare(read_input((dir / name).string()), model.preprocess());
    for (const FaithfulnessTrial& t :
         faithfulness_trials(explainer, explainer.explain(in, {}), in, fo))
      summary.add(t);
  }
  const FaithfulnessReport want = summary.report(fo);
  EXPECT_NEAR(f["deletion_auc"].get<double>(), *want.deletion_auc, 1e-6);
  EXPECT_NEAR(f["insertion_auc"].get<double>(), *want.insertion_auc, 1e-6);
  EXPECT_NEAR(f["average_drop"].get<double>(), *want.average_drop, 1e-6);

  // True classes from the class folders, another method, and the table.
  r = run("--faithfulness --faithfulness-class true --method gradcam --faithfulness-steps 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("faithfulness: gradcam, class true, 4 steps, 3 trials on 3 images"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("deletion-auc"), std::string::npos) << r.out;
  EXPECT_EQ(run("--faithfulness-class true").code, 2);  // neither boxes nor --faithfulness
  EXPECT_EQ(run("--faithfulness --faithfulness-class mine").code, 2);
  EXPECT_EQ(run("--faithfulness --faithfulness-steps 0").code, 2);
  fs::remove_all(dir);
}

TEST_F(FaithfulnessModel, HeaderExample) {
  const fs::path png = fs::path(::testing::TempDir()) / "camkit_faithfulness_header.png";
  cv::imwrite(png.string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(200, 220, 240)));
  camkit::Model model = camkit::Model::load(model_path_);
  camkit::Explainer explainer(model);
  camkit::Prepared in = camkit::prepare(camkit::read_input(png.string()), model.preprocess());
  camkit::ExplainOptions eo;
  eo.method = camkit::Method::gradcam;
  camkit::Explanation ex = explainer.explain(in, eo);
  camkit::FaithfulnessOptions fo;
  camkit::FaithfulnessSummary summary;
  for (const camkit::FaithfulnessTrial& t : camkit::faithfulness_trials(explainer, ex, in, fo))
    summary.add(t);
  camkit::FaithfulnessReport r = summary.report(fo);
  ASSERT_EQ(r.trials, 1);
  EXPECT_LT(*r.deletion_auc, *r.insertion_auc);
  fs::remove(png);
}

}  // namespace
}  // namespace camkit
