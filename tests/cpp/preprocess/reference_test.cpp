// camkit's preprocessing against Pillow 9.4 / torchvision 0.14 outputs made by
// tests/python/fixtures_preprocess.py (see its manifest.json for the cases).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "camkit/preprocess.hpp"

namespace {

const std::string kDir = std::string(CAMKIT_FIXTURES) + "/preprocess/";

// The few .npy forms the references use: little-endian u1, u2, f4 in C order.
struct Npy {
  std::vector<int> shape;
  std::vector<double> values;
};

Npy load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw std::runtime_error(path + ": not .npy");
  }
  const bool v1 = bytes[6] == 1;
  const std::size_t len_size = v1 ? 2 : 4;
  std::size_t header_len = 0;
  for (std::size_t i = 0; i < len_size; ++i) {
    header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  }
  const std::size_t data_at = 8 + len_size + header_len;
  const std::string header = bytes.substr(8 + len_size, header_len);
  auto descr_at = header.find("'descr': '") + 10;
  const std::string descr = header.substr(descr_at, header.find('\'', descr_at) - descr_at);
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path + ": Fortran order");
  }
  Npy npy;
  const std::size_t open = header.find('(', header.find("'shape'"));
  const std::string dims = header.substr(open + 1, header.find(')', open) - open - 1);
  std::size_t count = 1;
  for (std::size_t at = dims.find_first_of("0123456789"); at != std::string::npos;
       at = dims.find_first_of("0123456789", at)) {
    std::size_t used = 0;
    npy.shape.push_back(std::stoi(dims.substr(at), &used));
    count *= npy.shape.back();
    at += used;
  }
  npy.values.resize(count);
  const char* data = bytes.data() + data_at;
  for (std::size_t i = 0; i < count; ++i) {
    if (descr == "|u1") {
      npy.values[i] = static_cast<unsigned char>(data[i]);
    } else if (descr == "<u2") {
      std::uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      npy.values[i] = v;
    } else if (descr == "<f4") {
      float v;
      std::memcpy(&v, data + 4 * i, 4);
      npy.values[i] = v;
    } else {
      throw std::runtime_error(path + ": unexpected dtype " + descr);
    }
  }
  return npy;
}

nlohmann::json manifest() {
  std::ifstream f(kDir + "manifest.json");
  if (!f) throw std::runtime_error("missing " + kDir + "manifest.json");
  return nlohmann::json::parse(f);
}

std::vector<int> hwc_shape(const camkit::Image& im) {
  if (im.channels == 1) return {im.height, im.width};
  return {im.height, im.width, im.channels};
}

TEST(PreprocessPilReference, EightBitResizeMatchesPil) {
  int worst = 0;
  std::size_t mismatched = 0, total = 0;
  const nlohmann::json cases = manifest()["resize"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string input = c["input"];
    SCOPED_TRACE(input + " -> " + std::to_string(c["width"].get<int>()) + "x" +
                 std::to_string(c["height"].get<int>()));
    const camkit::Image out = camkit::resize_bilinear_antialias(camkit::read_input(kDir + input),
                                                                c["height"], c["width"], true);
    const Npy ref = load_npy(kDir + c["ref"].get<std::string>());
    ASSERT_EQ(hwc_shape(out), ref.shape);
    EXPECT_EQ(out.bit_depth, 8);
    int case_worst = 0;
    for (std::size_t i = 0; i < ref.values.size(); ++i) {
      const int diff = std::abs(static_cast<int>(std::lround(out.data[i] * 255.0f)) -
                                static_cast<int>(ref.values[i]));
      case_worst = std::max(case_worst, diff);
      mismatched += diff != 0;
    }
    total += ref.values.size();
    EXPECT_LE(case_worst, 1);
    worst = std::max(worst, case_worst);
  }
  std::cout << "8-bit resize vs PIL: max diff " << worst << " grey levels, " << mismatched << " of "
            << total << " samples differ\n";
  // The port is meant to be bit-exact; allow nothing more than the contract's one level.
  EXPECT_EQ(mismatched, 0u);
}

TEST(PreprocessPilReference, FloatResizeMatchesPilModeF) {
  double worst = 0;
  const nlohmann::json cases = manifest()["resize_f"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string input = c["input"];
    SCOPED_TRACE(input + " -> " + c["ref"].get<std::string>());
    const camkit::Image im = camkit::read_input(kDir + input);
    ASSERT_EQ(im.bit_depth, 0);
    const camkit::Image out = camkit::resize_bilinear_antialias(im, c["height"], c["width"], false);
    const Npy ref = load_npy(kDir + c["ref"].get<std::string>());
    ASSERT_EQ(hwc_shape(out), ref.shape);
    for (std::size_t i = 0; i < ref.values.size(); ++i) {
      const double diff = std::fabs(out.data[i] - ref.values[i]);
      worst = std::max(worst, diff);
      ASSERT_LE(diff, 1e-5 * (1.0 + std::fabs(ref.values[i]))) << "sample " << i;
    }
  }
  std::cout << "float resize vs PIL mode F: max abs diff " << worst << "\n";
}

