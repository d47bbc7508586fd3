// ReadOptions' limits and the files that are not regular files: each input that would cost too
// much, or never end, fails alone and at once with one line naming the file, the size found, the
// limit and the flag that raises it (ErrorCode::input).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::input_error;
using dicom_test::Spec;
using dicom_test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string encoded(const std::string& ext, const cv::Mat& m) {
  std::vector<unsigned char> buf;
  if (!cv::imencode(ext, m, buf)) throw std::runtime_error("imencode failed");
  return std::string(buf.begin(), buf.end());
}

// A version-1.0 .npy header for `descr` and `shape`, followed by `data`.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xFF) +
         static_cast<char>(header.size() >> 8) + header + data;
}

// Every limit message has the same three parts after the path.
void expect_limit(const std::string& message, const std::string& path, const std::string& found,
                  const std::string& limit, const std::string& flag) {
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, found)) << message;
  EXPECT_TRUE(contains(message, ", over the limit of " + limit + " (raise it with " + flag + ")"))
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

// A failing test must not hang the suite: the process is killed after `seconds`.
class Deadline {
 public:
  explicit Deadline(unsigned seconds) { ::alarm(seconds); }
  ~Deadline() { ::alarm(0); }
};

TEST(NotRegularFiles, FifoIsRefusedAtOnce) {
  TempDir dir;
  const Deadline deadline(30);
  for (const char* name : {"pipe.png", "pipe.npy", "pipe.dcm", "pipe.jpg"}) {
    const std::string path = dir.file(name);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    EXPECT_EQ(input_error([&] { camkit::read_input(path); }), path + ": not a regular file (FIFO)");
  }
  const std::string bare = dir.file("pipe");
  ASSERT_EQ(::mkfifo(bare.c_str(), 0600), 0);
  EXPECT_FALSE(camkit::is_dicom_file(bare));
  EXPECT_EQ(input_error([&] { camkit::read_volume(dir.file("pipe.npy")); }),
            dir.file("pipe.npy") + ": not a regular file (FIFO)");
}

TEST(NotRegularFiles, DevZeroIsNeverRead) {
  TempDir dir;
  const Deadline deadline(30);
  for (const char* name : {"zero.npy", "zero.png", "zero.dcm"}) {
    const std::string link = dir.file(name);
    ASSERT_EQ(::symlink("/dev/zero", link.c_str()), 0);
    EXPECT_EQ(input_error([&] { camkit::read_input(link); }),
              link + ": not a regular file (character device)");
  }
  EXPECT_FALSE(camkit::is_dicom_file("/dev/zero"));
  EXPECT_EQ(input_error([&] { camkit::read_dicom("/dev/zero"); }),
            "/dev/zero: not a regular file (character device)");
}

TEST(Limits, FileSize) {
  TempDir dir;
  const std::string path = dir.file("big.png");
  const std::string png = encoded(".png", cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)));
  write_bytes(path, png);
  camkit::ReadOptions o;
  o.max_file_bytes = png.size() - 1;
  expect_limit(input_error([&] { camkit::read_input(path, o); }), path,
               "file of " + std::to_string(png.size()) + " bytes", std::to_string(png.size() - 1),
               "--max-file-size");
  o.max_file_bytes = png.size();  // the limit itself is allowed
  EXPECT_EQ(camkit::read_input(path, o).width, 64);
}

