// IoU, the pointing game, aggregation over hand-made maps and records, the threshold sweep.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

ImageRecord record(std::vector<int> labels, std::vector<int> predicted,
                   std::vector<ClassTrial> trials) {
  ImageRecord r;
  r.labels = std::move(labels);
  r.predicted = std::move(predicted);
  r.trials = std::move(trials);
  return r;
}

// A model input of size h x w cut from an image of size (h * scale) x (w * scale).
Prepared input_of(int h, int w, int scale = 1) {
  Prepared p;
  p.channels = 3;
  p.height = h;
  p.width = w;
  p.geometry = {h * scale, w * scale, h, w, 0, 0, h, w};
  return p;
}

// A raw map of zeros with `value` over [x0, x1) x [y0, y1).
Map blob(int h, int w, int x0, int y0, int x1, int y1, float value = 1, Map base = {}) {
  if (base.data.empty()) base = {h, w, std::vector<float>(static_cast<size_t>(h) * w, 0.f)};
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) base.data[static_cast<size_t>(y) * w + x] = value;
  return base;
}

Explanation explained(int c, Map raw) {
  Explanation ex;
  Prediction p;
  p.class_index = c;
  p.score = 0.9f;
  ex.predictions.push_back(p);
  ex.maps.push_back({p, std::move(raw)});
  return ex;
}

GroundTruth truth_of(int c, std::vector<Box> boxes) {
  GroundTruth t;
  t.labels = {c};
  for (const Box& b : boxes) t.boxes.push_back({c, b});
  return t;
}

TEST(EvalIou, IdenticalDisjointHalfAndTouching) {
  const Box a{0, 0, 4, 4};
  EXPECT_DOUBLE_EQ(box_iou(a, a), 1.0);
  EXPECT_DOUBLE_EQ(box_iou(a, {10, 10, 12, 12}), 0.0);
  EXPECT_DOUBLE_EQ(box_iou(a, {0, 0, 2, 4}), 0.5);             // half of a, inside it
  EXPECT_DOUBLE_EQ(box_iou(a, {2, 0, 6, 4}), 1.0 / 3.0);       // half of each overlaps
  EXPECT_DOUBLE_EQ(box_iou(a, {4, 0, 8, 4}), 0.0);             // shares the edge x = 4
  EXPECT_DOUBLE_EQ(box_iou(a, {4, 4, 8, 8}), 0.0);             // shares a corner
  EXPECT_DOUBLE_EQ(box_iou({1, 1, 1, 1}, {1, 1, 1, 1}), 0.0);  // empty boxes
  EXPECT_DOUBLE_EQ(best_iou(a, {{10, 10, 12, 12}, {0, 0, 2, 4}}), 0.5);
  EXPECT_DOUBLE_EQ(best_iou(a, {}), 0.0);
}

TEST(EvalPointing, InsideOutsideAndTolerance) {
  const std::vector<Box> gt{{10, 10, 20, 20}};  // pixels 10..19
  EXPECT_TRUE(pointing_hit(10.5, 10.5, gt, 0));
  EXPECT_TRUE(pointing_hit(19.5, 19.5, gt, 0));
  EXPECT_FALSE(pointing_hit(20.5, 15.5, gt, 0));  // pixel 20 is outside
  EXPECT_TRUE(pointing_hit(20.5, 15.5, gt, 15));
  // Pixel 34 is 15 pixels right of pixel 19: TorchRay accepts distance < 15 only.
  EXPECT_TRUE(pointing_hit(33.5, 15.5, gt, 15));
  EXPECT_FALSE(pointing_hit(34.5, 15.5, gt, 15));
  // Diagonal: pixel (30, 30) is (11, 11) away from (19, 19): 15.56 > 15.
  EXPECT_FALSE(pointing_hit(30.5, 30.5, gt, 15));
  EXPECT_TRUE(pointing_hit(29.5, 29.5, gt, 15));  // (10, 10): 14.14
  EXPECT_TRUE(pointing_hit(50.5, 50.5, {{0, 0, 1, 1}, {45, 45, 55, 55}}, 0));
}

