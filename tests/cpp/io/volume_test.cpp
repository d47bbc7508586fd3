// camkit::read_volume: .npy stacks of every accepted shape, multi-frame DICOM, DICOM series
// directories (sorting, one window for the series, which files count, mixed-series and size
// errors) and single images as one-slice volumes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::Spec;
using dicom_test::TempDir;

// A version-1.0 .npy (np.save's layout) of little-endian `T` values with the given shape text.
template <typename T>
void write_npy(const std::string& path, const std::string& descr, const std::string& shape,
               const std::vector<T>& values) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  std::string data(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(data.data(), values.data(), data.size());  // little-endian host
  dicom_test::write_file(path, std::vector<char>(out.begin(), out.end()));
  std::ofstream(path, std::ios::binary | std::ios::app) << data;
}

std::vector<float> iota(int n) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(i));
  return v;
}

std::string volume_error(const std::string& path, const camkit::ReadOptions& o = {}) {
  return dicom_test::input_error([&] { camkit::read_volume(path, o); });
}

TEST(VolumeNpy, SlicesHeightWidthAreGreySlices) {
  TempDir dir;
  const std::string path = dir.file("knee.npy");
  write_npy(path, "<f4", "(3, 2, 4)", iota(24));
  const std::vector<camkit::Image> v = camkit::read_volume(path);
  ASSERT_EQ(v.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(v[k].height, 2);
    EXPECT_EQ(v[k].width, 4);
    EXPECT_EQ(v[k].channels, 1);
    EXPECT_EQ(v[k].bit_depth, 0);
    EXPECT_EQ(v[k].at(1, 3, 0), static_cast<float>(k * 8 + 7));
  }
  // (3, H, W) is three slices here, where read_npy would see one RGB image.
  EXPECT_EQ(camkit::read_npy(path).channels, 3);
}

TEST(VolumeNpy, SlicesChannelsHeightWidthAreInterleaved) {
  TempDir dir;
  const std::string path = dir.file("rgb.npy");
  write_npy(path, "<f4", "(2, 3, 2, 2)", iota(24));  // S, C, H, W
  const std::vector<camkit::Image> v = camkit::read_volume(path);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].channels, 3);
  // slice 1, channel c, pixel (y, x) = 12 + c * 4 + y * 2 + x
  EXPECT_EQ(v[1].at(1, 0, 2), 12 + 2 * 4 + 2);
  EXPECT_EQ(v[0].at(0, 1, 1), 0 + 4 + 1);

  const std::string grey = dir.file("grey.npy");
  write_npy(grey, "<f4", "(2, 1, 2, 2)", iota(8));
  const std::vector<camkit::Image> g = camkit::read_volume(grey);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].channels, 1);
  EXPECT_EQ(g[1].data, (std::vector<float>{4, 5, 6, 7}));
}

TEST(VolumeNpy, BatchOfOneExam) {
  TempDir dir;
  const std::string path = dir.file("batch.npy");
  write_npy(path, "|u1", "(1, 2, 1, 1, 2)", std::vector<std::uint8_t>{0, 51, 255, 102});
  const std::vector<camkit::Image> v = camkit::read_volume(path);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].bit_depth, 8);
  EXPECT_EQ(v[1].data, (std::vector<float>{1.0f, 102 / 255.0f}));
}

TEST(VolumeNpy, TwoDimensionalArrayIsOneSlice) {
  TempDir dir;
  const std::string path = dir.file("plane.npy");
  write_npy(path, "<u2", "(2, 2)", std::vector<std::uint16_t>{0, 1, 2, 65535});
  const std::vector<camkit::Image> v = camkit::read_volume(path);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].bit_depth, 16);
  EXPECT_EQ(v[0].data[3], 1.0f);
}