TEST(Limits, PngDeclaringHugeImage) {
  TempDir dir;
  // A valid small PNG whose IHDR says 15000 x 15000 (CRC fixed), as a decompression bomb would.
  std::string png = encoded(".png", cv::Mat(8, 8, CV_8UC1, cv::Scalar(0)));
  const auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>(v >> (24 - 8 * i));
  };
  put32(16, 15000);
  put32(20, 15000);
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 12; i < 29; ++i) {
    crc ^= static_cast<unsigned char>(png[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  put32(29, ~crc);
  const std::string path = dir.file("bomb.png");
  write_bytes(path, png);
  expect_limit(input_error([&] { camkit::read_input(path); }), path,
               "image of 15000 x 15000 = 225000000 pixels", "100000000", "--max-pixels");
}

TEST(Limits, JpegBmpTiffDeclaringHugeImages) {
  TempDir dir;
  camkit::ReadOptions o;
  o.max_pixels = 10 * 10 - 1;
  for (const char* ext : {".jpg", ".bmp", ".tif"}) {
    const std::string path = dir.file(std::string("ten") + ext);
    write_bytes(path, encoded(ext, cv::Mat(10, 10, CV_8UC3, cv::Scalar(9, 9, 9))));
    expect_limit(input_error([&] { camkit::read_input(path, o); }), path,
                 "image of 10 x 10 = 100 pixels", "99", "--max-pixels");
  }
  o.max_pixels = 100;
  for (const char* ext : {".jpg", ".bmp", ".tif"}) {
    EXPECT_EQ(camkit::read_input(dir.file(std::string("ten") + ext), o).height, 10);
  }
}

TEST(Limits, NpyPixelsAndDecodedSize) {
  TempDir dir;
  const std::string path = dir.file("a.npy");
  write_bytes(path, npy("<f4", "(3, 20, 10)", std::string(3 * 20 * 10 * 4, '\0')));
  camkit::ReadOptions o;
  o.max_pixels = 199;
  expect_limit(input_error([&] { camkit::read_npy(path, o); }), path, "10 x 20 = 200 pixels", "199",
               "--max-pixels");
  o = {};
  o.max_decoded_bytes = 2399;
  expect_limit(input_error([&] { camkit::read_npy(path, o); }), path,
               "array of shape (3, 20, 10) of '<f4' decodes to 600 samples = 2400 bytes as float32",
               "2399", "--max-decoded-size");
  o.max_decoded_bytes = 2400;
  EXPECT_EQ(camkit::read_npy(path, o).channels, 3);
}

// The shape is judged on the header and the file's size: a sparse 400 MB file is refused without
// its data being read.
TEST(Limits, NpyJudgedBeforeTheDataIsRead) {
  TempDir dir;
  const std::string path = dir.file("huge.npy");
  write_bytes(path, npy("|u1", "(20000, 20000)", ""));
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(128 + 400000000LL)), 0);
  expect_limit(input_error([&] { camkit::read_input(path); }), path,
               "20000 x 20000 = 400000000 pixels", "100000000", "--max-pixels");
  const std::string vol = dir.file("vol.npy");
  write_bytes(vol, npy("|u1", "(400, 1000, 1000)", ""));
  ASSERT_EQ(::truncate(vol.c_str(), static_cast<off_t>(128 + 400000000LL)), 0);
  expect_limit(input_error([&] { camkit::read_volume(vol); }), vol,
               "decodes to 400000000 samples = 1600000000 bytes as float32", "1073741824",
               "--max-decoded-size");
}

TEST(Limits, NpyVolumeSlices) {
  TempDir dir;
  const std::string path = dir.file("v.npy");
  write_bytes(path, npy("|u1", "(5, 2, 2)", std::string(20, '\0')));
  camkit::ReadOptions o;
  o.max_slices = 4;
  expect_limit(input_error([&] { camkit::read_volume(path, o); }), path, "volume of 5 slices", "4",
               "--max-slices");
  o.max_slices = 5;
  EXPECT_EQ(camkit::read_volume(path, o).size(), 5u);
}

// An RLE file of one 64-byte fragment whose attributes declare `frames` frames of rows x columns:
// written for one frame, then NumberOfFrames set in place (DCMTK would otherwise work through
// every declared frame while writing).
void write_rle_claiming(const std::string& path, int rows, int columns, int frames) {
  Spec s;
  s.rows = rows;
  s.columns = columns;
  s.bits_allocated = s.bits_stored = 8;
  s.frames = 1;
  dicom_test::write_encapsulated(path, s, EXS_RLELossless, std::vector<std::uint8_t>(64, 0));
  std::vector<char> bytes = dicom_test::file_bytes(path);
  const std::string tag(
      "\x28\x00\x08\x00IS\x02\x00"
      "1 ",
      10);  // (0028,0008) IS "1 "
  const auto at = std::search(bytes.begin(), bytes.end(), tag.begin(), tag.end());
  ASSERT_NE(at, bytes.end());
  std::string value = std::to_string(frames);
  if (value.size() % 2) value += ' ';
  std::vector<char> out(bytes.begin(), at + 6);
  out.push_back(static_cast<char>(value.size()));
  out.push_back(0);
  out.insert(out.end(), value.begin(), value.end());
  out.insert(out.end(), at + 10, bytes.end());
  dicom_test::write_file(path, out);
}