TEST(EvalRecord, BlobOnTheBoxLocalisesAndPoints) {
  const Prepared in = input_of(32, 32);
  const Box gt{8, 4, 16, 12};
  const ImageRecord rec =
      eval_record(explained(2, blob(32, 32, 8, 4, 16, 12)), in, truth_of(2, {gt}), {0.2f});
  ASSERT_EQ(rec.trials.size(), 1u);
  ASSERT_TRUE(rec.trials[0].boxes[0]);
  EXPECT_DOUBLE_EQ(box_iou(*rec.trials[0].boxes[0], gt), 1.0);
  EXPECT_DOUBLE_EQ(rec.trials[0].peak_x, 8.5);
  EXPECT_DOUBLE_EQ(rec.trials[0].peak_y, 4.5);
  Evaluation ev({});
  ev.add(rec);
  const EvalReport r = ev.report();
  EXPECT_EQ(r.images, 1);
  EXPECT_EQ(*r.top1_cls, 1.0);
  EXPECT_EQ(*r.rows[0].top1_loc, 1.0);
  EXPECT_EQ(*r.rows[0].gt_known_loc, 1.0);
  EXPECT_DOUBLE_EQ(*r.rows[0].mean_iou, 1.0);
  EXPECT_EQ(*r.pointing, 1.0);
}

TEST(EvalRecord, BoxesAreInImagePixels) {
  // The model input is the image shrunk by 2: the box and peak come back doubled.
  const ImageRecord rec = eval_record(explained(0, blob(16, 16, 2, 4, 6, 8)), input_of(16, 16, 2),
                                      truth_of(0, {{4, 8, 12, 16}}), {0.5f});
  ASSERT_TRUE(rec.trials[0].boxes[0]);
  const Box b = *rec.trials[0].boxes[0];
  EXPECT_EQ(b.x0, 4);
  EXPECT_EQ(b.y0, 8);
  EXPECT_EQ(b.x1, 12);
  EXPECT_EQ(b.y1, 16);
  EXPECT_DOUBLE_EQ(rec.trials[0].peak_x, 5.0);  // input pixel centre 2.5, doubled
}

TEST(EvalRecord, BlobElsewhereIsWrongAndPointingDependsOnTolerance) {
  // Blob at columns 24..27 of row 4..11; the box covers columns 8..15: 9 pixels apart.
  const ImageRecord rec = eval_record(explained(1, blob(32, 32, 24, 4, 28, 12)), input_of(32, 32),
                                      truth_of(1, {{8, 4, 16, 12}}), {0.2f});
  for (double tolerance : {0.0, 5.0, 15.0}) {
    EvalOptions o;
    o.pointing_tolerance = tolerance;
    Evaluation ev(o);
    ev.add(rec);
    const EvalReport r = ev.report();
    EXPECT_EQ(*r.top1_cls, 1.0);
    EXPECT_EQ(*r.rows[0].top1_loc, 0.0);
    EXPECT_EQ(*r.rows[0].gt_known_loc, 0.0);
    EXPECT_DOUBLE_EQ(*r.rows[0].mean_iou, 0.0);
    EXPECT_EQ(*r.pointing, tolerance > 9 ? 1.0 : 0.0) << tolerance;
  }
}

TEST(EvalRecord, FlatMapHasNoBoxAndCountsAsWrong) {
  const ImageRecord rec = eval_record(explained(0, blob(8, 8, 0, 0, 0, 0)), input_of(8, 8),
                                      truth_of(0, {{0, 0, 4, 4}}), {0.2f, 0.5f});
  ASSERT_EQ(rec.trials[0].boxes.size(), 2u);
  EXPECT_FALSE(rec.trials[0].boxes[0]);
  Evaluation ev(EvalOptions{{0.2f, 0.5f}});
  ev.add(rec);
  const EvalReport r = ev.report();
  EXPECT_EQ(*r.rows[1].gt_known_loc, 0.0);
  EXPECT_EQ(*r.rows[1].mean_iou, 0.0);
}

