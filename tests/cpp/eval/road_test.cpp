// ROAD: the removed pixels, the noisy linear imputation against SciPy (fixtures_faith.py) and
// hand-made answers, and the MoRF / LeRF curves on a model whose output is a known function of
// its input (left_half_model.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../model/fixtures.hpp"
#include "camkit/error.hpp"
#include "camkit/faithfulness.hpp"
#include "left_half_model.hpp"

namespace camkit {
namespace {

using namespace camkit::testing;

std::string faith_dir() {
  return std::string(CAMKIT_FIXTURES) + "/faith/";
}

Prepared linear_image(int h, int w) {
  Prepared p = filled(3, h, w, 0);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        p.chw[static_cast<size_t>((c * h + y) * w + x)] = 0.5f * x - 0.25f * y + c;
  return p;
}

TEST(Road, RemovedPixelsInMorfAndLerfOrder) {
  const std::vector<int> order{3, 0, 4, 1, 2, 5, 7, 6, 9, 8};
  // 30 %: int(10 * 0.3) = 3 pixels, the first three of the order or the last three.
  EXPECT_EQ(road_removed(order, 30, true),
            (std::vector<unsigned char>{1, 0, 0, 1, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(road_removed(order, 30, false),
            (std::vector<unsigned char>{0, 0, 0, 0, 0, 0, 1, 0, 1, 1}));
  EXPECT_THROW(road_removed(order, 0, true), Error);
  EXPECT_THROW(road_removed(order, 100, false), Error);
}

TEST(Road, InteriorHolesOfALinearImageAreReproduced) {
  // The weighted mean of the 8 neighbours (weights symmetric about the pixel) of a linear
  // function is its value, so noise-free imputation of any pixels off the border is exact.
  const Prepared in = linear_image(12, 15);
  std::vector<unsigned char> removed(12 * 15, 0);
  for (int y = 1; y < 11; ++y)
    for (int x = 1; x < 14; ++x) removed[static_cast<size_t>(y * 15 + x)] = (x * 7 + y * 3) % 5 < 3;
  for (int x = 3; x < 12; ++x) removed[static_cast<size_t>(5 * 15 + x)] = 1;  // a long hole
  const Prepared out = road_impute(in, removed, 0, 0);
  for (size_t i = 0; i < in.chw.size(); ++i) EXPECT_NEAR(out.chw[i], in.chw[i], 2e-5) << i;
}

TEST(Road, AgreesWithScipySparseSolve) {
  const std::string dir = faith_dir();
  if (!std::filesystem::exists(dir + "road_imputed.npy")) GTEST_SKIP() << "no fixtures";
  const NpyArray img = read_reference(dir + "road_image.npy");
  const NpyArray mask = read_reference(dir + "road_removed.npy");
  const NpyArray want = read_reference(dir + "road_imputed.npy");
  Prepared in = filled(static_cast<int>(img.shape[0]), static_cast<int>(img.shape[1]),
                       static_cast<int>(img.shape[2]), 0);
  in.chw = img.values;
  std::vector<unsigned char> removed;
  for (float v : mask.values) removed.push_back(v > 0.5f);
  const Prepared out = road_impute(in, removed, 0, 0);
  ASSERT_EQ(out.chw.size(), want.values.size());
  for (size_t i = 0; i < want.values.size(); ++i)
    EXPECT_NEAR(out.chw[i], want.values[i], 1e-5) << i;
}

TEST(Road, NoiseHasTheStatedSpreadOnImputedPixelsOnly) {
  const Prepared in = linear_image(40, 40);
  std::vector<unsigned char> removed(1600, 0);
  for (size_t i = 0; i < removed.size(); i += 2) removed[i] = 1;
  const Prepared clean = road_impute(in, removed, 0, 0);
  const Prepared noisy = road_impute(in, removed, 0.5, 7);
  double sum = 0, sq = 0;
  int n = 0;
  for (size_t i = 0; i < in.chw.size(); ++i) {
    const double d = noisy.chw[i] - clean.chw[i];
    if (!removed[i % 1600]) {
      EXPECT_EQ(noisy.chw[i], in.chw[i]);
      continue;
    }
    sum += d;
    sq += d * d;
    ++n;
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);  // 2400 draws
  EXPECT_NEAR(mean, 0, 0.05);
  EXPECT_NEAR(sd, 0.5, 0.03);
  EXPECT_EQ(road_impute(in, removed, 0.5, 7).chw, noisy.chw);  // seeded
  EXPECT_NE(road_impute(in, removed, 0.5, 8).chw, noisy.chw);
  EXPECT_THROW(road_impute(in, std::vector<unsigned char>(1600, 1), 0, 0), Error);
  EXPECT_THROW(road_impute(in, std::vector<unsigned char>(10, 1), 0, 0), Error);
}

// The model's output depends on the left half only (P(0) = sigmoid(10 * left mean - 5)).
TEST_F(FaithfulnessModel, RoadCurvesFollowTheModelsFunction) {
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  const Prepared in = linear_image(8, 8);
  FaithfulnessOptions fo;
  fo.steps = 4;
  fo.batch_size = 5;
  fo.road_percentiles = {10, 25, 50, 75};
  fo.road_noise = 0;
  const Map left = map_where(8, 8, [](int x) { return x < 4; });
  const Map right = map_where(8, 8, [](int x) { return x >= 4; });
  const FaithfulnessTrial l = faithfulness_trial(explainer, in, left, 0, fo);
  const FaithfulnessTrial r = faithfulness_trial(explainer, in, right, 0, fo);
  const double y = left_half_p0(in);
  ASSERT_EQ(l.road_morf.size(), 4u);
  ASSERT_EQ(l.road_lerf.size(), 4u);
  const std::vector<int> order = saliency_order(left);
  for (size_t i = 0; i < 4; ++i) {
    const double p = fo.road_percentiles[i];
    // Each point is the model's function of the imputed input.
    EXPECT_NEAR(l.road_morf[i], left_half_p0(road_impute(in, road_removed(order, p, true), 0, 0)),
                1e-5);
    EXPECT_NEAR(l.road_lerf[i], left_half_p0(road_impute(in, road_removed(order, p, false), 0, 0)),
                1e-5);
    if (p <= 50) {
      // Up to half the pixels, the right-first map's MoRF and the left-first map's LeRF
      // remove right-half pixels only, which the model ignores: no drop at all.
      EXPECT_NEAR(r.road_morf[i], y, 1e-6) << p;
      EXPECT_NEAR(l.road_lerf[i], y, 1e-6) << p;
    }
  }
  // Removing left-half pixels changes the output (the imputed values differ from the ramp's
  // near the border column 0), so the left-first map's MoRF curve moves and its LeRF does not.
  EXPECT_GT(std::abs(l.road_morf[1] - y), 1e-4);

  // The summary: means per percentile and over percentiles, drops from Y.
  FaithfulnessSummary s;
  s.add(l);
  s.add(r);
  const FaithfulnessReport rep = s.report(fo);
  ASSERT_EQ(rep.road_morf.size(), 4u);
  EXPECT_NEAR(rep.road_morf[2], (l.road_morf[2] + r.road_morf[2]) / 2, 1e-12);
  EXPECT_NEAR(rep.road_lerf_drop[0],
              (l.full_score - l.road_lerf[0] + r.full_score - r.road_lerf[0]) / 2, 1e-12);
  double morf = 0;
  for (double v : rep.road_morf) morf += v / 4;
  EXPECT_NEAR(*rep.road_morf_mean, morf, 1e-12);
  EXPECT_NEAR(*rep.road_gap, *rep.road_lerf_mean - *rep.road_morf_mean, 1e-12);

  // Batch size does not change the points, nor do the other metrics change with ROAD.
  fo.batch_size = 1;
  const FaithfulnessTrial l1 = faithfulness_trial(explainer, in, left, 0, fo);
  EXPECT_EQ(l1.road_morf, l.road_morf);
  EXPECT_EQ(l1.deletion, l.deletion);
  fo.road_percentiles = {};
  const FaithfulnessTrial none = faithfulness_trial(explainer, in, left, 0, fo);
  EXPECT_TRUE(none.road_morf.empty());
  EXPECT_EQ(none.deletion, l.deletion);
  EXPECT_DOUBLE_EQ(none.masked_score, l.masked_score);
  fo.road_percentiles = {120};
  EXPECT_THROW(faithfulness_trial(explainer, in, left, 0, fo), Error);
}

}  // namespace
}  // namespace camkit
