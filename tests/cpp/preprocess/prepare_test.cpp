// prepare(): geometry, CenterCrop rounding, channel matching, normalisation, presets and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/preprocess.hpp"

namespace {

// A `channels` x `height` x `width` image whose sample (y, x, c) encodes its position.
camkit::Image ramp(int height, int width, int channels, int bit_depth = 8) {
  camkit::Image im;
  im.height = height;
  im.width = width;
  im.channels = channels;
  im.bit_depth = bit_depth;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        im.data.push_back(static_cast<float>((x + 3 * y + 50 * c) % 256) / 255.0f);
      }
    }
  }
  return im;
}

camkit::Preprocess crop_only(int height, int width, int channels = 1) {
  camkit::Preprocess r;
  r.channels = channels;
  r.crop_height = height;
  r.crop_width = width;
  return r;
}

void expect_error(const std::function<void()>& f, camkit::ErrorCode code, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing: " << what;
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(PreprocessPresets, TableHoldsImagenetAndXray) {
  const auto names = camkit::preset_names();
  EXPECT_EQ(names, (std::vector<std::string>{"imagenet", "xray"}));
  for (const auto& n : names) EXPECT_TRUE(camkit::find_preset(n).has_value()) << n;
  EXPECT_FALSE(camkit::find_preset("ImageNet").has_value());
  EXPECT_FALSE(camkit::find_preset("").has_value());

  const camkit::Preprocess in = *camkit::find_preset("imagenet");
  EXPECT_EQ(in.channels, 3);
  EXPECT_EQ(in.resize, 256);
  EXPECT_EQ(in.input_height(), 224);
  EXPECT_EQ(in.input_width(), 224);
  EXPECT_EQ(in.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(in.std, (std::vector<float>{0.229f, 0.224f, 0.225f}));

  const camkit::Preprocess xr = *camkit::find_preset("xray");
  EXPECT_EQ(xr.channels, 1);
  EXPECT_EQ(xr.resize, 0);
  EXPECT_EQ(xr.size_height, 224);
  EXPECT_EQ(xr.size_width, 224);
  EXPECT_EQ(xr.mean, std::vector<float>{0.49f});
  EXPECT_EQ(xr.std, std::vector<float>{0.248f});
}

TEST(PreprocessPrepare, ImagenetGeometryTruncatesTheLongSide) {
  const camkit::Preprocess r = *camkit::find_preset("imagenet");
  // 333 wide, 500 high: int(256 * 500 / 333) = int(384.38...) = 384.
  const camkit::Prepared p = camkit::prepare(ramp(500, 333, 3), r);
  const camkit::InputGeometry& g = p.geometry;
  EXPECT_EQ(g.image_height, 500);
  EXPECT_EQ(g.image_width, 333);
  EXPECT_EQ(g.resized_height, 384);
  EXPECT_EQ(g.resized_width, 256);
  EXPECT_EQ(g.crop_y, 80);
  EXPECT_EQ(g.crop_x, 16);
  EXPECT_EQ(p.channels, 3);
  EXPECT_EQ(p.height, 224);
  EXPECT_EQ(p.width, 224);
  EXPECT_EQ(p.chw.size(), 3u * 224 * 224);
  EXPECT_DOUBLE_EQ(g.to_image_x(0), 16.0 * 333 / 256);
  EXPECT_DOUBLE_EQ(g.to_image_y(224), (224.0 + 80) * 500 / 384);
}

// CenterCrop's int(round(excess / 2.0)) rounds halves to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2,
// 3.5 -> 4. The first sample of the crop shows where it started.
TEST(PreprocessPrepare, CenterCropRoundsHalvesToEven) {
  const int expected[] = {0, 0, 1, 2, 2, 2, 3, 4};  // excess 0..7
  for (int excess = 0; excess < 8; ++excess) {
    const camkit::Image im = ramp(4 + excess, 4 + excess, 1);
    const camkit::Prepared p = camkit::prepare(im, crop_only(4, 4));
    EXPECT_EQ(p.geometry.crop_x, expected[excess]) << "excess " << excess;
    EXPECT_EQ(p.geometry.crop_y, expected[excess]) << "excess " << excess;
    EXPECT_EQ(p.geometry.resized_width, im.width);
    EXPECT_FLOAT_EQ(p.chw[0], im.at(expected[excess], expected[excess], 0));
  }
}

TEST(PreprocessPrepare, ImageAtInputSizeIsNeitherResizedNorCropped) {
  const camkit::Image im = ramp(224, 224, 3);
  const camkit::Preprocess r = *camkit::find_preset("imagenet");
  const camkit::Prepared p = camkit::prepare(im, r);
  EXPECT_EQ(p.geometry.resized_height, 224);
  EXPECT_EQ(p.geometry.resized_width, 224);
  EXPECT_EQ(p.geometry.crop_x, 0);
  EXPECT_EQ(p.geometry.crop_y, 0);
  // Sample (c=1, y=5, x=7), normalised.
  EXPECT_FLOAT_EQ(p.chw[224 * 224 + 5 * 224 + 7], (im.at(5, 7, 1) - 0.456f) / 0.224f);
}

TEST(PreprocessPrepare, ResizeIsSkippedWhenTheShortSideAlreadyMatches) {
  camkit::Preprocess r;
  r.resize = 20;
  const camkit::Image im = ramp(20, 31, 3);
  const camkit::Prepared p = camkit::prepare(im, r);
  EXPECT_EQ(p.geometry.resized_height, 20);
  EXPECT_EQ(p.geometry.resized_width, 31);
  EXPECT_FLOAT_EQ(p.chw[2 * 20 * 31 + 4 * 31 + 30], im.at(4, 30, 2));
}

TEST(PreprocessPrepare, DirectSizeIgnoresAspectAndCrop) {
  const camkit::Prepared p = camkit::prepare(ramp(200, 300, 3), *camkit::find_preset("xray"));
  EXPECT_EQ(p.channels, 1);
  EXPECT_EQ(p.geometry.resized_height, 224);
  EXPECT_EQ(p.geometry.resized_width, 224);
  EXPECT_EQ(p.geometry.crop_x, 0);
  EXPECT_EQ(p.height, 224);
  EXPECT_EQ(p.width, 224);
}

TEST(PreprocessPrepare, GreyIsReplicatedForRgbModels) {
  const camkit::Image im = ramp(3, 5, 1);
  const camkit::Prepared p = camkit::prepare(im, camkit::Preprocess{});
  ASSERT_EQ(p.channels, 3);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 15; ++i) EXPECT_EQ(p.chw[c * 15 + i], im.data[i]);
  }
}

