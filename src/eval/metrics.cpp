// Localisation and classification metrics of camkit eval (definitions: docs/eval.md).
#include <algorithm>
#include <cmath>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

double area(const Box& b) {
  return std::max(0.0, b.x1 - b.x0) * std::max(0.0, b.y1 - b.y0);
}

double volume(const Box& b) {
  return area(b) * std::max(0.0, b.z1 - b.z0);
}

// The IoU of a trial's box with its truth: 2-D, or 3-D for volumes.
double trial_iou(const Box& box, const ClassTrial& t) {
  return t.volume ? best_iou_3d(box, t.truth) : best_iou(box, t.truth);
}

bool trial_hit(const ClassTrial& t, double tolerance) {
  if (!t.volume) return pointing_hit(t.peak_x, t.peak_y, t.truth, tolerance);
  // Masks are pointed at themselves, not at their bounding boxes (which `truth` holds too).
  std::vector<Box> boxes(t.truth.begin(), t.truth.end() - static_cast<long>(t.masks.size()));
  if (pointing_hit_3d(t.peak_z, t.peak_y, t.peak_x, boxes, tolerance)) return true;
  for (const auto& m : t.masks)
    if (m && pointing_hit_mask(t.peak_z, t.peak_y, t.peak_x, *m, tolerance)) return true;
  return false;
}

Rate rate(double numerator, int denominator) {
  if (denominator <= 0) return std::nullopt;
  return numerator / denominator;
}

bool contains(const std::vector<int>& v, int c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}

// First and last pixel index whose centre lies in [lo, hi).
std::pair<long, long> covered_pixels(double lo, double hi) {
  return {static_cast<long>(std::ceil(lo - 0.5)), static_cast<long>(std::ceil(hi - 0.5)) - 1};
}

}  // namespace

double box_iou(const Box& a, const Box& b) {
  const double iw = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  const double ih = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  if (iw <= 0 || ih <= 0) return 0;
  const double inter = iw * ih;
  const double uni = area(a) + area(b) - inter;
  return uni > 0 ? inter / uni : 0;
}

double best_iou(const Box& box, const std::vector<Box>& truth) {
  double best = 0;
  for (const Box& t : truth) best = std::max(best, box_iou(box, t));
  return best;
}

bool pointing_hit(double peak_x, double peak_y, const std::vector<Box>& truth, double tolerance) {
  const long px = static_cast<long>(std::floor(peak_x));
  const long py = static_cast<long>(std::floor(peak_y));
  for (const Box& b : truth) {
    const auto [x0, x1] = covered_pixels(b.x0, b.x1);
    const auto [y0, y1] = covered_pixels(b.y0, b.y1);
    if (x0 > x1 || y0 > y1) continue;  // covers no pixel centre
    const double dx = static_cast<double>(std::max({x0 - px, 0L, px - x1}));
    const double dy = static_cast<double>(std::max({y0 - py, 0L, py - y1}));
    // TorchRay accepts distance^2 < tolerance^2; the peak's own pixel always counts, so a
    // tolerance of 0 means "inside the box".
    if ((dx == 0 && dy == 0) || dx * dx + dy * dy < tolerance * tolerance) return true;
  }
  return false;
}

double box_iou_3d(const Box& a, const Box& b) {
  const double iz = std::min(a.z1, b.z1) - std::max(a.z0, b.z0);
  const double iy = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  const double ix = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  if (iz <= 0 || iy <= 0 || ix <= 0) return 0;
  const double inter = iz * iy * ix;
  const double uni = volume(a) + volume(b) - inter;
  return uni > 0 ? inter / uni : 0;
}

double best_iou_3d(const Box& box, const std::vector<Box>& truth) {
  double best = 0;
  for (const Box& t : truth) best = std::max(best, box_iou_3d(box, t));
  return best;
}

bool pointing_hit_3d(double peak_z, double peak_y, double peak_x, const std::vector<Box>& truth,
                     double tolerance) {
  const long pz = static_cast<long>(std::floor(peak_z));
  const long py = static_cast<long>(std::floor(peak_y));
  const long px = static_cast<long>(std::floor(peak_x));
  for (const Box& b : truth) {
    const auto [z0, z1] = covered_pixels(b.z0, b.z1);
    const auto [y0, y1] = covered_pixels(b.y0, b.y1);
    const auto [x0, x1] = covered_pixels(b.x0, b.x1);
    if (z0 > z1 || y0 > y1 || x0 > x1) continue;  // covers no voxel centre
    const double dz = static_cast<double>(std::max({z0 - pz, 0L, pz - z1}));
    const double dy = static_cast<double>(std::max({y0 - py, 0L, py - y1}));
    const double dx = static_cast<double>(std::max({x0 - px, 0L, px - x1}));
    if ((dz == 0 && dy == 0 && dx == 0) || dz * dz + dy * dy + dx * dx < tolerance * tolerance)
      return true;
  }
  return false;
}