TEST(VolumeNpy, RejectedShapesAndData) {
  TempDir dir;
  const std::string four = dir.file("four.npy");
  write_npy(four, "<f4", "(2, 4, 1, 1)", iota(8));
  EXPECT_EQ(volume_error(four), four +
                                    ": unsupported volume shape (2, 4, 1, 1) (expected (S, H, W), "
                                    "(S, C, H, W) with C 1 or 3, (1, S, C, H, W) or (H, W))");
  const std::string batch = dir.file("batch2.npy");
  write_npy(batch, "<f4", "(2, 1, 1, 1, 1)", iota(2));
  EXPECT_NE(volume_error(batch).find("unsupported volume shape (2, 1, 1, 1, 1)"),
            std::string::npos);
  const std::string vec = dir.file("vector.npy");
  write_npy(vec, "<f4", "(4,)", iota(4));
  EXPECT_NE(volume_error(vec).find("unsupported volume shape (4,)"), std::string::npos);
  const std::string empty = dir.file("empty.npy");
  write_npy(empty, "<f4", "(0, 2, 2)", std::vector<float>{});
  EXPECT_EQ(volume_error(empty), empty + ": empty array, shape (0, 2, 2)");
  const std::string nan = dir.file("nan.npy");
  std::vector<float> values = iota(8);
  values[5] = std::numeric_limits<float>::quiet_NaN();
  write_npy(nan, "<f4", "(2, 2, 2)", values);
  EXPECT_EQ(volume_error(nan), nan + ": contains NaN or Inf values");
  const std::string cut = dir.file("cut.npy");
  write_npy(cut, "<f4", "(3, 2, 2)", iota(11));
  EXPECT_EQ(volume_error(cut),
            cut + ": truncated .npy data: shape (3, 2, 2) of '<f4' needs 48 bytes, file has 44");
  const std::string ints = dir.file("ints.npy");
  write_npy(ints, "<i4", "(2, 2, 2)", std::vector<std::int32_t>(8, 1));
  EXPECT_EQ(volume_error(ints), ints + ": unsupported dtype '<i4'");
}

// Stacks written by np.save itself (tests/python/fixtures_io.py, io/volumes.json).
TEST(VolumeNpy, MatchesNumpyWrittenVolumes) {
  const std::string dir = CAMKIT_FIXTURES "/io/";
  std::ifstream in(dir + "volumes.json");
  ASSERT_TRUE(in) << "missing " << dir << "volumes.json (build target fx_io)";
  const nlohmann::json doc = nlohmann::json::parse(in);
  ASSERT_GE(doc.at("volumes").size(), 4u);
  for (const auto& c : doc.at("volumes")) {
    const std::string file = c.at("file").get<std::string>();
    SCOPED_TRACE(file);
    const std::vector<camkit::Image> v = camkit::read_volume(dir + file);
    ASSERT_EQ(v.size(), c.at("slices").size());
    for (std::size_t k = 0; k < v.size(); ++k) {
      const auto& want = c.at("slices")[k];
      EXPECT_EQ(v[k].height, want.at("height").get<int>());
      EXPECT_EQ(v[k].width, want.at("width").get<int>());
      EXPECT_EQ(v[k].channels, want.at("channels").get<int>());
      EXPECT_EQ(v[k].bit_depth, c.at("bit_depth").get<int>());
      // The JSON holds each float32 exactly.
      EXPECT_EQ(v[k].data, want.at("data").get<std::vector<float>>()) << "slice " << k;
    }
  }
}

TEST(VolumeImage, PictureIsOneSlice) {
  TempDir dir;
  const std::string png = dir.file("slice.png");
  ASSERT_TRUE(cv::imwrite(png, cv::Mat(2, 3, CV_8UC1, cv::Scalar(255))));
  const std::vector<camkit::Image> v = camkit::read_volume(png);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].width, 3);
  EXPECT_EQ(volume_error(dir.file("missing.png")), dir.file("missing.png") + ": no such file");
}

TEST(VolumeDicom, MultiFrameKeepsFileOrderAndOneWindow) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 2;
  s.frames = 3;
  s.words = {0, 10, 20, 30, 40, 100};  // frames (0, 10), (20, 30), (40, 100)
  const std::string path = dir.file("cine.dcm");
  dicom_test::write(path, s);
  const std::vector<camkit::Image> v = camkit::read_volume(path);
  ASSERT_EQ(v.size(), 3u);
  // min..max over the whole file, 0..100, not per frame.
  EXPECT_FLOAT_EQ(v[0].data[1], 0.1f);
  EXPECT_FLOAT_EQ(v[1].data[0], 0.2f);
  EXPECT_FLOAT_EQ(v[2].data[1], 1.0f);

  camkit::ReadOptions o;
  o.window = std::make_pair(50.5, 101.0);  // (x - 50) / 100 + 0.5 = x / 100
  EXPECT_FLOAT_EQ(camkit::read_volume(path, o)[1].data[1], 0.3f);
}

TEST(VolumeDicom, SingleFrameFileIsOneSlice) {
  TempDir dir;
  Spec s;
  s.words = {1, 2, 3, 4, 5, 6};
  const std::string path = dir.file("one.dcm");
  dicom_test::write(path, s);
  const std::vector<camkit::Image> v = camkit::read_volume(path);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].data, camkit::read_dicom(path).data);
}