// PIL's convert("L"): (r*19595 + g*38470 + b*7471 + 0x8000) >> 16 on 8-bit levels.
TEST(PreprocessPrepare, RgbBecomesGreyWithPilLuma) {
  camkit::Image im;
  im.height = 1;
  im.width = 5;
  im.channels = 3;
  im.bit_depth = 8;
  for (int v : {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 255, 255, 255}) {
    im.data.push_back(static_cast<float>(v) / 255.0f);
  }
  const camkit::Prepared p = camkit::prepare(im, crop_only(0, 0));
  ASSERT_EQ(p.channels, 1);
  const int expected[] = {76, 150, 29, 18, 255};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(std::lround(p.chw[i] * 255.0f), expected[i]) << i;

  im.bit_depth = 16;  // same weights on 16-bit levels: (65535, 0, 0) -> 19595
  const camkit::Prepared p16 = camkit::prepare(im, crop_only(0, 0));
  EXPECT_EQ(std::lround(p16.chw[0] * 65535.0f), 19595);
}

TEST(PreprocessPrepare, FloatRgbIsNotConvertedToGreyButGreyIsReplicated) {
  camkit::Image im = ramp(4, 4, 3, 0);
  expect_error([&] { camkit::prepare(im, crop_only(0, 0, 1), "scan.npy"); },
               camkit::ErrorCode::input, "scan.npy: has 3 channels, the model takes 1");
  im = ramp(4, 4, 1, 0);
  const camkit::Prepared rgb = camkit::prepare(im, crop_only(0, 0, 3), "scan.npy");
  ASSERT_EQ(rgb.channels, 3);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 16; ++i) EXPECT_EQ(rgb.chw[c * 16 + i], im.data[i]) << c << " " << i;
  im.data[0] = -3.75f;  // float values are kept as stored
  EXPECT_EQ(camkit::prepare(im, crop_only(0, 0, 1)).chw[0], -3.75f);
  camkit::Image two = ramp(4, 4, 2, 8);
  expect_error([&] { camkit::prepare(two, crop_only(0, 0, 3)); }, camkit::ErrorCode::input,
               "image: has 2 channels, the model takes 3");
}

TEST(PreprocessPrepare, NormalisationBroadcastsOneValue) {
  const camkit::Image im = ramp(2, 2, 3);
  camkit::Preprocess r;
  r.mean = {0.5f};
  r.std = {0.25f};
  const camkit::Prepared p = camkit::prepare(im, r);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(p.chw[c * 4 + 3], (im.at(1, 1, c) - 0.5f) / 0.25f);
  }
  r.mean.clear();
  r.std = {2.0f};  // std alone: mean 0
  EXPECT_FLOAT_EQ(camkit::prepare(im, r).chw[4], im.at(0, 0, 1) / 2.0f);
}

TEST(PreprocessPrepare, CropLargerThanTheImageIsAnInputError) {
  expect_error([] { camkit::prepare(ramp(100, 120, 1), crop_only(224, 224), "small.png"); },
               camkit::ErrorCode::input,
               "small.png: image 120x100 is smaller than the crop 224x224");
  camkit::Preprocess r = crop_only(224, 224, 3);
  r.resize = 100;
  expect_error([&] { camkit::prepare(ramp(200, 300, 3), r, "a.png"); }, camkit::ErrorCode::input,
               "a.png: image 300x200 (resized to 150x100) is smaller than the crop 224x224");
}

TEST(PreprocessPrepare, RejectsBadRecipesAndEmptyImages) {
  const camkit::Image im = ramp(8, 8, 3);
  auto with = [](auto change) {
    camkit::Preprocess r;
    change(r);
    return r;
  };
  const camkit::Preprocess bad[] = {
      with([](camkit::Preprocess& r) { r.channels = 2; }),
      with([](camkit::Preprocess& r) { r.crop_height = 4; }),
      with([](camkit::Preprocess& r) { r.size_width = 4; }),
      with([](camkit::Preprocess& r) { r.resize = -1; }),
      with([](camkit::Preprocess& r) {
        r.mean = {0.1f, 0.2f};
      }),
      with([](camkit::Preprocess& r) { r.std = {0.0f}; }),
  };
  for (const auto& r : bad) {
    expect_error([&] { camkit::prepare(im, r); }, camkit::ErrorCode::usage, "preprocess: ");
  }
  expect_error([] { camkit::prepare(camkit::Image{}, camkit::Preprocess{}, "e.png"); },
               camkit::ErrorCode::input, "e.png: empty or inconsistent image");
}

}  // namespace
