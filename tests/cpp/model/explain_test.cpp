// Explainer options, --layer overrides, metadata, and the library's usage example.
#include "camkit/explain.hpp"

#include <gtest/gtest.h>

#include "camkit/error.hpp"
#include "fixtures.hpp"

namespace camkit::testing {
namespace {

nlohmann::json find_model(const std::string& name) {
  for (const auto& m : manifest_all())
    if (m["name"] == name) return m;
  ADD_FAILURE() << "fixture " << name << " missing";
  return {};
}

std::string file_of(const std::string& name) {
  return models_dir() + find_model(name)["file"].get<std::string>();
}

TEST(Explain, TopKIsSortedAndMapsFollowTheRequestOrder) {
  const Model model = Model::load(file_of("resnet18_traced"));
  const Prepared in = prepared_from_npy(models_dir() + "resnet18_traced.input.npy");
  ExplainOptions eo;
  eo.top_k = 5;
  const Explanation ex = Explainer(model).explain(in, eo);
  ASSERT_EQ(ex.predictions.size(), 5u);
  ASSERT_EQ(ex.maps.size(), 5u);
  for (size_t i = 1; i < 5; ++i) EXPECT_GE(ex.predictions[i - 1].score, ex.predictions[i].score);
  float total = 0;
  for (const auto& p : ex.predictions) total += p.score;
  EXPECT_LE(total, 1.0f + 1e-6f);
  eo.classes = {7, 3};
  const Explanation chosen = Explainer(model).explain(in, eo);
  ASSERT_EQ(chosen.maps.size(), 2u);
  EXPECT_EQ(chosen.maps[0].prediction.class_index, 7);
  EXPECT_EQ(chosen.maps[1].prediction.class_index, 3);
}

TEST(Explain, ClassOutOfRangeIsAUsageError) {
  const Model model = Model::load(file_of("resnet18_traced"));
  const Prepared in = prepared_from_npy(models_dir() + "resnet18_traced.input.npy");
  ExplainOptions eo;
  eo.classes = {model.num_classes()};
  try {
    Explainer(model).explain(in, eo);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage);
  }
}

TEST(Explain, WrongChannelCountIsAnInputError) {
  const Model model = Model::load(file_of("resnet18_traced"));
  Prepared in = prepared_from_npy(models_dir() + "resnet18_traced.input.npy");
  in.channels = 1;
  in.chw.resize(static_cast<size_t>(in.height) * in.width);
  try {
    Explainer(model).explain(in, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input);
  }
}

TEST(Explain, BatchEqualsSingleInputs) {
  const Model model = Model::load(file_of("resnet18_traced"));
  Prepared a = prepared_from_npy(models_dir() + "resnet18_traced.input.npy");
  Prepared b = a;
  for (float& v : b.chw) v = -v;
  const Explainer explainer(model);
  const auto batch = explainer.explain_batch({&a, &b}, {});
  const auto one = explainer.explain(b, {});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1].predictions[0].class_index, one.predictions[0].class_index);
  EXPECT_LT(max_rel_error(batch[1].maps[0].raw.data, one.maps[0].raw.data), 1e-5);
}

TEST(Layer, ModuleOutputOverridesTheFeatureMap) {
  ModelOptions opt;
  opt.layer = "layer4.1";  // the last block of layer4: the same tensor as layer4's output
  const Model model = Model::load(file_of("resnet18_traced"), opt);
  ASSERT_TRUE(model.head().found) << model.head().reason;
  EXPECT_EQ(model.head().feature_layer, "layer4.1");
  const Model plain = Model::load(file_of("resnet18_traced"));
  const Prepared in = prepared_from_npy(models_dir() + "resnet18_traced.input.npy");
  const auto a = Explainer(model).explain(in, {});
  const auto b = Explainer(plain).explain(in, {});
  EXPECT_LT(max_rel_error(a.maps[0].raw.data, b.maps[0].raw.data), 1e-5);
}

TEST(Layer, UnknownLayerIsAUsageErrorAndIncompatibleLayerRefusesCamOnly) {
  ModelOptions opt;
  opt.layer = "layer9";
  try {
    Model::load(file_of("resnet18_traced"), opt);
    ADD_FAILURE() << "layer9 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer9"), std::string::npos) << e.what();
  }
  opt.layer = "layer3";  // 256 channels: fine for gradients, not for the 512-wide classifier
  const Model model = Model::load(file_of("resnet18_traced"), opt);
  const Prepared in = prepared_from_npy(models_dir() + "resnet18_traced.input.npy");
  try {
    Explainer(model).explain(in, {});
    ADD_FAILURE() << "CAM on layer3 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer3"), std::string::npos) << e.what();
  }
  ExplainOptions eo;
  eo.method = Method::gradcam;
  EXPECT_EQ(Explainer(model).explain(in, eo).maps[0].raw.height, 14);
}

TEST(Metadata, EmbeddedMetadataGivesLabelsAndPreprocessing) {
  for (const auto& m : manifest_all()) {
    if (!m.contains("meta_file") && !(m.contains("meta") && m["files"].contains("model"))) continue;
    const std::string file =
        models_dir() + (m.contains("meta_file") ? m["meta_file"] : m["file"]).get<std::string>();
    const Model model = Model::load(file);
    if (!model.metadata().present) continue;
    SCOPED_TRACE(file);
    EXPECT_EQ(static_cast<int>(model.metadata().labels.size()),
              m["meta"]["labels_count"].get<int>());
    const Preprocess pre = model.preprocess();
    EXPECT_EQ(pre.channels, m["input_shape"][1].get<int>());
    EXPECT_TRUE(pre.normalises());
  }
}

TEST(Model, MissingOrCorruptFileIsAModelError) {
  for (const std::string& path :
       {std::string("/nonexistent/model.pt"), models_dir() + "manifest.json"}) {
    try {
      Model::load(path);
      ADD_FAILURE() << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::model);
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    }
  }
}

TEST(Model, CudaWithoutCudaIsAUsageError) {
  ModelOptions opt;
  opt.device = "cuda";
  try {
    Model::load(file_of("resnet18_traced"), opt);
    SUCCEED() << "this LibTorch has CUDA";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage);
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos);
  }
}

TEST(Model, OptimizedAndPlainGraphsGiveTheSameMaps) {
  ModelOptions plain;
  plain.optimize = false;
  const Model a = Model::load(file_of("resnet50_traced"));
  const Model b = Model::load(file_of("resnet50_traced"), plain);
  const Prepared in = prepared_from_npy(models_dir() + "resnet50_traced.input.npy");
  ExplainOptions eo;
  eo.top_k = 3;
  const auto x = Explainer(a).explain(in, eo);
  const auto y = Explainer(b).explain(in, eo);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_LT(max_rel_error(x.maps[i].raw.data, y.maps[i].raw.data), 1e-4);
}

}  // namespace
}  // namespace camkit::testing