// One slice of a series: a 1x2 image of (value, value + 1), at z along the normal (0, 0, 1).
Spec series_slice(int value, const std::string& z, std::optional<int> instance) {
  Spec s;
  s.rows = 1;
  s.columns = 2;
  s.words = {static_cast<std::uint16_t>(value), static_cast<std::uint16_t>(value + 1)};
  if (!z.empty()) {
    s.position = "-10\\20\\" + z;
    s.orientation = "1\\0\\0\\0\\1\\0";
  }
  s.instance = instance;
  return s;
}

// The first sample of each slice, which the tests make distinct per file.
std::vector<float> firsts(const std::vector<camkit::Image>& v) {
  std::vector<float> out;
  for (const camkit::Image& im : v) out.push_back(im.data[0]);
  return out;
}

TEST(VolumeSeries, SortedByPositionEvenWhenInstanceNumbersDisagree) {
  TempDir dir;
  // Instance numbers run against the positions, file names in a third order.
  dicom_test::write(dir.file("a.dcm"), series_slice(20, "-5.0", 1));
  dicom_test::write(dir.file("b.dcm"), series_slice(0, "-15", 3));
  dicom_test::write(dir.file("c.dcm"), series_slice(10, "-10", 2));
  const std::vector<camkit::Image> v = camkit::read_volume(dir.path());
  ASSERT_EQ(v.size(), 3u);
  // One min..max window for the series, 0..21: value / 21.
  EXPECT_EQ(firsts(v), (std::vector<float>{0.0f, 10 / 21.0f, 20 / 21.0f}));
}

TEST(VolumeSeries, PositionAlongAnObliqueNormal) {
  TempDir dir;
  // Rows along (0, 1, 0), columns along (0, 0, 1): normal (1, 0, 0), so x orders the slices
  // although z runs the other way.
  Spec a = series_slice(0, "", 1), b = series_slice(10, "", 2);
  a.orientation = b.orientation = "0\\1\\0\\0\\0\\1";
  a.position = "2\\0\\9";
  b.position = "-3\\0\\1";
  dicom_test::write(dir.file("a.dcm"), a);
  dicom_test::write(dir.file("b.dcm"), b);
  EXPECT_EQ(firsts(camkit::read_volume(dir.path())), (std::vector<float>{10 / 11.0f, 0.0f}));
}

TEST(VolumeSeries, InstanceNumberWithoutPositions) {
  TempDir dir;
  dicom_test::write(dir.file("a.dcm"), series_slice(20, "", 10));
  dicom_test::write(dir.file("b.dcm"), series_slice(0, "", 2));
  dicom_test::write(dir.file("c.dcm"), series_slice(10, "", 9));
  EXPECT_EQ(firsts(camkit::read_volume(dir.path())),
            (std::vector<float>{0.0f, 10 / 21.0f, 20 / 21.0f}));
}

TEST(VolumeSeries, FileNameWhenNothingElseOrders) {
  TempDir dir;
  dicom_test::write(dir.file("z.dcm"), series_slice(0, "", std::nullopt));
  dicom_test::write(dir.file("m.dcm"), series_slice(10, "", std::nullopt));
  dicom_test::write(dir.file("a.dcm"), series_slice(20, "", std::nullopt));
  EXPECT_EQ(firsts(camkit::read_volume(dir.path())),
            (std::vector<float>{20 / 21.0f, 10 / 21.0f, 0.0f}));
  // Equal positions fall back to the instance number.
  TempDir same;
  dicom_test::write(same.file("a.dcm"), series_slice(0, "7", 2));
  dicom_test::write(same.file("b.dcm"), series_slice(20, "7", 1));
  EXPECT_EQ(firsts(camkit::read_volume(same.path())), (std::vector<float>{20 / 21.0f, 0.0f}));
}

TEST(VolumeSeries, FirstSortedSliceWindowAppliesToAll) {
  TempDir dir;
  Spec low = series_slice(0, "1", 1), high = series_slice(100, "2", 2);
  low.center = "50.5";
  low.width = "101";  // x / 100
  high.center = "1000";
  high.width = "10";
  dicom_test::write(dir.file("b_low.dcm"), low);
  dicom_test::write(dir.file("a_high.dcm"), high);
  const std::vector<camkit::Image> v = camkit::read_volume(dir.path());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].data, (std::vector<float>{0.0f, 0.01f}));
  EXPECT_EQ(v[1].data, (std::vector<float>{1.0f, 1.0f}));
  camkit::ReadOptions o;
  o.window = std::make_pair(100.5, 201.0);  // x / 200
  EXPECT_EQ(firsts(camkit::read_volume(dir.path(), o)), (std::vector<float>{0.0f, 0.5f}));
}