std::optional<Box> VoxelMask::bounds() const {
  int lo[3] = {depth, height, width}, hi[3] = {-1, -1, -1};
  std::size_t i = 0;
  for (int d = 0; d < depth; ++d)
    for (int h = 0; h < height; ++h)
      for (int w = 0; w < width; ++w, ++i) {
        if (!on[i]) continue;
        const int at[3] = {d, h, w};
        for (int k = 0; k < 3; ++k) lo[k] = std::min(lo[k], at[k]), hi[k] = std::max(hi[k], at[k]);
      }
  if (hi[0] < 0) return std::nullopt;
  Box b;
  b.z0 = lo[0], b.y0 = lo[1], b.x0 = lo[2];
  b.z1 = hi[0] + 1, b.y1 = hi[1] + 1, b.x1 = hi[2] + 1;
  return b;
}

bool pointing_hit_mask(double peak_z, double peak_y, double peak_x, const VoxelMask& mask,
                       double tolerance) {
  const long p[3] = {static_cast<long>(std::floor(peak_z)), static_cast<long>(std::floor(peak_y)),
                     static_cast<long>(std::floor(peak_x))};
  const long n[3] = {mask.depth, mask.height, mask.width};
  // Only voxels strictly closer than the tolerance count (the peak's own voxel always does):
  // those lie in the cube of half-side ceil(tolerance) - 1 around it, clipped to the volume.
  const long r = std::max(0L, static_cast<long>(std::ceil(tolerance)) - 1);
  long lo[3], hi[3];
  for (int k = 0; k < 3; ++k) lo[k] = std::max(0L, p[k] - r), hi[k] = std::min(n[k] - 1, p[k] + r);
  for (long d = lo[0]; d <= hi[0]; ++d)
    for (long h = lo[1]; h <= hi[1]; ++h)
      for (long w = lo[2]; w <= hi[2]; ++w) {
        const double dd = static_cast<double>(d - p[0]), dh = static_cast<double>(h - p[1]),
                     dw = static_cast<double>(w - p[2]);
        const bool own = dd == 0 && dh == 0 && dw == 0;
        if ((own || dd * dd + dh * dh + dw * dw < tolerance * tolerance) &&
            mask.on[(static_cast<std::size_t>(d) * mask.height + static_cast<std::size_t>(h)) *
                        mask.width +
                    static_cast<std::size_t>(w)])
          return true;
      }
  return false;
}

Evaluation::Evaluation(EvalOptions options) : options_(std::move(options)) {
  if (options_.thresholds.empty())
    throw Error(ErrorCode::usage, "eval: at least one box threshold is needed");
  for (float t : options_.thresholds)
    if (!(t >= 0 && t <= 1)) throw Error(ErrorCode::usage, "box thresholds must be in [0, 1]");
  if (options_.top_k < 1) throw Error(ErrorCode::usage, "top-k must be at least 1");
  if (!(options_.pointing_tolerance >= 0))
    throw Error(ErrorCode::usage, "the pointing tolerance must be >= 0");
  if (!(options_.iou_threshold > 0 && options_.iou_threshold <= 1))
    throw Error(ErrorCode::usage, "the IoU threshold must be in (0, 1]");
  sums_.options = options_;
  for (float t : options_.thresholds) {
    ThresholdMetrics row;
    row.threshold = t;
    sums_.rows.push_back(row);
  }
}

