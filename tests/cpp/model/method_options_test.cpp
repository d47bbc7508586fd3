// Methods with options (eigen-smoothing, aug-smoothing, Smooth Grad-CAM++'s seeded noise)
// against the independent PyTorch references of tests/python/camkit_reference.py (the
// "variants" of tests/python/fixtures_methods.py's manifest).
#include <gtest/gtest.h>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "fixtures.hpp"

namespace camkit::testing {
namespace {

std::string methods_dir() {
  return std::string(CAMKIT_FIXTURES) + "/methods/";
}

struct Variant {
  nlohmann::json model, layer, options;
  std::string name, method;
  int cls;
  std::string file;
};

std::vector<Variant> variants() {
  std::vector<Variant> out;
  std::ifstream in(methods_dir() + "manifest.json");
  if (!in) return out;
  const nlohmann::json m = nlohmann::json::parse(in);
  for (const auto& model : m["models"])
    for (const auto& layer : model["layers"]) {
      if (!layer.contains("variants")) continue;
      for (const auto& [name, v] : layer["variants"].items())
        for (const auto& [cls, file] : v["maps"].items())
          out.push_back({model, layer, v["options"], name, v["method"], std::stoi(cls),
                         file.get<std::string>()});
    }
  return out;
}

ExplainOptions options_of(const Variant& v) {
  ExplainOptions eo;
  eo.method = *parse_method(v.method);
  eo.classes = {v.cls};
  eo.eigen_smooth = v.options.value("eigen_smooth", false);
  eo.aug_smooth = v.options.value("aug_smooth", false);
  eo.noise_sigma = v.options.value("noise_sigma", eo.noise_sigma);
  eo.samples = v.options.value("samples", eo.samples);
  eo.seed = v.options.value("seed", eo.seed);
  eo.batch_size = 2;  // not a divisor of the sample count: exercises the last partial batch
  return eo;
}

Model load(const Variant& v) {
  ModelOptions opt;
  opt.optimize = false;
  if (v.method != "cam") opt.layer = v.layer["path"].get<std::string>();
  return Model::load(methods_dir() + v.model["file"].get<std::string>(), opt);
}

class OptionParity : public ::testing::TestWithParam<Variant> {};

TEST_P(OptionParity, RawMapEqualsPyTorchReference) {
  const Variant& v = GetParam();
  const Model model = load(v);
  ASSERT_TRUE(model.layer().found) << model.layer().reason;
  EXPECT_EQ(model.layer().layer, v.layer["path"].get<std::string>());
  const Explanation ex = Explainer(model).explain(
      prepared_from_npy(methods_dir() + v.model["input"].get<std::string>()), options_of(v));
  ASSERT_EQ(ex.maps.size(), 1u);
  EXPECT_EQ(ex.maps[0].prediction.class_index, v.cls);
  const NpyArray ref = read_reference(methods_dir() + v.file);
  ASSERT_EQ(ex.maps[0].raw.height, ref.shape[0]);
  ASSERT_EQ(ex.maps[0].raw.width, ref.shape[1]);
  EXPECT_LT(max_rel_error(ex.maps[0].raw.data, ref.values), 1e-4)
      << v.model["name"] << " " << v.layer["path"] << " " << v.name << " class " << v.cls;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OptionParity, ::testing::ValuesIn(variants()),
                         [](const auto& info) {
                           std::string name =
                               info.param.model["name"].template get<std::string>() + "_" +
                               info.param.layer["path"].template get<std::string>() + "_" +
                               info.param.name + "_" + std::to_string(info.param.cls);
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

const Prepared& resnet_input() {
  static const Prepared in = prepared_from_npy(methods_dir() + "resnet18.input.npy");
  return in;
}

Model resnet(const std::string& layer = "layer4") {
  ModelOptions opt;
  opt.layer = layer;
  return Model::load(methods_dir() + "resnet18.pt", opt);
}

TEST(MethodOptions, SmoothGradCamPlusPlusIsReproducibleFromTheSeed) {
  // Inside the last block: at the GAP input the gradients do not depend on the input at all.
  const Model model = resnet("layer4.1.conv2");
  ExplainOptions eo;
  eo.method = Method::smoothgradcam_pp;
  eo.samples = 4;
  eo.seed = 11;
  const auto first = Explainer(model).explain(resnet_input(), eo).maps[0].raw.data;
  eo.batch_size = 3;  // the noise is drawn per input, whatever the batching
  EXPECT_EQ(Explainer(model).explain(resnet_input(), eo).maps[0].raw.data, first);
  // An input's noise does not depend on its place in a batch.
  const Prepared& in = resnet_input();
  const auto two = Explainer(model).explain_batch({&in, &in}, eo);
  EXPECT_EQ(two[1].maps[0].raw.data, first);
  eo.seed = 12;
  EXPECT_NE(Explainer(model).explain(resnet_input(), eo).maps[0].raw.data, first);
}

TEST(MethodOptions, NoNoiseIsGradCamPlusPlus) {
  const Model model = resnet("layer4.1.conv2");
  ExplainOptions eo;
  eo.method = Method::gradcam_pp;
  const auto plain = Explainer(model).explain(resnet_input(), eo).maps[0].raw.data;
  eo.method = Method::smoothgradcam_pp;
  eo.noise_sigma = 0;
  eo.samples = 3;
  EXPECT_LT(max_rel_error(Explainer(model).explain(resnet_input(), eo).maps[0].raw.data, plain),
            1e-5);
}

TEST(MethodOptions, EigenSmoothOfHiResCamIsEigenGradCam) {
  const Model model = resnet("layer4.1.conv2");
  ExplainOptions eo;
  eo.method = Method::eigengradcam;
  const auto eigen = Explainer(model).explain(resnet_input(), eo).maps[0].raw.data;
  eo.method = Method::hirescam;
  eo.eigen_smooth = true;
  EXPECT_LT(max_rel_error(Explainer(model).explain(resnet_input(), eo).maps[0].raw.data, eigen),
            1e-6);
}

TEST(MethodOptions, AugSmoothKeepsTheUnaugmentedPredictions) {
  const Model model = resnet();
  ExplainOptions eo;
  eo.method = Method::gradcam;
  eo.top_k = 2;
  const Explanation plain = Explainer(model).explain(resnet_input(), eo);
  eo.aug_smooth = true;
  const Explanation smooth = Explainer(model).explain(resnet_input(), eo);
  ASSERT_EQ(smooth.maps.size(), 2u);
  for (size_t j = 0; j < 2; ++j) {
    EXPECT_EQ(smooth.maps[j].prediction.class_index, plain.maps[j].prediction.class_index);
    EXPECT_EQ(smooth.maps[j].prediction.score, plain.maps[j].prediction.score);
  }
  EXPECT_EQ(smooth.scores, plain.scores);
  EXPECT_EQ(augmentations().size(), 6u);
  EXPECT_FALSE(augmentations().front().flip);
  EXPECT_EQ(augmentations().front().scale, 1.0f);
}

TEST(MethodOptions, GuidedBackpropLeavesTheModelAsLoaded) {
  const Model model = resnet("layer4.1.conv2");
  ExplainOptions eo;
  eo.method = Method::gradcam;
  const auto before = Explainer(model).explain(resnet_input(), eo).maps[0].raw.data;
  eo.method = Method::guided_gradcam;
  const Explanation guided = Explainer(model).explain(resnet_input(), eo);
  ASSERT_EQ(guided.maps.size(), 1u);
  EXPECT_EQ(guided.method, Method::guided_gradcam);
  EXPECT_EQ(guided.maps[0].raw.height, resnet_input().height);  // input resolution
  EXPECT_EQ(guided.maps[0].raw.width, resnet_input().width);
  eo.method = Method::gradcam;
  EXPECT_EQ(Explainer(model).explain(resnet_input(), eo).maps[0].raw.data, before);
}

TEST(MethodOptions, RefusedWhereNotDefined) {
  const Model model = resnet();
  for (Method m : {Method::cam, Method::eigencam, Method::eigengradcam, Method::scorecam,
                   Method::guided_backprop}) {
    ExplainOptions eo;
    eo.method = m;
    eo.eigen_smooth = true;
    try {
      Explainer(model).explain(resnet_input(), eo);
      ADD_FAILURE() << method_name(m) << " ran with eigen_smooth";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::usage) << e.what();
    }
  }
  ExplainOptions eo;
  eo.method = Method::smoothgradcam_pp;
  eo.samples = 0;
  EXPECT_THROW(Explainer(model).explain(resnet_input(), eo), Error);
}

}  // namespace
}  // namespace camkit::testing