TEST(PreprocessPilReference, SixteenBitResizeIsPilFloatAndWithinALevelOfModeI) {
  double worst_f = 0, worst_i = 0;
  const nlohmann::json cases = manifest()["resize_i16"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["ref"].get<std::string>());
    const camkit::Image im = camkit::read_input(kDir + c["input"].get<std::string>());
    ASSERT_EQ(im.bit_depth, 16);
    const camkit::Image out = camkit::resize_bilinear_antialias(im, c["height"], c["width"], false);
    EXPECT_EQ(out.bit_depth, 16);
    const Npy ref_i = load_npy(kDir + c["ref"].get<std::string>());
    const Npy ref_f = load_npy(kDir + c["ref_float"].get<std::string>());
    ASSERT_EQ(hwc_shape(out), ref_i.shape);
    ASSERT_EQ(hwc_shape(out), ref_f.shape);
    for (std::size_t i = 0; i < ref_f.values.size(); ++i) {
      worst_f = std::max(worst_f, std::fabs(out.data[i] - ref_f.values[i]));
      // Mode "I" rounds to whole levels after each pass; camkit keeps the fraction.
      worst_i = std::max(worst_i, std::fabs(out.data[i] * 65535.0 - ref_i.values[i]));
    }
  }
  std::cout << "16-bit resize: max diff vs PIL mode F " << worst_f << ", vs mode I " << worst_i
            << " levels\n";
  EXPECT_LE(worst_f, 1e-6);
  // Two roundings of at most half a level each, plus float32's resolution near 1.0.
  EXPECT_LE(worst_i, 1.0 + 0.01);
}

TEST(PreprocessPilReference, GreyConversionMatchesConvertL) {
  camkit::Preprocess grey;
  grey.channels = 1;
  const nlohmann::json cases = manifest()["grey"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string input = c["input"];
    SCOPED_TRACE(input);
    const camkit::Prepared out = camkit::prepare(camkit::read_input(kDir + input), grey, input);
    const Npy ref = load_npy(kDir + c["ref"].get<std::string>());
    ASSERT_EQ((std::vector<int>{out.height, out.width}), ref.shape);
    ASSERT_EQ(out.channels, 1);
    int worst = 0;
    for (std::size_t i = 0; i < ref.values.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<int>(std::lround(out.chw[i] * 255.0f)) -
                                       static_cast<int>(ref.values[i])));
    }
    EXPECT_EQ(worst, 0);
  }
}

TEST(PreprocessTorchvisionReference, PresetPipelinesMatchCompose) {
  double worst = 0;
  const nlohmann::json cases = manifest()["pipeline"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string input = c["input"];
    const std::string preset = c["preset"];
    SCOPED_TRACE(input + " with " + preset);
    const camkit::Preprocess recipe = camkit::find_preset(preset).value();
    const camkit::Prepared out = camkit::prepare(camkit::read_input(kDir + input), recipe, input);
    const Npy ref = load_npy(kDir + c["ref"].get<std::string>());
    ASSERT_EQ((std::vector<int>{out.channels, out.height, out.width}), ref.shape);
    const camkit::InputGeometry& g = out.geometry;
    EXPECT_EQ(g.resized_height, c["resized"][0].get<int>());
    EXPECT_EQ(g.resized_width, c["resized"][1].get<int>());
    EXPECT_EQ(g.crop_y, c["crop"][0].get<int>());
    EXPECT_EQ(g.crop_x, c["crop"][1].get<int>());
    EXPECT_EQ(g.input_height, out.height);
    EXPECT_EQ(g.input_width, out.width);
    const std::size_t plane = static_cast<std::size_t>(out.height) * out.width;
    for (std::size_t i = 0; i < ref.values.size(); ++i) {
      const float sd = recipe.std.size() == 1 ? recipe.std[0] : recipe.std[i / plane];
      const double diff = std::fabs(out.chw[i] - ref.values[i]);
      worst = std::max(worst, diff);
      ASSERT_LE(diff, 1.0 / 255.0 / sd + 1e-6) << "sample " << i;
    }
  }
  std::cout << "preset pipelines vs torchvision: max abs diff " << worst << "\n";
}

}  // namespace