TEST(EvalSweep, PicksTheThresholdWithTheBestGtKnownLocalisation) {
  // A hot core (1.0, 4x4) inside a warm ring (0.5, 16x16 in all); the object is the ring.
  Map m = blob(32, 32, 8, 8, 24, 24, 0.5f);
  m = blob(32, 32, 14, 14, 18, 18, 1.0f, m);
  const ImageRecord rec =
      eval_record(explained(3, m), input_of(32, 32), truth_of(3, {{8, 8, 24, 24}}), {0.8f, 0.2f});
  Evaluation ev(EvalOptions{{0.8f, 0.2f}});
  ev.add(rec);
  const EvalReport r = ev.report();
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_DOUBLE_EQ(*r.rows[0].mean_iou, 16.0 / 256.0);  // core only
  EXPECT_EQ(*r.rows[0].gt_known_loc, 0.0);
  EXPECT_DOUBLE_EQ(*r.rows[1].mean_iou, 1.0);
  EXPECT_EQ(*r.rows[1].gt_known_loc, 1.0);
  ASSERT_TRUE(r.best);
  EXPECT_EQ(*r.best, 1u);
  const nlohmann::json j = nlohmann::json::parse(format_json(r));
  EXPECT_DOUBLE_EQ(j["best_threshold"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(j["thresholds"][0]["threshold"].get<double>(), 0.8);
  const std::string table = format_table(r);
  EXPECT_NE(table.find("best threshold (gt-known-loc): 0.20"), std::string::npos) << table;
}

ClassTrial trial(int c, Box gt, std::optional<Box> box, double px, double py) {
  return {c, {gt}, {box}, px, py};
}

TEST(EvalAggregate, DenominatorsMultiLabelTopKAndPointingMean) {
  const Box g{0, 0, 10, 10}, far{50, 50, 60, 60};
  EvalOptions o;
  o.top_k = 2;
  Evaluation ev(o);
  // 1: right class, right box, peak inside.
  ev.add(record({0}, {0, 1}, {trial(0, g, g, 5, 5)}));
  // 2: wrong top-1, right second guess with a right box; peak outside by far.
  ev.add(record({1}, {0, 1}, {trial(1, g, g, 80, 80)}));
  // 3: two labels; the top-1 is one of them with a right box; the other class's box is wrong.
  ev.add(record({0, 1}, {1, 4}, {trial(0, g, far, 80, 80), trial(1, g, g, 80, 80)}));
  // 4: right class, wrong box.
  ev.add(record({1}, {1, 0}, {trial(1, g, far, 80, 80)}));
  const EvalReport r = ev.report();
  EXPECT_EQ(r.images, 4);
  EXPECT_EQ(r.loc_images, 4);
  EXPECT_EQ(r.trials, 5);
  EXPECT_EQ(r.top1_cls_correct, 3);  // 1, 3, 4
  EXPECT_EQ(r.topk_cls_correct, 4);
  EXPECT_EQ(r.rows[0].top1_loc_correct, 2);  // 1, 3
  EXPECT_EQ(r.rows[0].topk_loc_correct, 3);  // 1, 2, 3
  EXPECT_EQ(r.rows[0].gt_known_correct, 3);  // trials of 1, 2, 3 (class 1)
  EXPECT_DOUBLE_EQ(*r.rows[0].mean_iou, 3.0 / 5.0);
  EXPECT_EQ(r.pointing_hits, 1);
  EXPECT_DOUBLE_EQ(*r.pointing_overall, 1.0 / 5.0);
  EXPECT_EQ(r.pointing_classes, 2);
  EXPECT_DOUBLE_EQ(*r.pointing, (1.0 / 2.0 + 0.0 / 3.0) / 2.0);  // class 0: 1/2, class 1: 0/3
}

TEST(EvalAggregate, BinaryOnlyPositivesWithBoxesLocalise) {
  const Box g{0, 0, 10, 10};
  Evaluation ev({});
  ev.add(record({0}, {0}, {}));                      // true negative
  ev.add(record({0}, {1}, {}));                      // false positive
  ev.add(record({1}, {1}, {trial(1, g, g, 5, 5)}));  // true positive, localised
  ev.add(record({1}, {0}, {trial(1, g, g, 5, 5)}));  // false negative: top-1 loc wrong
  ev.add(record({1}, {1}, {}));                      // positive without boxes
  const EvalReport r = ev.report();
  EXPECT_EQ(r.images, 5);
  EXPECT_EQ(r.top1_cls_correct, 3);
  EXPECT_EQ(r.loc_images, 2);
  EXPECT_EQ(r.trials, 2);
  EXPECT_DOUBLE_EQ(*r.rows[0].top1_loc, 0.5);
  EXPECT_DOUBLE_EQ(*r.rows[0].gt_known_loc, 1.0);
  EXPECT_DOUBLE_EQ(*r.pointing, 1.0);
}

TEST(EvalRecord, BinaryModelsLocalisePositivesWithTheLogitMap) {
  Explanation ex = explained(0, blob(16, 16, 2, 2, 6, 6));
  ex.binary = true;
  ex.predictions[0].score = 0.3f;
  GroundTruth positive = truth_of(1, {{2, 2, 6, 6}});
  ImageRecord rec = eval_record(ex, input_of(16, 16), positive, {0.2f});
  EXPECT_EQ(rec.predicted, std::vector<int>{0});
  ASSERT_EQ(rec.trials.size(), 1u);
  EXPECT_EQ(rec.trials[0].class_index, 1);
  GroundTruth negative = truth_of(0, {{2, 2, 6, 6}});
  EXPECT_TRUE(eval_record(ex, input_of(16, 16), negative, {0.2f}).trials.empty());
}

TEST(EvalAggregate, EmptyReportHasNoRatesAndNoBest) {
  const EvalReport r = Evaluation({}).report();
  EXPECT_FALSE(r.top1_cls);
  EXPECT_FALSE(r.rows[0].gt_known_loc);
  EXPECT_FALSE(r.best);
  const nlohmann::json j = nlohmann::json::parse(format_json(r));
  EXPECT_TRUE(j["best_threshold"].is_null());
  EXPECT_TRUE(j["top1_cls"].is_null());
}

TEST(EvalAggregate, InvalidOptionsAreUsageErrors) {
  auto code = [](EvalOptions o) {
    try {
      Evaluation ev(o);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::input;
  };
  EXPECT_EQ(code(EvalOptions{{}}), ErrorCode::usage);
  EXPECT_EQ(code(EvalOptions{{1.5f}}), ErrorCode::usage);
  EvalOptions o;
  o.top_k = 0;
  EXPECT_EQ(code(o), ErrorCode::usage);
  o = {};
  o.pointing_tolerance = -1;
  EXPECT_EQ(code(o), ErrorCode::usage);
  Evaluation ev(EvalOptions{{0.2f, 0.3f}});
  EXPECT_THROW(ev.add(record({0}, {0}, {trial(0, {0, 0, 1, 1}, std::nullopt, 0, 0)})), Error);
}

}  // namespace
}  // namespace camkit

namespace camkit {
namespace {

// The aggregation part of eval.hpp's usage example, as written there.
TEST(EvalUsage, HeaderExample) {
  camkit::EvalOptions opt;
  opt.thresholds = {0.2f, 0.3f};
  camkit::Evaluation evaluation(opt);
  camkit::ImageRecord rec;
  rec.labels = {2};
  rec.predicted = {2};
  rec.trials.push_back(
      {2, {{10, 10, 20, 20}}, {camkit::Box{10, 10, 20, 20}, std::nullopt}, 15.5, 15.5});
  evaluation.add(rec);
  const EvalReport r = evaluation.report();
  EXPECT_EQ(*r.rows[0].gt_known_loc, 1.0);
  EXPECT_EQ(*r.rows[1].gt_known_loc, 0.0);
  EXPECT_NE(camkit::format_table(r).find("100.00%"), std::string::npos);
}

}  // namespace
}  // namespace camkit

namespace camkit {
namespace {

TEST(EvalAuroc, IsTheFractionOfPairsOrderedRightWithTiesHalf) {
  // Positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.5=0.5) (0.5>0.1).
  const Rate a = auroc({{0.9f, true}, {0.5f, true}, {0.5f, false}, {0.1f, false}});
  ASSERT_TRUE(a);
  EXPECT_DOUBLE_EQ(*a, 3.5 / 4);
  EXPECT_FALSE(auroc({{0.9f, true}, {0.5f, true}}));
  EXPECT_DOUBLE_EQ(*auroc({{0.1f, true}, {0.9f, false}}), 0.0);
}

TEST(EvalAggregate, MultiLabelRecordsGiveAurocF1AndExactMatch) {
  Evaluation ev(EvalOptions{});
  ImageRecord a = record({0, 2}, {0}, {});
  a.scores = {0.9f, 0.2f, 0.7f};
  a.positives = {0, 2};
  ImageRecord b = record({}, {1}, {});
  b.scores = {0.3f, 0.6f, 0.1f};
  b.positives = {1};
  ev.add(a);
  ev.add(b);
  const EvalReport r = ev.report();
  ASSERT_TRUE(r.multilabel);
  EXPECT_EQ(r.multilabel->images, 2);
  EXPECT_DOUBLE_EQ(*r.multilabel->class_auroc[0], 1.0);
  EXPECT_FALSE(r.multilabel->class_auroc[1]);  // no image has finding 1
  EXPECT_DOUBLE_EQ(*r.multilabel->mean_auroc, 1.0);
  EXPECT_DOUBLE_EQ(*r.multilabel->example_f1, 0.5);  // a: F1 1; b: predicted 1, labels none
  EXPECT_DOUBLE_EQ(*r.multilabel->exact_match, 0.5);
}

}  // namespace
}  // namespace camkit
