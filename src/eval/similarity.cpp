// Map similarities of the sanity checks: Spearman, SSIM, HOG (definitions: docs/eval.md,
// "Sanity checks"; references: tests/python/fixtures_faith.py, scipy and skimage).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "camkit/error.hpp"
#include "camkit/sanity.hpp"

namespace camkit {
namespace {

void check_same(const Map& a, const Map& b, const char* what) {
  if (a.height != b.height || a.width != b.width || a.depth != b.depth ||
      a.data.size() != b.data.size())
    throw Error(ErrorCode::usage, std::string(what) + ": maps of different sizes");
}

// Ranks 1..n, ties averaged.
std::vector<double> ranks(const std::vector<float>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t i, size_t j) { return v[i] < v[j]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double mean = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = mean;
    i = j + 1;
  }
  return r;
}

// Pearson's correlation; 0 when either side has no variance.
double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  if (a.empty()) return 0;
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (!(saa > 0) || !(sbb > 0)) return 0;
  return sab / std::sqrt(saa * sbb);
}

cv::Mat as_mat(const Map& m) {
  cv::Mat out(m.height, m.width, CV_64F);
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) out.at<double>(y, x) = m.at(y, x);
  return out;
}

}  // namespace

double spearman_correlation(const Map& a, const Map& b) {
  check_same(a, b, "spearman");
  return pearson(ranks(a.data), ranks(b.data));
}

double ssim(const Map& a, const Map& b) {
  check_same(a, b, "ssim");
  if (a.data.empty()) throw Error(ErrorCode::usage, "ssim: empty maps");
  constexpr double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  const cv::Mat x = as_mat(a), y = as_mat(b);
  // scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5): radius 5, mode "reflect"
  // (d c b a | a b c d), which is OpenCV's BORDER_REFLECT.
  const cv::Mat k = cv::getGaussianKernel(11, 1.5, CV_64F);
  auto blur = [&](const cv::Mat& m) {
    cv::Mat out;
    cv::sepFilter2D(m, out, CV_64F, k, k, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
    return out;
  };
  const cv::Mat ux = blur(x), uy = blur(y);
  const cv::Mat vx = blur(x.mul(x)) - ux.mul(ux), vy = blur(y.mul(y)) - uy.mul(uy);
  const cv::Mat vxy = blur(x.mul(y)) - ux.mul(uy);
  const int pad = a.height >= 11 && a.width >= 11 ? 5 : 0;
  double sum = 0;
  int n = 0;
  for (int r = pad; r < a.height - pad; ++r)
    for (int c = pad; c < a.width - pad; ++c) {
      const double mx = ux.at<double>(r, c), my = uy.at<double>(r, c);
      sum += (2 * mx * my + c1) * (2 * vxy.at<double>(r, c) + c2) /
             ((mx * mx + my * my + c1) * (vx.at<double>(r, c) + vy.at<double>(r, c) + c2));
      ++n;
    }
  return sum / n;
}

std::vector<double> hog_descriptor(const Map& m) {
  constexpr int cell = 8, bins = 9, block = 3;
  const int h = m.height, w = m.width;
  const int cells_y = h / cell, cells_x = w / cell;
  if (cells_y < block || cells_x < block) return {};
  // skimage's _hog_channel_gradient and hog_histograms: g = v[i+1] - v[i-1], 0 on the border;
  // orientation = degrees(atan2(g_row, g_col)) mod 180; a pixel counts in bin i when
  // 20 i <= orientation < 20 (i + 1); cell (r, c) holds rows r*8 .. r*8+7.
  std::vector<double> hist(static_cast<size_t>(cells_y) * cells_x * bins, 0.0);
  for (int y = 0; y < cells_y * cell; ++y)
    for (int x = 0; x < cells_x * cell; ++x) {
      const double gr = y > 0 && y < h - 1 ? double(m.at(y + 1, x)) - m.at(y - 1, x) : 0.0;
      const double gc = x > 0 && x < w - 1 ? double(m.at(y, x + 1)) - m.at(y, x - 1) : 0.0;
      const double mag = std::hypot(gc, gr);
      double o = std::fmod(std::atan2(gr, gc) * 180 / M_PI, 180.0);
      if (o < 0) o += 180;
      const int bin = std::min(bins - 1, static_cast<int>(o / (180.0 / bins)));
      hist[(static_cast<size_t>(y / cell) * cells_x + static_cast<size_t>(x / cell)) * bins +
           static_cast<size_t>(bin)] += mag;
    }
  for (double& v : hist) v /= cell * cell;
  std::vector<double> out;
  constexpr double eps = 1e-5;
  for (int r = 0; r + block <= cells_y; ++r)
    for (int c = 0; c + block <= cells_x; ++c) {
      std::vector<double> b;
      for (int i = 0; i < block; ++i)
        for (int j = 0; j < block; ++j)
          for (int o = 0; o < bins; ++o)
            b.push_back(
                hist[(static_cast<size_t>(r + i) * cells_x + static_cast<size_t>(c + j)) * bins +
                     static_cast<size_t>(o)]);
      auto normalise = [&] {
        double s = 0;
        for (double v : b) s += v * v;
        const double d = std::sqrt(s + eps * eps);
        for (double& v : b) v /= d;
      };
      normalise();
      for (double& v : b) v = std::min(v, 0.2);
      normalise();
      out.insert(out.end(), b.begin(), b.end());
    }
  return out;
}

std::optional<double> hog_similarity(const Map& a, const Map& b) {
  check_same(a, b, "hog");
  const std::vector<double> ha = hog_descriptor(a), hb = hog_descriptor(b);
  if (ha.empty()) return std::nullopt;
  return pearson(ha, hb);
}

}  // namespace camkit
