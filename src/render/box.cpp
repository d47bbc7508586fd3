// The CAM-paper box (largest thresholded component) and drawing boxes on pictures.
#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/render.hpp"
#include "render/detail.hpp"

namespace camkit {

std::optional<Box> largest_component_box(const Map& display, float threshold) {
  render_detail::check_map(display, "largest_component_box");
  if (!(threshold >= 0.0f && threshold <= 1.0f)) {
    throw Error(ErrorCode::usage,
                "box threshold must be in [0, 1], got " + std::to_string(threshold));
  }
  if (display.data.empty()) return std::nullopt;

  float lo = 0.0f;
  float peak = 0.0f;
  render_detail::finite_range(display.data.data(), display.data.size(), 1, lo, peak);
  if (!(lo <= peak && peak > 0.0f)) return std::nullopt;

  const float cut = threshold * peak;
  cv::Mat mask(display.height, display.width, CV_8U);
  for (int y = 0; y < display.height; ++y) {
    const float* in = display.data.data() + static_cast<std::size_t>(y) * display.width;
    auto* row = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < display.width; ++x) row[x] = in[x] >= cut ? 1 : 0;
  }
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);

  // Highest value inside each component (label 0 is the background), to break area ties.
  std::vector<float> top(count, -std::numeric_limits<float>::infinity());
  for (int y = 0; y < display.height; ++y) {
    const float* in = display.data.data() + static_cast<std::size_t>(y) * display.width;
    const int* row = labels.ptr<int>(y);
    for (int x = 0; x < display.width; ++x) {
      if (row[x] > 0) top[row[x]] = std::max(top[row[x]], in[x]);
    }
  }
  int best = 0;
  for (int label = 1; label < count; ++label) {
    if (best == 0) {
      best = label;
      continue;
    }
    const int area = stats.at<int>(label, cv::CC_STAT_AREA);
    const int best_area = stats.at<int>(best, cv::CC_STAT_AREA);
    if (area > best_area || (area == best_area && top[label] > top[best])) best = label;
  }
  if (best == 0) return std::nullopt;  // unreachable: the peak pixel passes the threshold

  Box box;
  box.x0 = stats.at<int>(best, cv::CC_STAT_LEFT);
  box.y0 = stats.at<int>(best, cv::CC_STAT_TOP);
  box.x1 = box.x0 + stats.at<int>(best, cv::CC_STAT_WIDTH);
  box.y1 = box.y0 + stats.at<int>(best, cv::CC_STAT_HEIGHT);
  return box;
}

namespace {

// Nearest pixel edge, saturated so that huge coordinates stay representable.
int edge(double v) {
  return static_cast<int>(std::floor(std::clamp(v, -1e9, 1e9) + 0.5));
}

void fill(Rgb8& picture, int x0, int x1, int y0, int y1, const std::uint8_t rgb[3]) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, picture.width);
  y1 = std::min(y1, picture.height);
  for (int y = y0; y < y1; ++y) {
    std::uint8_t* p = picture.data.data() + (static_cast<std::size_t>(y) * picture.width + x0) * 3;
    for (int x = x0; x < x1; ++x, p += 3) std::copy(rgb, rgb + 3, p);
  }
}

}  // namespace

void draw_box(Rgb8& picture, const Box& box, const std::uint8_t rgb[3], int thickness) {
  if (picture.height < 0 || picture.width < 0 ||
      picture.data.size() != static_cast<std::size_t>(picture.height) * picture.width * 3) {
    throw Error(ErrorCode::usage, "draw_box: picture data size does not match its shape");
  }
  if (thickness < 1) {
    throw Error(ErrorCode::usage,
                "box thickness must be at least 1, got " + std::to_string(thickness));
  }
  if (std::isnan(box.x0) || std::isnan(box.x1) || std::isnan(box.y0) || std::isnan(box.y1)) {
    throw Error(ErrorCode::usage, "draw_box: box has NaN coordinates");
  }
  // Edges snap to the nearest pixel edge; a box thinner than a pixel still covers one.
  const int x0 = edge(std::min(box.x0, box.x1));
  const int y0 = edge(std::min(box.y0, box.y1));
  const int x1 = std::max(edge(std::max(box.x0, box.x1)), x0 + 1);
  const int y1 = std::max(edge(std::max(box.y0, box.y1)), y0 + 1);
  // The outline lies inside the box, so a box covering the whole picture stays visible.
  fill(picture, x0, std::min(x0 + thickness, x1), y0, y1, rgb);  // left
  fill(picture, std::max(x1 - thickness, x0), x1, y0, y1, rgb);  // right
  fill(picture, x0, x1, y0, std::min(y0 + thickness, y1), rgb);  // top
  fill(picture, x0, x1, std::max(y1 - thickness, y0), y1, rgb);  // bottom
}

}  // namespace camkit