TEST(VolumeSeries, RescalePerSliceBeforeTheSharedWindow) {
  TempDir dir;
  Spec a = series_slice(0, "1", 1), b = series_slice(0, "2", 2);
  a.intercept = "-1000";
  b.intercept = "1000";  // modality values -1000, -999 and 1000, 1001: (x + 1000) / 2001
  dicom_test::write(dir.file("a.dcm"), a);
  dicom_test::write(dir.file("b.dcm"), b);
  const std::vector<camkit::Image> v = camkit::read_volume(dir.path());
  EXPECT_FLOAT_EQ(v[0].data[1], static_cast<float>(1 / 2001.0));
  EXPECT_FLOAT_EQ(v[1].data[0], static_cast<float>(2000 / 2001.0));
}

TEST(VolumeSeries, WhichFilesBelongToTheSeries) {
  TempDir dir;
  dicom_test::write(dir.file("IM0002"), series_slice(10, "2", 2));      // magic, no extension
  dicom_test::write(dir.file("1.2.3.4"), series_slice(20, "3", 3));     // magic, UID-like name
  dicom_test::write(dir.file("first.DICOM"), series_slice(0, "1", 1));  // extension, any case
  dicom_test::write_file(dir.file("README.txt"), {'h', 'i'});
  dicom_test::write_file(dir.file("notes"), std::vector<char>(200, 'n'));
  dicom_test::write(dir.file(".hidden.dcm"), series_slice(99, "0", 0));
  dicom_test::write(dir.file("DICOMDIR"), series_slice(99, "0", 0));
  std::filesystem::create_directory(dir.file("sub.dcm"));
  dicom_test::write(dir.file("sub.dcm/deeper.dcm"), series_slice(99, "0", 0));
  EXPECT_EQ(firsts(camkit::read_volume(dir.path())),
            (std::vector<float>{0.0f, 10 / 21.0f, 20 / 21.0f}));
}

TEST(VolumeSeries, TwoSeriesInOneDirectory) {
  TempDir dir;
  Spec other = series_slice(10, "2", 2);
  other.series = "1.2.826.0.1.3680043.10.1.99";
  dicom_test::write(dir.file("a.dcm"), series_slice(0, "1", 1));
  dicom_test::write(dir.file("b.dcm"), other);
  EXPECT_EQ(volume_error(dir.path()), dir.path() +
                                          ": more than one series: 1.2.826.0.1.3680043.10.1.1 "
                                          "(a.dcm) and 1.2.826.0.1.3680043.10.1.99 (b.dcm)");
  Spec none = series_slice(10, "2", 2);
  none.series.clear();
  dicom_test::write(dir.file("b.dcm"), none);
  EXPECT_EQ(volume_error(dir.path()), dir.path() +
                                          ": more than one series: 1.2.826.0.1.3680043.10.1.1 "
                                          "(a.dcm) and (no SeriesInstanceUID) (b.dcm)");
}

TEST(VolumeSeries, SlicesOfDifferentSizes) {
  TempDir dir;
  Spec big = series_slice(0, "2", 2);
  big.rows = 2;
  big.words = {1, 2, 3, 4};
  dicom_test::write(dir.file("a.dcm"), series_slice(0, "1", 1));
  dicom_test::write(dir.file("b.dcm"), big);
  EXPECT_EQ(volume_error(dir.path()), dir.file("b.dcm") + ": slice is 2x2 grey, a.dcm is 1x2 grey");
}

TEST(VolumeSeries, MultiFrameFileInASeriesDirectory) {
  TempDir dir;
  Spec cine = series_slice(0, "2", 2);
  cine.frames = 2;
  cine.words = {1, 2, 3, 4};
  dicom_test::write(dir.file("a.dcm"), series_slice(0, "1", 1));
  dicom_test::write(dir.file("b.dcm"), cine);
  EXPECT_EQ(volume_error(dir.path()),
            dir.file("b.dcm") +
                ": multi-frame file (2 frames) in a series directory; read it on its own");
}

TEST(VolumeSeries, BrokenFileOrNoDicomAtAll) {
  TempDir dir;
  dicom_test::write_file(dir.file("notes.txt"), {'x'});
  EXPECT_EQ(volume_error(dir.path()),
            dir.path() + ": no DICOM files (*.dcm, *.dicom or files with the DICM marker)");
  dicom_test::write(dir.file("a.dcm"), series_slice(0, "1", 1));
  dicom_test::write_file(dir.file("b.dcm"), std::vector<char>(10, 'x'));
  EXPECT_EQ(volume_error(dir.path()),
            dir.file("b.dcm") + ": not a DICOM file (no 'DICM' marker at byte 128)");
}

}  // namespace
