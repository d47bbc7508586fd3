// The torch-free half of the faithfulness metrics: pixel order, steps, the trapezoid, RISE's
// blur and the perturbed inputs (definitions: docs/eval.md, "Faithfulness").
#include "camkit/faithfulness.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "camkit/error.hpp"

namespace camkit {
namespace {

size_t plane_of(const Prepared& p) {
  return static_cast<size_t>(p.height) * static_cast<size_t>(p.width);
}

}  // namespace

std::vector<int> saliency_order(const Map& display) {
  std::vector<int> order(display.data.size());
  std::iota(order.begin(), order.end(), 0);
  const std::vector<float>& v = display.data;
  // A strict weak order with NaN below everything; stable_sort keeps equal values in index order.
  auto key = [&](int i) { return std::isnan(v[i]) ? -INFINITY : v[i]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
  return order;
}

std::vector<int> step_counts(int pixels, int steps) {
  if (steps < 1) throw Error(ErrorCode::usage, "faithfulness: at least one step is needed");
  if (pixels < 1) throw Error(ErrorCode::usage, "faithfulness: the input has no pixels");
  std::vector<int> out(static_cast<size_t>(steps) + 1);
  for (int s = 0; s <= steps; ++s)
    out[static_cast<size_t>(s)] = static_cast<int>(static_cast<long long>(s) * pixels / steps);
  return out;
}

double trapezoid_auc(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw Error(ErrorCode::usage, "trapezoid: " + std::to_string(x.size()) + " x values and " +
                                      std::to_string(y.size()) + " y values");
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return area;
}

std::vector<double> rise_blur_kernel() {
  // RISE's gkern(klen=11, nsig=5): gaussian_filter(impulse, 5) on an 11 x 11 array. scipy's
  // filter is separable, its 1-D weights are the normalised Gaussian over
  // radius int(truncate * sigma + 0.5) = 20, and mode "reflect" folds the taps that fall off
  // the 11 samples back onto them (d c b a | a b c d | d c b a), so the result is not the
  // plain 11-tap Gaussian (cv::getGaussianKernel(11, 5)).
  constexpr int klen = 11, centre = klen / 2, radius = 20;
  constexpr double sigma = 5;
  std::vector<double> w(2 * radius + 1);
  for (int j = -radius; j <= radius; ++j) w[j + radius] = std::exp(-0.5 * j * j / (sigma * sigma));
  const double sum = std::accumulate(w.begin(), w.end(), 0.0);
  std::vector<double> k(klen, 0.0);
  for (int i = 0; i < klen; ++i)
    for (int j = -radius; j <= radius; ++j) {
      int m = ((i + j) % (2 * klen) + 2 * klen) % (2 * klen);  // reflect, period 2 * klen
      if (m >= klen) m = 2 * klen - 1 - m;
      if (m == centre) k[static_cast<size_t>(i)] += w[j + radius] / sum;
    }
  return k;
}

Prepared rise_blur(const Prepared& input) {
  Prepared out = input;
  const std::vector<double> k = rise_blur_kernel();
  const cv::Mat kernel(static_cast<int>(k.size()), 1, CV_64F, const_cast<double*>(k.data()));
  const size_t plane = plane_of(input);
  for (int c = 0; c < input.channels; ++c) {
    float* src = const_cast<float*>(input.chw.data()) + c * plane;
    const cv::Mat in(input.height, input.width, CV_32F, src);
    cv::Mat dst(input.height, input.width, CV_32F, out.chw.data() + c * plane);
    // RISE: conv2d(x, kern, padding=klen // 2), i.e. zero padding (0 is the mean colour).
    cv::sepFilter2D(in, dst, CV_32F, kernel, kernel, cv::Point(-1, -1), 0, cv::BORDER_CONSTANT);
  }
  return out;
}

void paste_pixels(Prepared& target, const Prepared& source, const std::vector<int>& order, int from,
                  int to) {
  if (target.channels != source.channels || target.height != source.height ||
      target.width != source.width)
    throw Error(ErrorCode::usage, "paste_pixels: inputs of different sizes");
  const size_t plane = plane_of(target);
  for (int i = from; i < to; ++i) {
    const size_t p = static_cast<size_t>(order[static_cast<size_t>(i)]);
    for (int c = 0; c < target.channels; ++c) target.chw[c * plane + p] = source.chw[c * plane + p];
  }
}

Prepared masked_input(const Prepared& input, const Map& display) {
  if (display.height != input.height || display.width != input.width)
    throw Error(ErrorCode::usage, "faithfulness: a " + std::to_string(display.width) + "x" +
                                      std::to_string(display.height) + " map for a " +
                                      std::to_string(input.width) + "x" +
                                      std::to_string(input.height) + " input");
  Prepared out = input;
  const size_t plane = plane_of(input);
  for (int c = 0; c < input.channels; ++c)
    for (size_t p = 0; p < plane; ++p) out.chw[c * plane + p] *= display.data[p];
  return out;
}

void FaithfulnessSummary::add(const FaithfulnessTrial& t) {
  ++trials_;
  increases_ += t.increase;
  deletion_ += t.deletion_auc;
  insertion_ += t.insertion_auc;
  drop_ += t.drop;
  if (morf_.empty()) {
    morf_.assign(t.road_morf.size(), 0.0);
    lerf_ = morf_drop_ = lerf_drop_ = morf_;
  }
  if (t.road_morf.size() != morf_.size() || t.road_lerf.size() != morf_.size())
    throw Error(ErrorCode::usage, "faithfulness: trials with different ROAD percentiles");
  for (size_t i = 0; i < morf_.size(); ++i) {
    morf_[i] += t.road_morf[i];
    lerf_[i] += t.road_lerf[i];
    morf_drop_[i] += t.full_score - t.road_morf[i];
    lerf_drop_[i] += t.full_score - t.road_lerf[i];
  }
}

FaithfulnessReport FaithfulnessSummary::report(const FaithfulnessOptions& options) const {
  FaithfulnessReport r;
  r.options = options;
  r.trials = trials_;
  r.increases = increases_;
  if (trials_ == 0) return r;
  r.deletion_auc = deletion_ / trials_;
  r.insertion_auc = insertion_ / trials_;
  r.average_drop = drop_ / trials_;
  r.increase_in_confidence = static_cast<double>(increases_) / trials_;
  if (morf_.empty()) return r;
  auto mean = [this](const std::vector<double>& sums) {
    std::vector<double> out;
    for (double v : sums) out.push_back(v / trials_);
    return out;
  };
  r.road_morf = mean(morf_);
  r.road_lerf = mean(lerf_);
  r.road_morf_drop = mean(morf_drop_);
  r.road_lerf_drop = mean(lerf_drop_);
  const double k = static_cast<double>(morf_.size());
  r.road_morf_mean = std::accumulate(r.road_morf.begin(), r.road_morf.end(), 0.0) / k;
  r.road_lerf_mean = std::accumulate(r.road_lerf.begin(), r.road_lerf.end(), 0.0) / k;
  r.road_gap = *r.road_lerf_mean - *r.road_morf_mean;
  return r;
}

}  // namespace camkit
