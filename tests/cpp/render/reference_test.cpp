// Render vs. references made by PyTorch (tests/python/fixtures_render.py): bilinear resizes,
// the display-map pipeline, and (when matplotlib was importable there) colormap tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "camkit/render.hpp"

namespace {

const std::string kDir = std::string(CAMKIT_FIXTURES) + "/render/";

// Just enough of the .npy format for the fixtures: version 1.x, C order, '<f4' or '|u1'.
struct Npy {
  std::string descr;
  std::vector<int> shape;
  std::vector<char> bytes;
};

Npy read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": missing (did the fx_render fixture run?)");
  std::vector<char> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() < 10 || std::memcmp(all.data(), "\x93NUMPY", 6) != 0 || all[6] != 1) {
    throw std::runtime_error(path + ": not a version 1 .npy file");
  }
  const std::size_t header_len =
      static_cast<unsigned char>(all[8]) |
      (static_cast<std::size_t>(static_cast<unsigned char>(all[9])) << 8);
  const std::string header(all.data() + 10, header_len);
  Npy npy;
  const auto d = header.find("'descr': '") + 10;
  npy.descr = header.substr(d, header.find('\'', d) - d);
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path + ": Fortran order");
  }
  const auto s = header.find('(', header.find("'shape'")) + 1;
  std::stringstream dims(header.substr(s, header.find(')', s) - s));
  for (std::string item; std::getline(dims, item, ',');) {
    if (item.find_first_not_of(' ') != std::string::npos) npy.shape.push_back(std::stoi(item));
  }
  npy.bytes.assign(all.begin() + 10 + header_len, all.end());
  return npy;
}

camkit::Map read_map(const std::string& path) {
  const Npy npy = read_npy(path);
  if (npy.descr != "<f4" || npy.shape.size() != 2) throw std::runtime_error(path + ": not 2-D f4");
  camkit::Map map;
  map.height = npy.shape[0];
  map.width = npy.shape[1];
  map.data.resize(static_cast<std::size_t>(map.height) * map.width);
  if (npy.bytes.size() != map.data.size() * 4) throw std::runtime_error(path + ": truncated");
  std::memcpy(map.data.data(), npy.bytes.data(), npy.bytes.size());
  return map;
}

float max_abs_error(const camkit::Map& got, const camkit::Map& want) {
  EXPECT_EQ(got.height, want.height);
  EXPECT_EQ(got.width, want.width);
  if (got.data.size() != want.data.size()) return INFINITY;
  float worst = 0.0f;
  for (std::size_t i = 0; i < got.data.size(); ++i) {
    if (std::isnan(got.data[i])) return INFINITY;
    worst = std::max(worst, std::abs(got.data[i] - want.data[i]));
  }
  return worst;
}

struct Case {
  std::string name;
  int height, width;
  std::string suffix() const {
    return name + "_" + std::to_string(height) + "x" + std::to_string(width) + ".npy";
  }
};

std::vector<Case> cases() {
  std::ifstream in(kDir + "cases.txt");
  std::vector<Case> all;
  for (Case c; in >> c.name >> c.height >> c.width;) all.push_back(c);
  return all;
}

TEST(RenderReference, UpsampleMatchesTorchInterpolate) {
  const std::vector<Case> all = cases();
  ASSERT_GE(all.size(), 20u) << "fixtures missing in " << kDir;
  float worst = 0.0f;
  for (const Case& c : all) {
    SCOPED_TRACE(c.suffix());
    const camkit::Map raw = read_map(kDir + "map_" + c.name + ".npy");
    const float err = max_abs_error(camkit::upsample_bilinear(raw, c.height, c.width),
                                    read_map(kDir + "interp_" + c.suffix()));
    EXPECT_LE(err, 1e-5f);
    worst = std::max(worst, err);
  }
  std::cout << "upsample_bilinear: max abs error vs torch " << worst << "\n";
}

TEST(RenderReference, DisplayMapMatchesTorchPipeline) {
  float worst = 0.0f;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.suffix());
    const camkit::Map raw = read_map(kDir + "map_" + c.name + ".npy");
    const camkit::Map disp = camkit::display_map(raw, c.height, c.width, /*relu=*/true);
    const float err = max_abs_error(disp, read_map(kDir + "display_" + c.suffix()));
    EXPECT_LE(err, 1e-5f);
    worst = std::max(worst, err);
    for (float v : disp.data) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  }
  std::cout << "display_map: max abs error vs torch " << worst << "\n";
}

// The plain implementation against OpenCV's (cv::resize INTER_LINEAR on CV_32F).
TEST(RenderReference, UpsampleMatchesOpenCvResize) {
  float worst = 0.0f;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.suffix());
    const camkit::Map raw = read_map(kDir + "map_" + c.name + ".npy");
    cv::Mat src(raw.height, raw.width, CV_32F, const_cast<float*>(raw.data.data()));
    cv::Mat dst;
    cv::resize(src, dst, cv::Size(c.width, c.height), 0, 0, cv::INTER_LINEAR);
    camkit::Map want{c.height, c.width, std::vector<float>(dst.begin<float>(), dst.end<float>())};
    const float err = max_abs_error(camkit::upsample_bilinear(raw, c.height, c.width), want);
    EXPECT_LE(err, 1e-5f);
    worst = std::max(worst, err);
  }
  std::cout << "upsample_bilinear: max abs error vs cv::resize " << worst << "\n";
}

TEST(RenderReference, ColormapsMatchMatplotlib) {
  int compared = 0;
  for (const char* name : {"jet", "turbo", "inferno", "viridis", "bone", "gray"}) {
    std::ifstream probe(kDir + "lut_" + name + ".npy");
    if (!probe) continue;
    const Npy npy = read_npy(kDir + "lut_" + name + ".npy");
    ASSERT_EQ(npy.descr, "|u1");
    ASSERT_EQ(npy.bytes.size(), 768u);
    const camkit::Colormap map = *camkit::parse_colormap(name);
    for (int i = 0; i < 256; ++i) {
      std::uint8_t rgb[3];
      camkit::colormap_rgb(map, i / 255.0f, rgb);
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(rgb[c], static_cast<std::uint8_t>(npy.bytes[3 * i + c]))
            << name << "[" << i << "]";
      }
    }
    ++compared;
  }
  if (compared == 0) GTEST_SKIP() << "matplotlib was not importable when the fixtures were made";
}

}  // namespace
