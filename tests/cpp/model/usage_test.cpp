// The usage walkthroughs at the top of camkit/explain.hpp and camkit/model.hpp, compiled and run
// as written (model and image paths replaced by fixtures).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <opencv2/imgcodecs.hpp>

#include "camkit/explain.hpp"
#include "fixtures.hpp"

namespace camkit::testing {
namespace {

TEST(Usage, ExplainHeaderWalkthrough) {
  const std::string model_path = models_dir() + "resnet18_traced.meta.pt";
  const std::string image_path =
      (std::filesystem::temp_directory_path() / "camkit-usage-cat.jpg").string();
  cv::Mat pixels(300, 400, CV_8UC3);
  cv::randu(pixels, 0, 255);
  ASSERT_TRUE(cv::imwrite(image_path, pixels));

  // --- as in camkit/explain.hpp ---
  camkit::Model model = camkit::Model::load(model_path);
  camkit::Explainer explainer(model);  // cheap; one per thread
  camkit::Prepared in = camkit::prepare(camkit::read_input(image_path), model.preprocess());
  camkit::ExplainOptions opt;
  opt.top_k = 3;
  camkit::Explanation ex = explainer.explain(in, opt);
  for (const camkit::ClassMap& m : ex.maps)  // raw maps, feature resolution
    std::cout << m.prediction.label << " " << m.prediction.score << "\n";
  // --- as in camkit/model.hpp ---
  const camkit::HeadInfo& head = model.head();
  if (!head.found) std::cerr << head.reason << "\n";
  std::cout << head.feature_layer << " -> " << head.classifier << "\n";
  camkit::Preprocess pre = model.preprocess();

  ASSERT_EQ(ex.maps.size(), 3u);
  EXPECT_EQ(head.feature_layer, "layer4");
  EXPECT_EQ(head.classifier, "fc");
  EXPECT_EQ(pre.crop_height, 224);
  EXPECT_EQ(in.height, 224);
  EXPECT_EQ(ex.maps[0].raw.height, 7);
  std::filesystem::remove(image_path);
}

}  // namespace
}  // namespace camkit::testing
