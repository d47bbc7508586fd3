// Faithfulness metrics: the trapezoid, pixel order, steps and RISE's blur against hand-made
// answers; deletion/insertion and Average Drop on a model whose output is a known function of
// its input (left_half_model.hpp).
#include "camkit/faithfulness.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"
#include "left_half_model.hpp"

namespace camkit {
namespace {

using namespace camkit::testing;

TEST(FaithfulnessAuc, TrapezoidOnAHandMadeCurve) {
  // Areas: 0.25 * (1 + 0.5) / 2 + 0.25 * (0.5 + 0.5) / 2 + 0.5 * (0.5 + 0) / 2.
  EXPECT_DOUBLE_EQ(trapezoid_auc({0, 0.25, 0.5, 1}, {1, 0.5, 0.5, 0}), 0.4375);
  EXPECT_DOUBLE_EQ(trapezoid_auc({0, 1}, {1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(trapezoid_auc({0}, {3}), 0.0);
  // Equal steps: RISE's auc(arr) = (sum - arr[0] / 2 - arr[-1] / 2) / (n - 1).
  const std::vector<double> y{0.9, 0.7, 0.2, 0.1, 0.05};
  const double rise = (0.9 + 0.7 + 0.2 + 0.1 + 0.05 - 0.9 / 2 - 0.05 / 2) / 4;
  EXPECT_NEAR(trapezoid_auc({0, 0.25, 0.5, 0.75, 1}, y), rise, 1e-15);
  EXPECT_THROW(trapezoid_auc({0, 1}, {1}), Error);
}

TEST(FaithfulnessSteps, EqualStepsFromNoneToAll) {
  EXPECT_EQ(step_counts(10, 4), (std::vector<int>{0, 2, 5, 7, 10}));
  EXPECT_EQ(step_counts(3, 1), (std::vector<int>{0, 3}));
  const std::vector<int> rise = step_counts(224 * 224, 224);  // RISE: 224 pixels per step
  ASSERT_EQ(rise.size(), 225u);
  for (size_t s = 0; s < rise.size(); ++s) EXPECT_EQ(rise[s], static_cast<int>(224 * s));
  EXPECT_THROW(step_counts(10, 0), Error);
  EXPECT_THROW(step_counts(0, 4), Error);
}

TEST(FaithfulnessOrder, DescendingTiesByIndexNanLast) {
  const Map m{2, 3, {0.5f, 1.f, 0.5f, 1.f, NAN, 0.f}};
  EXPECT_EQ(saliency_order(m), (std::vector<int>{1, 3, 0, 2, 5, 4}));
  const Map flat{2, 2, {0, 0, 0, 0}};
  EXPECT_EQ(saliency_order(flat), (std::vector<int>{0, 1, 2, 3}));
}

TEST(FaithfulnessBlur, KernelIsRisesGaussianFilterOfAnImpulse) {
  // scipy.ndimage.gaussian_filter(impulse, 5) of RISE's gkern(11, 5), row through the centre,
  // computed with NumPy (np.pad mode "symmetric" = scipy's "reflect").
  const double want[11] = {0.08795814577727815, 0.08889611977709484, 0.09047419654910867,
                           0.09219111781938807, 0.0934893884429141,  0.0939820632684325,
                           0.0934893884429141,  0.09219111781938806, 0.09047419654910867,
                           0.08889611977709484, 0.08795814577727815};
  const std::vector<double> k = rise_blur_kernel();
  ASSERT_EQ(k.size(), 11u);
  double sum = 0;
  for (size_t i = 0; i < 11; ++i) {
    EXPECT_NEAR(k[i], want[i], 1e-15) << i;
    sum += k[i];
  }
  EXPECT_NEAR(sum, 1.0, 1e-15);
}

TEST(FaithfulnessBlur, MatchesAPlainZeroPaddedConvolution) {
  Prepared in = filled(3, 13, 17, 0);
  cv::RNG rng(3);
  for (float& v : in.chw) v = static_cast<float>(rng.uniform(-2.0, 2.0));
  const Prepared out = rise_blur(in);
  const std::vector<double> k = rise_blur_kernel();
  double worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 13; ++y)
      for (int x = 0; x < 17; ++x) {
        double acc = 0;  // conv2d(x, outer(k, k), padding=5)
        for (int dy = -5; dy <= 5; ++dy)
          for (int dx = -5; dx <= 5; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= 13 || xx < 0 || xx >= 17) continue;
            acc += k[dy + 5] * k[dx + 5] * in.chw[(c * 13 + yy) * 17 + xx];
          }
        worst = std::max(worst, std::abs(acc - out.chw[(c * 13 + y) * 17 + x]));
      }
  EXPECT_LT(worst, 1e-5);
}

TEST(FaithfulnessInputs, PasteAndMask) {
  Prepared target = filled(2, 2, 2, 0);
  const Prepared source = filled(2, 2, 2, 7);
  paste_pixels(target, source, {3, 0, 1, 2}, 0, 2);  // pixels 3 and 0, both channels
  EXPECT_EQ(target.chw, (std::vector<float>{7, 0, 0, 7, 7, 0, 0, 7}));
  EXPECT_THROW(paste_pixels(target, filled(1, 2, 2, 0), {0}, 0, 1), Error);

  const Prepared masked = masked_input(filled(2, 1, 2, 3), Map{1, 2, {0.5f, 0.f}});
  EXPECT_EQ(masked.chw, (std::vector<float>{1.5f, 0, 1.5f, 0}));
  EXPECT_THROW(masked_input(filled(1, 2, 2, 1), Map{1, 2, {1, 1}}), Error);
}

TEST(FaithfulnessSummary, MeansOverTrials) {
  FaithfulnessSummary s;
  EXPECT_FALSE(s.report({}).deletion_auc.has_value());
  FaithfulnessTrial a, b;
  a.deletion_auc = 0.2, a.insertion_auc = 0.6, a.drop = 0.5, a.increase = false;
  b.deletion_auc = 0.4, b.insertion_auc = 0.8, b.drop = 0.0, b.increase = true;
  s.add(a);
  s.add(b);
  const FaithfulnessReport r = s.report({});
  EXPECT_EQ(r.trials, 2);
  EXPECT_EQ(r.increases, 1);
  EXPECT_DOUBLE_EQ(*r.deletion_auc, 0.3);
  EXPECT_DOUBLE_EQ(*r.insertion_auc, 0.7);
  EXPECT_DOUBLE_EQ(*r.average_drop, 0.25);
  EXPECT_DOUBLE_EQ(*r.increase_in_confidence, 0.5);
}

TEST_F(FaithfulnessModel, DeletionCurveIsTheModelsFunction) {
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  const Prepared in = filled(3, 8, 8, 1);
  FaithfulnessOptions fo;
  fo.steps = 8;
  fo.batch_size = 5;  // batches that do not divide the 2 * 9 + 1 inputs
  const Map left = map_where(8, 8, [](int x) { return x < 4; });
  const FaithfulnessTrial t = faithfulness_trial(explainer, in, left, 0, fo);
  ASSERT_EQ(t.deletion.size(), 9u);
  // Left pixels first (raster order within the tie): k pixels deleted leave 32 - k of them.
  for (int s = 0; s <= 8; ++s) {
    const int k = 8 * s;
    EXPECT_NEAR(t.fraction[s], k / 64.0, 1e-15);
    EXPECT_NEAR(t.deletion[s], sigmoid(10.0 * std::max(0, 32 - k) / 32 - 5), 1e-5) << s;
  }
  // Insertion from the blurred input: the same pixels pasted back, scored by the function.
  Prepared x = rise_blur(in);
  const std::vector<int> order = saliency_order(left);
  std::vector<double> want{left_half_p0(x)};
  for (int s = 1; s <= 8; ++s) {
    paste_pixels(x, in, order, 8 * (s - 1), 8 * s);
    want.push_back(left_half_p0(x));
  }
  for (int s = 0; s <= 8; ++s) EXPECT_NEAR(t.insertion[s], want[s], 1e-5) << s;
  EXPECT_NEAR(t.deletion_auc, trapezoid_auc(t.fraction, t.deletion), 1e-12);
  EXPECT_NEAR(t.full_score, sigmoid(5), 1e-6);
}

TEST_F(FaithfulnessModel, TheHalfThatMattersDeletesFasterAndInsertsFaster) {
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  const Prepared in = filled(3, 8, 8, 1);
  FaithfulnessOptions fo;
  fo.steps = 16;
  const FaithfulnessTrial left =
      faithfulness_trial(explainer, in, map_where(8, 8, [](int x) { return x < 4; }), 0, fo);
  const FaithfulnessTrial right =
      faithfulness_trial(explainer, in, map_where(8, 8, [](int x) { return x >= 4; }), 0, fo);
  EXPECT_LT(left.deletion_auc + 0.3, right.deletion_auc);
  EXPECT_GT(left.insertion_auc, right.insertion_auc + 0.3);
  // Masking with the left map keeps every pixel the model reads: no drop.
  EXPECT_NEAR(left.drop, 0, 1e-6);
  EXPECT_NEAR(right.masked_score, sigmoid(-5), 1e-6);
  EXPECT_NEAR(right.drop, (sigmoid(5) - sigmoid(-5)) / sigmoid(5), 1e-5);
  EXPECT_FALSE(right.increase);
}

TEST_F(FaithfulnessModel, AllOnesMapHasNoDropAndAllZerosTheMost) {
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  Prepared in = filled(3, 8, 8, 0);
  cv::RNG rng(11);
  for (float& v : in.chw) v = static_cast<float>(rng.uniform(0.5, 1.0));
  FaithfulnessOptions fo;
  fo.steps = 4;
  const FaithfulnessTrial ones =
      faithfulness_trial(explainer, in, map_where(8, 8, [](int) { return true; }), 0, fo);
  EXPECT_NEAR(ones.masked_score, ones.full_score, 1e-7);
  EXPECT_EQ(ones.drop, 0.0);
  EXPECT_FALSE(ones.increase);
  EXPECT_NEAR(ones.full_score, left_half_p0(in), 1e-5);
  const FaithfulnessTrial zeros =
      faithfulness_trial(explainer, in, map_where(8, 8, [](int) { return false; }), 0, fo);
  EXPECT_NEAR(zeros.masked_score, sigmoid(-5), 1e-6);
  EXPECT_GT(zeros.drop, ones.drop);
  EXPECT_THROW(faithfulness_trial(explainer, in, Map{4, 4, std::vector<float>(16)}, 0, fo), Error);
  const Map flat{8, 8, std::vector<float>(64)};
  EXPECT_THROW(faithfulness_trial(explainer, in, flat, 2, fo), Error);  // the model has 2 classes
}

TEST_F(FaithfulnessModel, ScoresDoNotDependOnTheBatchSize) {
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  std::vector<Prepared> inputs;
  for (int i = 0; i < 5; ++i) inputs.push_back(filled(3, 8, 8, 0.2f * i));
  std::vector<const Prepared*> ptrs;
  for (const Prepared& p : inputs) ptrs.push_back(&p);
  const auto one = explainer.scores(ptrs, 1), two = explainer.scores(ptrs, 2);
  ASSERT_EQ(one.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_EQ(one[i].size(), 2u);
    EXPECT_NEAR(one[i][0], left_half_p0(inputs[i]), 1e-5);
    EXPECT_NEAR(one[i][0] + one[i][1], 1.0, 1e-6);
    for (size_t c = 0; c < 2; ++c) EXPECT_NEAR(one[i][c], two[i][c], 1e-6);
  }
}

TEST_F(FaithfulnessModel, CamOfTheModelIsTheLeftHalf) {
  const Model model = Model::load(model_path_);
  const Explainer explainer(model);
  const Prepared in = filled(3, 8, 8, 1);
  const Explanation ex = explainer.explain(in, {});
  FaithfulnessOptions fo;
  fo.steps = 8;
  const std::vector<FaithfulnessTrial> trials = faithfulness_trials(explainer, ex, in, fo, {0});
  ASSERT_EQ(trials.size(), 1u);
  const FaithfulnessTrial left =
      faithfulness_trial(explainer, in, map_where(8, 8, [](int x) { return x < 4; }), 0, fo);
  EXPECT_NEAR(trials[0].deletion_auc, left.deletion_auc, 1e-6);
  EXPECT_NEAR(trials[0].insertion_auc, left.insertion_auc, 1e-6);
  EXPECT_THROW(faithfulness_trials(explainer, ex, in, fo, {1}), Error);  // no map of class 1
}

}  // namespace
}  // namespace camkit