void Evaluation::add(const ImageRecord& r) {
  const size_t n = options_.thresholds.size();
  for (const ClassTrial& trial : r.trials) {
    if (trial.boxes.size() != n)
      throw Error(ErrorCode::usage, "eval: a trial needs one box per threshold");
    if (trial.masks.size() > trial.truth.size())
      throw Error(ErrorCode::usage, "eval: a trial's masks need their bounding boxes in truth");
  }
  const size_t k = std::min(r.predicted.size(), static_cast<size_t>(options_.top_k));
  const bool top1_right = !r.predicted.empty() && contains(r.labels, r.predicted[0]);
  bool topk_right = false;
  for (size_t j = 0; j < k; ++j) topk_right = topk_right || contains(r.labels, r.predicted[j]);
  ++sums_.images;
  sums_.top1_cls_correct += top1_right;
  sums_.topk_cls_correct += topk_right;
  if (!r.scores.empty()) add_multilabel(r);
  if (r.trials.empty()) return;
  ++sums_.loc_images;

  auto trial_of = [&](int c) -> const ClassTrial* {
    for (const ClassTrial& t : r.trials)
      if (t.class_index == c) return &t;
    return nullptr;
  };
  auto localised = [&](const ClassTrial* t, size_t i) {
    return t && t->boxes[i] && trial_iou(*t->boxes[i], *t) >= options_.iou_threshold;
  };
  for (size_t i = 0; i < n; ++i) {
    ThresholdMetrics& row = sums_.rows[i];
    bool topk_loc = false;
    for (size_t j = 0; j < k; ++j)
      if (contains(r.labels, r.predicted[j]) && localised(trial_of(r.predicted[j]), i)) {
        topk_loc = true;
        if (j == 0) ++row.top1_loc_correct;
        break;
      }
    row.topk_loc_correct += topk_loc;
    for (const ClassTrial& t : r.trials) {
      row.gt_known_correct += localised(&t, i);
      if (t.boxes[i]) row.iou_sum += trial_iou(*t.boxes[i], t);
    }
  }
  for (const ClassTrial& t : r.trials) {
    const bool hit = trial_hit(t, options_.pointing_tolerance);
    ++sums_.trials;
    sums_.pointing_hits += hit;
    auto& [hits, trials] = pointing_by_class_[t.class_index];
    hits += hit;
    ++trials;
  }
}

Rate auroc(std::vector<std::pair<float, bool>> scored) {
  // Mann-Whitney: the ranks of the positives among all scores (tied scores share their mean
  // rank), U = sum of positive ranks - P(P+1)/2, AUROC = U / (P N).
  std::sort(scored.begin(), scored.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  double rank_sum = 0;
  size_t positives = 0;
  for (size_t i = 0; i < scored.size();) {
    size_t j = i;
    while (j < scored.size() && scored[j].first == scored[i].first) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t t = i; t < j; ++t)
      if (scored[t].second) rank_sum += mean_rank, ++positives;
    i = j;
  }
  const size_t negatives = scored.size() - positives;
  if (positives == 0 || negatives == 0) return std::nullopt;
  const double p = static_cast<double>(positives);
  return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

void Evaluation::add_multilabel(const ImageRecord& r) {
  if (scored_.size() < r.scores.size()) scored_.resize(r.scores.size());
  for (size_t c = 0; c < r.scores.size(); ++c)
    scored_[c].emplace_back(r.scores[c], contains(r.labels, static_cast<int>(c)));
  int both = 0;
  for (int c : r.positives) both += contains(r.labels, c);
  const size_t total = r.positives.size() + r.labels.size();
  f1_sum_ += total == 0 ? 1.0 : 2.0 * both / static_cast<double>(total);
  exact_ +=
      both == static_cast<int>(r.positives.size()) && both == static_cast<int>(r.labels.size());
  ++multilabel_images_;
}

EvalReport Evaluation::report() const {
  EvalReport r = sums_;
  if (multilabel_images_ > 0) {
    MultiLabelMetrics m;
    m.images = multilabel_images_;
    double sum = 0;
    for (const auto& s : scored_) {
      m.class_auroc.push_back(auroc(s));
      if (m.class_auroc.back()) sum += *m.class_auroc.back(), ++m.auroc_classes;
    }
    m.mean_auroc = rate(sum, m.auroc_classes);
    m.example_f1 = rate(f1_sum_, multilabel_images_);
    m.exact_match = rate(exact_, multilabel_images_);
    r.multilabel = m;
  }
  r.top1_cls = rate(r.top1_cls_correct, r.images);
  r.topk_cls = rate(r.topk_cls_correct, r.images);
  r.pointing_overall = rate(r.pointing_hits, r.trials);
  double class_sum = 0;
  for (const auto& entry : pointing_by_class_)
    class_sum += static_cast<double>(entry.second.first) / entry.second.second;
  r.pointing_classes = static_cast<int>(pointing_by_class_.size());
  r.pointing = rate(class_sum, r.pointing_classes);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    ThresholdMetrics& row = r.rows[i];
    row.top1_loc = rate(row.top1_loc_correct, r.loc_images);
    row.topk_loc = rate(row.topk_loc_correct, r.loc_images);
    row.gt_known_loc = rate(row.gt_known_correct, r.trials);
    row.mean_iou = rate(row.iou_sum, r.trials);
    if (r.trials == 0) continue;
    if (!r.best) {
      r.best = i;
      continue;
    }
    const ThresholdMetrics& b = r.rows[*r.best];
    if (row.gt_known_correct > b.gt_known_correct ||
        (row.gt_known_correct == b.gt_known_correct && row.iou_sum > b.iou_sum))
      r.best = i;
  }
  return r;
}

}  // namespace camkit