Spec grey8(int rows, int columns, int frames) {
  Spec s;
  s.rows = rows;
  s.columns = columns;
  s.frames = frames;
  s.bits_allocated = s.bits_stored = 8;
  s.bytes.assign(static_cast<std::size_t>(rows) * columns * std::max(frames, 1), 7);
  return s;
}

// 60000 frames declared by a tiny RLE file: refused before a codec sizes its output from them.
TEST(Limits, DicomFramesBeforeDecoding) {
  TempDir dir;
  const std::string path = dir.file("frames.dcm");
  write_rle_claiming(path, 512, 512, 60000);
  expect_limit(input_error([&] { camkit::read_volume(path); }), path, "NumberOfFrames 60000",
               "2048", "--max-slices");
  expect_limit(input_error([&] { camkit::read_input(path); }), path, "NumberOfFrames 60000", "2048",
               "--max-slices");
}

TEST(Limits, DicomPixelsAndDecodedSize) {
  TempDir dir;
  const std::string path = dir.file("m.dcm");
  dicom_test::write(path, grey8(4, 5, 3));
  camkit::ReadOptions o;
  o.max_pixels = 19;
  expect_limit(input_error([&] { camkit::read_volume(path, o); }), path, "frame of 5 x 4 = 20",
               "19", "--max-pixels");
  o = {};
  o.max_decoded_bytes = 239;
  expect_limit(input_error([&] { camkit::read_volume(path, o); }), path,
               "3 frames of 5 x 4 x 1 decodes to 60 samples = 240 bytes as float32", "239",
               "--max-decoded-size");
  o.max_decoded_bytes = 240;
  EXPECT_EQ(camkit::read_volume(path, o).size(), 3u);
  // Encapsulated data is bounded by its attributes before DCMTK's decoder allocates them.
  const std::string rle = dir.file("rle.dcm");
  write_rle_claiming(rle, 4000, 4000, 100);
  expect_limit(input_error([&] { camkit::read_volume(rle); }), rle,
               "100 frames of 4000 x 4000 x 1 decodes to 1600000000 samples", "1073741824",
               "--max-decoded-size");
}

TEST(Limits, DicomSeries) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) {
    Spec s = grey8(2, 2, 0);
    s.instance = i;
    dicom_test::write(dir.file("s" + std::to_string(i) + ".dcm"), s);
  }
  camkit::ReadOptions o;
  o.max_slices = 2;
  expect_limit(input_error([&] { camkit::read_volume(dir.path(), o); }), dir.path(),
               "series of more than 2 files", "2", "--max-slices");
  o = {};
  o.max_decoded_bytes = 2 * 4 * 4;  // two of the three 4-sample slices
  const std::string e = input_error([&] { camkit::read_volume(dir.path(), o); });
  EXPECT_EQ(e, dir.path() +
                   ": series of 3 files decodes to more bytes as float32 than the limit "
                   "of 32 (raise it with --max-decoded-size)");
  o.max_decoded_bytes = 3 * 4 * 4;
  EXPECT_EQ(camkit::read_volume(dir.path(), o).size(), 3u);
}

}  // namespace

namespace {

// A deflated data set is inflated by camkit, within the file size cap, before DCMTK parses it: a
// small file cannot expand to gigabytes.
TEST(Limits, DeflatedDataSetWithinTheFileSizeCap) {
  TempDir dir;
  const std::string path = dir.file("deflated.dcm");
  Spec s;
  s.rows = s.columns = 512;
  s.words.assign(512 * 512, 0);
  dicom_test::write(path, s, EXS_DeflatedLittleEndianExplicit);
  const std::uint64_t size = std::filesystem::file_size(path);
  ASSERT_LT(size, 8192u);
  camkit::ReadOptions o;
  o.max_file_bytes = 100000;
  expect_limit(input_error([&] { camkit::read_dicom(path, o); }), path,
               "deflated data set inflating to more than 100000 bytes", "100000",
               "--max-file-size");
  EXPECT_EQ(camkit::read_dicom(path).width, 512);

  std::vector<char> bytes = dicom_test::file_bytes(path);
  bytes.resize(bytes.size() - 100);
  const std::string cut = dir.file("cut_deflate.dcm");
  dicom_test::write_file(cut, bytes);
  EXPECT_EQ(input_error([&] { camkit::read_dicom(cut); }),
            cut + ": truncated or corrupt deflated data set (zlib: premature end)");
}

}  // namespace
