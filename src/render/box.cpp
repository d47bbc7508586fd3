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

namespace {

// Connected components of the pixels at or above `cut`: 8-connected within a plane and
// 26-connected between planes (the 3x3x3 neighbourhood). Labels are given in raster order of
// each component's first pixel, (z, y, x), as OpenCV's connectedComponents numbers them in 2-D.
struct Component {
  std::size_t area = 0;
  float top = -std::numeric_limits<float>::infinity();  // highest value inside
  int x0, y0, z0, x1, y1, z1;                           // inclusive pixel bounds
};

std::vector<Component> components(const Map& m, float cut) {
  const int d = m.depth, h = m.height, w = m.width;
  const std::size_t n = m.data.size();
  std::vector<int> label(n, -1);
  std::vector<Component> out;
  std::vector<std::size_t> stack;
  for (std::size_t start = 0; start < n; ++start) {
    if (label[start] >= 0 || !(m.data[start] >= cut)) continue;
    const int id = static_cast<int>(out.size());
    Component c;
    c.x0 = c.y0 = c.z0 = std::numeric_limits<int>::max();
    c.x1 = c.y1 = c.z1 = -1;
    label[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const std::size_t i = stack.back();
      stack.pop_back();
      const int x = static_cast<int>(i % w), y = static_cast<int>(i / w % h),
                z = static_cast<int>(i / (static_cast<std::size_t>(w) * h));
      ++c.area;
      c.top = std::max(c.top, m.data[i]);
      c.x0 = std::min(c.x0, x), c.x1 = std::max(c.x1, x);
      c.y0 = std::min(c.y0, y), c.y1 = std::max(c.y1, y);
      c.z0 = std::min(c.z0, z), c.z1 = std::max(c.z1, z);
      for (int dz = -1; dz <= 1; ++dz) {
        const int zz = z + dz;
        if (zz < 0 || zz >= d) continue;
        for (int dy = -1; dy <= 1; ++dy) {
          const int yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (int dx = -1; dx <= 1; ++dx) {
            const int xx = x + dx;
            if (xx < 0 || xx >= w) continue;
            const std::size_t j = (static_cast<std::size_t>(zz) * h + yy) * w + xx;
            if (label[j] >= 0 || !(m.data[j] >= cut)) continue;
            label[j] = id;
            stack.push_back(j);
          }
        }
      }
    }
    out.push_back(c);
  }
  return out;
}

// A 2-D map: OpenCV's 8-connected components, whose numbering breaks the last ties.
std::optional<Box> box_2d(const Map& display, float cut) {
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

}  // namespace

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

  if (display.depth == 1) return box_2d(display, threshold * peak);
  const std::vector<Component> found = components(display, threshold * peak);
  if (found.empty()) return std::nullopt;  // unreachable: the peak pixel passes the threshold
  std::size_t best = 0;
  for (std::size_t i = 1; i < found.size(); ++i) {
    const Component& c = found[i];
    const Component& b = found[best];
    if (c.area > b.area || (c.area == b.area && c.top > b.top)) best = i;
  }
  const Component& c = found[best];
  Box box;
  box.x0 = c.x0;
  box.y0 = c.y0;
  box.z0 = c.z0;
  box.x1 = c.x1 + 1;
  box.y1 = c.y1 + 1;
  box.z1 = c.z1 + 1;
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
