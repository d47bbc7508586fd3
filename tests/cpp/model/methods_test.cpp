// Every method's raw map against the independent PyTorch references of
// tests/python/camkit_reference.py (made by tests/python/fixtures_methods.py).
#include <gtest/gtest.h>

#include <set>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "fixtures.hpp"
#include "model/model_impl.hpp"

namespace camkit::testing {
namespace {

std::string methods_dir() {
  return std::string(CAMKIT_FIXTURES) + "/methods/";
}

struct Case {
  nlohmann::json model, layer;
  std::string method;
  int cls;
  std::string file;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  std::ifstream in(methods_dir() + "manifest.json");
  if (!in) return out;
  const nlohmann::json m = nlohmann::json::parse(in);
  for (const auto& model : m["models"])
    for (const auto& layer : model["layers"])
      for (const auto& [method, per_class] : layer["maps"].items())
        for (const auto& [cls, file] : per_class.items())
          out.push_back({model, layer, method, std::stoi(cls), file.get<std::string>()});
  return out;
}

class MethodParity : public ::testing::TestWithParam<Case> {};

TEST_P(MethodParity, RawMapEqualsPyTorchReference) {
  const Case& c = GetParam();
  ModelOptions opt;
  opt.optimize = false;
  const std::string layer = c.layer["path"];
  // CAM reads the head's own feature map; every other method is pointed at the layer.
  if (c.method != "cam") opt.layer = layer;
  const Model model = Model::load(methods_dir() + c.model["file"].get<std::string>(), opt);
  ASSERT_TRUE(model.layer().found) << model.layer().reason;
  EXPECT_EQ(model.layer().layer, layer);
  ExplainOptions eo;
  eo.method = *parse_method(c.method);
  eo.classes = {c.cls};
  eo.batch_size = 7;  // not a divisor of the channel count: exercises the last partial batch
  const Explanation ex = Explainer(model).explain(
      prepared_from_npy(methods_dir() + c.model["input"].get<std::string>()), eo);
  ASSERT_EQ(ex.maps.size(), 1u);
  const NpyArray ref = read_reference(methods_dir() + c.file);
  ASSERT_EQ(ex.maps[0].raw.height, ref.shape[0]);
  ASSERT_EQ(ex.maps[0].raw.width, ref.shape[1]);
  double err = max_rel_error(ex.maps[0].raw.data, ref.values);
  if (c.method == "eigencam") {  // an eigenvector's sign is a convention: compare up to it
    std::vector<float> neg(ref.values);
    for (float& v : neg) v = -v;
    err = std::min(err, max_rel_error(ex.maps[0].raw.data, neg));
  }
  // XGrad-CAM divides by sum_ij A_kij, which nearly cancels for signed activations: float32
  // rounding in A is magnified by the factor the reference measured.
  double tolerance = 1e-4;
  if (c.method == "xgradcam")
    tolerance *= std::max(1.0, c.layer.value("xgradcam_amplification", 1.0));
  EXPECT_LT(err, tolerance) << c.model["name"] << " " << layer << " " << c.method << " class "
                            << c.cls;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MethodParity, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           std::string name =
                               info.param.model["name"].template get<std::string>() + "_" +
                               info.param.layer["path"].template get<std::string>() + "_" +
                               info.param.method + "_" + std::to_string(info.param.cls);
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// With --optimize the gradient methods run the frozen, optimised graph below the layer and the
// layers above it as loaded (Model::Impl::frozen_lower): the same maps, for a layer at the end
// (layer4), one inside a residual block (layer4.1.conv2: the block's input crosses the cut),
// a VGG and a 1-channel model.
TEST(Methods, GradientMethodsOnTheOptimisedGraphEqualThePyTorchReferences) {
  const std::set<std::string> gradient = {
      "gradcam",  "gradcam++",    "xgradcam",           "layercam",
      "hirescam", "eigengradcam", "gradcam-elementwise"};
  int compared = 0;
  for (const auto& c : cases()) {
    if (!gradient.count(c.method)) continue;
    ModelOptions opt;
    opt.optimize = true;
    opt.layer = c.layer["path"].get<std::string>();
    const Model model = Model::load(methods_dir() + c.model["file"].get<std::string>(), opt);
    ASSERT_NE(model.impl().frozen_lower(), nullptr) << c.model["name"] << " " << opt.layer;
    ExplainOptions eo;
    eo.method = *parse_method(c.method);
    eo.classes = {c.cls};
    const Explanation ex = Explainer(model).explain(
        prepared_from_npy(methods_dir() + c.model["input"].get<std::string>()), eo);
    const NpyArray ref = read_reference(methods_dir() + c.file);
    const double err = max_rel_error(ex.maps[0].raw.data, ref.values);
    double tolerance = 1e-4;
    if (c.method == "xgradcam")
      tolerance *= std::max(1.0, c.layer.value("xgradcam_amplification", 1.0));
    EXPECT_LT(err, tolerance) << c.model["name"] << " " << opt.layer << " " << c.method << " class "
                              << c.cls;
    ++compared;
  }
  EXPECT_GE(compared, 20);
}

// The masking methods with --optimize and two threads: Ablation-CAM's layers above the cut run
// on the optimised lower graph's output (Model::Impl::run_cut), and the mask batches of both
// are shared between two workers of one thread each (run_batches). The maps equal the PyTorch
// references and, bit for bit, the maps of one thread: every batch is computed on one thread.
TEST(Methods, MaskingMethodsOnTwoWorkersEqualOneThreadAndThePyTorchReferences) {
  int compared = 0;
  for (const auto& c : cases()) {
    if (c.method != "scorecam" && c.method != "ablationcam") continue;
    std::vector<float> maps[2];
    for (int threads : {1, 2}) {
      ModelOptions opt;
      opt.optimize = true;
      opt.threads = threads;
      opt.layer = c.layer["path"].get<std::string>();
      const Model model = Model::load(methods_dir() + c.model["file"].get<std::string>(), opt);
      if (c.method == "ablationcam") {
        ASSERT_NE(model.impl().frozen_lower(), nullptr);
      }
      ExplainOptions eo;
      eo.method = *parse_method(c.method);
      eo.classes = {c.cls};
      eo.batch_size = 7;  // several batches per worker, the last one partial
      const Explanation ex = Explainer(model).explain(
          prepared_from_npy(methods_dir() + c.model["input"].get<std::string>()), eo);
      maps[threads - 1] = ex.maps[0].raw.data;
      EXPECT_LT(max_rel_error(ex.maps[0].raw.data, read_reference(methods_dir() + c.file).values),
                1e-4)
          << c.model["name"] << " " << opt.layer << " " << c.method << " threads " << threads;
    }
    EXPECT_EQ(maps[0], maps[1]) << c.model["name"] << " " << c.method;
    ++compared;
  }
  EXPECT_GE(compared, 6);
}

TEST(Methods, GradCamWeightsAreCamWeightsOverMapArea) {
  for (const auto& c : cases()) {
    if (c.method != "cam") continue;
    const Model model = Model::load(methods_dir() + c.model["file"].get<std::string>());
    const Prepared in = prepared_from_npy(methods_dir() + c.model["input"].get<std::string>());
    ExplainOptions eo;
    eo.classes = {c.cls};
    const Map cam = Explainer(model).explain(in, eo).maps[0].raw;
    eo.method = Method::gradcam;
    Map grad = Explainer(model).explain(in, eo).maps[0].raw;
    for (float& v : grad.data) v *= static_cast<float>(cam.height * cam.width);
    EXPECT_LT(max_rel_error(grad.data, cam.data), 1e-5) << c.model["name"];
  }
}

TEST(Methods, SeveralClassesShareOneForwardAndMatchSingleRequests) {
  for (const char* method : {"gradcam", "scorecam", "ablationcam"}) {
    ModelOptions opt;
    opt.layer = "layer4";
    const Model model = Model::load(methods_dir() + "resnet18.pt", opt);
    const Prepared in = prepared_from_npy(methods_dir() + "resnet18.input.npy");
    ExplainOptions eo;
    eo.method = *parse_method(method);
    eo.classes = {8, 3};
    const Explanation both = Explainer(model).explain(in, eo);
    for (int k = 0; k < 2; ++k) {
      eo.classes = {both.maps[k].prediction.class_index};
      const Explanation one = Explainer(model).explain(in, eo);
      EXPECT_LT(max_rel_error(both.maps[k].raw.data, one.maps[0].raw.data), 1e-5) << method;
    }
  }
}

TEST(Methods, ScoreCamIsIndependentOfBatchSizeAndGraphOptimisation) {
  const Prepared in = prepared_from_npy(methods_dir() + "resnet18.input.npy");
  std::vector<float> first;
  const std::pair<bool, int> runs[] = {{false, 512}, {false, 5}, {true, 64}};
  for (const auto& [optimize, batch] : runs) {
    ModelOptions opt;
    opt.optimize = optimize;
    const Model model = Model::load(methods_dir() + "resnet18.pt", opt);
    ExplainOptions eo;
    eo.method = Method::scorecam;
    eo.batch_size = batch;
    const auto map = Explainer(model).explain(in, eo).maps[0].raw.data;
    if (first.empty()) first = map;
    EXPECT_LT(max_rel_error(map, first), 1e-4) << batch << " " << optimize;
  }
}

TEST(Methods, ModelWithoutCamHeadRefusesCamButRunsGradientMethods) {
  const Model model = Model::load(methods_dir() + "vgg_small.pt");
  EXPECT_FALSE(model.head().found);
  ASSERT_TRUE(model.layer().found) << model.layer().reason;
  EXPECT_EQ(model.layer().chosen_by, "last map");
  EXPECT_EQ(model.layer().layout, "channels-first");
  EXPECT_GT(model.layer().height * model.layer().width, 1);
  const Prepared in = prepared_from_npy(methods_dir() + "vgg_small.input.npy");
  try {
    Explainer(model).explain(in, {});
    FAIL() << "CAM ran without a CAM head";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::model);
  }
  ExplainOptions eo;
  eo.method = Method::gradcam;
  EXPECT_EQ(Explainer(model).explain(in, eo).maps.size(), 1u);
}

TEST(Methods, NamesRoundTrip) {
  for (const std::string& name : method_names()) EXPECT_EQ(method_name(*parse_method(name)), name);
  EXPECT_FALSE(parse_method("gradcam+"));
}

}  // namespace
}  // namespace camkit::testing
