// Head detection and raw maps against PyTorch references (tests/python/fixtures_models.py):
// every positive model must be found with the right feature layer and classifier, and its maps
// must equal the forward-hook computation; every negative model must be refused.
#include <gtest/gtest.h>

#include <set>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "fixtures.hpp"

namespace camkit::testing {
namespace {

class PositiveModel : public ::testing::TestWithParam<std::tuple<nlohmann::json, bool>> {};

std::string name_of(const ::testing::TestParamInfo<std::tuple<nlohmann::json, bool>>& info) {
  return std::get<0>(info.param)["name"].get<std::string>() +
         (std::get<1>(info.param) ? "_optimized" : "_plain");
}

TEST_P(PositiveModel, FindsHeadAndReproducesPyTorchMaps) {
  const nlohmann::json& m = std::get<0>(GetParam());
  ModelOptions opt = options_for(m);
  opt.optimize = std::get<1>(GetParam());
  const Model model = Model::load(models_dir() + m["file"].get<std::string>(), opt);
  const HeadInfo& head = model.head();
  ASSERT_TRUE(head.found) << head.reason;
  EXPECT_EQ(head.feature_layer, m["feature_layer"].get<std::string>());
  if (!m["feature_op"].is_null()) {
    ASSERT_EQ(head.feature_ops.size(), 1u);
    EXPECT_EQ(head.feature_ops[0], m["feature_op"].get<std::string>());
  } else {
    EXPECT_TRUE(head.feature_ops.empty());
  }
  // A classifier whose weights sit on the top module is named by its weight attribute.
  const std::string classifier = m["classifier"].get<std::string>();
  EXPECT_EQ(head.classifier,
            classifier.empty() ? m["classifier_weight"].get<std::string>() : classifier);
  EXPECT_EQ(head.num_classes, m["num_classes"].get<int>());
  EXPECT_EQ(head.feature_channels, m["feature_shape"][0].get<int>());
  EXPECT_EQ(head.kind, m["head"].get<std::string>() == "conv1x1" ? "conv1x1" : "linear")
      << m["head"];

  const std::string base = models_dir() + m["name"].get<std::string>();
  const Prepared input = prepared_from_npy(base + ".input.npy");
  ExplainOptions eo;
  eo.all_classes = true;
  const Explanation ex = Explainer(model).explain(input, eo);
  const NpyArray cams = read_reference(base + ".cams.npy");
  const NpyArray logits = read_reference(base + ".logits.npy");
  const NpyArray bias = read_reference(base + ".bias.npy");
  const int k = m["num_classes"];
  ASSERT_EQ(static_cast<int>(ex.all_maps.size()), k);
  std::vector<float> ours, ours_logits(k);
  for (const ClassMap& cm : ex.all_maps) {
    ASSERT_EQ(cm.raw.height, cams.shape[1]);
    ASSERT_EQ(cm.raw.width, cams.shape[2]);
    ours.insert(ours.end(), cm.raw.data.begin(), cm.raw.data.end());
    ours_logits[cm.prediction.class_index] = cm.prediction.logit;
  }
  EXPECT_LT(max_rel_error(ours, cams.values), 1e-4);
  EXPECT_LT(max_rel_error(ours_logits, logits.values), 1e-4);

  // CAM identity against PyTorch's logits: mean(M_c) + b_c = y_c (SqueezeNet: with the ReLU
  // between its 1x1 classifier and the pooling, mean(ReLU(M_c + b_c)) = y_c).
  std::vector<float> reconstructed(k);
  for (const ClassMap& cm : ex.all_maps) {
    const int c = cm.prediction.class_index;
    double sum = 0;
    for (float v : cm.raw.data) {
      double t = head.relu_before_pool ? std::max(0.0, double(v) + bias.values[c]) : v;
      sum += t;
    }
    reconstructed[c] = static_cast<float>(sum / cm.raw.data.size() +
                                          (head.relu_before_pool ? 0.0 : bias.values[c]));
  }
  EXPECT_LT(max_rel_error(reconstructed, logits.values), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PositiveModel,
                         ::testing::Combine(::testing::ValuesIn(manifest_models("positive")),
                                            ::testing::Bool()),
                         name_of);

class NegativeModel : public ::testing::TestWithParam<nlohmann::json> {};

TEST_P(NegativeModel, IsRefusedWithAReason) {
  const nlohmann::json& m = GetParam();
  const Model model = Model::load(models_dir() + m["file"].get<std::string>(), options_for(m));
  EXPECT_FALSE(model.head().found);
  EXPECT_FALSE(model.head().reason.empty());
  try {
    Explainer(model).explain(
        prepared_from_npy(models_dir() + m["name"].get<std::string>() + ".input.npy"), {});
    FAIL() << "CAM ran on a model without a CAM head";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::model);
    EXPECT_NE(std::string(e.what()).find("no CAM head"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NegativeModel, ::testing::ValuesIn(manifest_models("negative")),
                         [](const auto& info) {
                           return info.param["name"].template get<std::string>();
                         });

TEST(Manifest, CoversTheRequiredArchitectures) {
  std::set<std::string> archs;
  for (const auto& m : manifest_all()) archs.insert(m["architecture"].get<std::string>());
  for (const char* a : {"resnet18", "resnet50", "densenet121", "mobilenet_v2", "efficientnet_b0",
                        "squeezenet1_1", "googlenet", "vgg11", "mobilenet_v3_small"})
    EXPECT_TRUE(archs.count(a)) << a;
}

}  // namespace
}  // namespace camkit::testing
