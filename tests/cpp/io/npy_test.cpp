// camkit::read_npy on hand-built .npy bytes: every accepted dtype, byte order, format version and
// shape form, and each way a header or payload can be wrong.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"

namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "camkit_io_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The preamble np.save writes: magic, version, little-endian header length, then the dict padded
// with spaces to a multiple of 64 bytes and ended by '\n'.
std::string npy_file(const std::string& dict, const std::string& payload, int major = 1) {
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  const std::size_t unpadded = 8 + length_bytes + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (std::size_t i = 0; i < length_bytes; ++i) {
    out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  }
  return out + header + payload;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

// Raw bytes of `values` as type T in the requested byte order.
template <typename T>
std::string payload(const std::vector<T>& values, bool big_endian = false) {
  std::string out;
  for (const T v : values) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // the test machine is little-endian (x86-64, aarch64)
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      out += static_cast<char>(b[big_endian ? sizeof(T) - 1 - i : i]);
    }
  }
  return out;
}

class NpyConversion : public ::testing::Test {
 protected:
  camkit::Image load(const std::string& bytes) {
    const std::string path = dir_.file("a.npy");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return camkit::read_npy(path);
  }
  TempDir dir_;
};

TEST_F(NpyConversion, Float32AsStored) {
  const std::vector<float> v = {-1.5f, 0.0f, 2.25f, 1e-8f, -3e7f, 0.1f};
  const camkit::Image im = load(npy_file(dict("<f4", "(2, 3)"), payload(v)));
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(im.width, 3);
  EXPECT_EQ(im.channels, 1);
  EXPECT_EQ(im.bit_depth, 0);
  EXPECT_EQ(im.data, v);
}

TEST_F(NpyConversion, Float64RoundsToFloat32) {
  const std::vector<double> v = {0.1, -2.5, 1e-3, 123456.789};
  const camkit::Image im = load(npy_file(dict("<f8", "(2, 2)"), payload(v)));
  EXPECT_EQ(im.bit_depth, 0);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(im.data[i], static_cast<float>(v[i]));
}

TEST_F(NpyConversion, BigEndianFloats) {
  const std::vector<float> f = {1.0f, -0.5f, 3.75f, 1e10f};
  EXPECT_EQ(load(npy_file(dict(">f4", "(2, 2)"), payload(f, true))).data, f);
  const std::vector<double> d = {1.0, -0.5, 3.75, 1e10};
  EXPECT_EQ(load(npy_file(dict(">f8", "(2, 2)"), payload(d, true))).data, f);
}

TEST_F(NpyConversion, Uint8ScaledBy255) {
  const std::vector<std::uint8_t> v = {0, 1, 128, 255};
  for (const char* descr : {"|u1", "<u1"}) {
    const camkit::Image im = load(npy_file(dict(descr, "(2, 2)"), payload(v)));
    EXPECT_EQ(im.bit_depth, 8);
    EXPECT_EQ(im.data, (std::vector<float>{0.0f, 1.0f / 255.0f, 128.0f / 255.0f, 1.0f}));
  }
}

TEST_F(NpyConversion, Uint16ScaledBy65535BothEndians) {
  const std::vector<std::uint16_t> v = {0, 258, 65535, 1};
  const std::vector<float> want = {0.0f, 258.0f / 65535.0f, 1.0f, 1.0f / 65535.0f};
  const camkit::Image little = load(npy_file(dict("<u2", "(1, 4)"), payload(v)));
  EXPECT_EQ(little.bit_depth, 16);
  EXPECT_EQ(little.data, want);
  EXPECT_EQ(load(npy_file(dict(">u2", "(1, 4)"), payload(v, true))).data, want);
}

// Sample value 100*c + 10*y + x, so a misplaced sample shows where it came from.
std::vector<float> coded(int c_count, int h, int w, bool planar) {
  std::vector<float> v;
  for (int a = 0; a < (planar ? c_count : h); ++a)
    for (int b = 0; b < (planar ? h : w); ++b)
      for (int c = 0; c < (planar ? w : c_count); ++c)
        v.push_back(planar ? 100.0f * a + 10.0f * b + c : 100.0f * c + 10.0f * a + b);
  return v;
}

void expect_coded(const camkit::Image& im, int c_count, int h, int w) {
  ASSERT_EQ(im.channels, c_count);
  ASSERT_EQ(im.height, h);
  ASSERT_EQ(im.width, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < c_count; ++c) ASSERT_EQ(im.at(y, x, c), 100.0f * c + 10.0f * y + x);
}

TEST_F(NpyConversion, ChannelsFirstIsInterleaved) {
  expect_coded(load(npy_file(dict("<f4", "(3, 4, 5)"), payload(coded(3, 4, 5, true)))), 3, 4, 5);
  expect_coded(load(npy_file(dict("<f4", "(1, 4, 5)"), payload(coded(1, 4, 5, true)))), 1, 4, 5);
}

TEST_F(NpyConversion, ChannelsLastKeptAsIs) {
  expect_coded(load(npy_file(dict("<f4", "(4, 5, 3)"), payload(coded(3, 4, 5, false)))), 3, 4, 5);
  expect_coded(load(npy_file(dict("<f4", "(4, 5, 1)"), payload(coded(1, 4, 5, false)))), 1, 4, 5);
}

// Both ends could be channels: the leading one wins (PyTorch's CHW).
TEST_F(NpyConversion, AmbiguousShapeReadAsChannelsFirst) {
  expect_coded(load(npy_file(dict("<f4", "(3, 5, 3)"), payload(coded(3, 5, 3, true)))), 3, 5, 3);
  expect_coded(load(npy_file(dict("<f4", "(1, 2, 3)"), payload(coded(1, 2, 3, true)))), 1, 2, 3);
}

TEST_F(NpyConversion, LeadingBatchOfOneDropped) {
  expect_coded(load(npy_file(dict("<f4", "(1, 3, 4, 5)"), payload(coded(3, 4, 5, true)))), 3, 4, 5);
  expect_coded(load(npy_file(dict("<f4", "(1, 4, 5, 3)"), payload(coded(3, 4, 5, false)))), 3, 4,
               5);
}

TEST_F(NpyConversion, FormatVersions2And3) {
  const std::vector<float> v = {1.0f, 2.0f};
  EXPECT_EQ(load(npy_file(dict("<f4", "(1, 2)"), payload(v), 2)).data, v);
  EXPECT_EQ(load(npy_file(dict("<f4", "(1, 2)"), payload(v), 3)).data, v);
}

// Key order, quotes, spacing and Python 2 long literals all vary between writers.
TEST_F(NpyConversion, HeaderVariants) {
  const std::vector<float> v = {1.0f, 2.0f};
  for (const char* d : {"{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}",
                        "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(1,2)}",
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }",
                        "{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 1 , 2 , ) }"}) {
    EXPECT_EQ(load(npy_file(d, payload(v))).data, v) << d;
  }
}

class NpyValidation : public ::testing::Test {
 protected:
  // The exact message read_npy throws for a file holding `bytes`.
  std::string error_of(const std::string& bytes) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
    try {
      camkit::read_npy(path_);
    } catch (const camkit::Error& e) {
      EXPECT_EQ(e.code(), camkit::ErrorCode::input);
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path_ + ": ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      return msg.substr(path_.size() + 2);
    }
    ADD_FAILURE() << "no error";
    return {};
  }
  TempDir dir_;
  std::string path_ = dir_.file("bad.npy");
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(NpyValidation, UnsupportedDtypes) {
  for (const char* descr : {"<i4", "<i8", "<f2", "|b1", "<c8", "|O", "<U3", "|f4", "<u4", "|i1"}) {
    EXPECT_EQ(error_of(npy_file(dict(descr, "(2, 2)"), std::string(64, '\0'))),
              std::string("unsupported dtype '") + descr + "'");
  }
  EXPECT_TRUE(contains(error_of(npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, "
                                         "'shape': (2,), }",
                                         std::string(8, '\0'))),
                       "unsupported dtype"));
}

TEST_F(NpyValidation, FortranOrder) {
  EXPECT_TRUE(contains(error_of(npy_file(dict("<f4", "(2, 2)", true), std::string(16, '\0'))),
                       "Fortran order not supported"));
}

TEST_F(NpyValidation, BadShapes) {
  const auto err = [&](const std::string& shape, std::size_t n) {
    return error_of(npy_file(dict("|u1", shape), std::string(n, '\0')));
  };
  EXPECT_TRUE(contains(err("(5,)", 5), "unsupported shape (5,)"));
  EXPECT_TRUE(contains(err("()", 1), "unsupported shape ()"));
  EXPECT_TRUE(contains(err("(4, 5, 6)", 120), "unsupported shape (4, 5, 6)"));
  EXPECT_TRUE(contains(err("(2, 3, 4, 5)", 120), "unsupported shape (2, 3, 4, 5)"));
  EXPECT_TRUE(contains(err("(1, 1, 2, 3, 4)", 24), "unsupported shape (1, 1, 2, 3, 4)"));
  EXPECT_TRUE(contains(err("(1, 2, 3, 4)", 24), "unsupported shape (1, 2, 3, 4)"));
  EXPECT_EQ(err("(0, 5)", 0), "empty array, shape (0, 5)");
  EXPECT_EQ(err("(3, 0, 4)", 0), "empty array, shape (3, 0, 4)");
  EXPECT_TRUE(contains(err("(3, 4294967296, 2)", 8), "too large"));
}

TEST_F(NpyValidation, SizeNeverTakenFromHeader) {
  EXPECT_EQ(error_of(npy_file(dict("<f4", "(2, 3)"), std::string(20, '\0'))),
            "truncated .npy data: shape (2, 3) of '<f4' needs 24 bytes, file has 20");
  EXPECT_EQ(error_of(npy_file(dict("<f4", "(2, 3)"), std::string(28, '\0'))),
            "unexpected .npy data size: shape (2, 3) of '<f4' needs 24 bytes, file has 28");
  EXPECT_EQ(error_of(npy_file(dict("<f4", "(2, 3)"), "")),
            "truncated .npy data: shape (2, 3) of '<f4' needs 24 bytes, file has 0");
  // 3 * 2^31-1 * 2^31-1 * 8 bytes does not fit in 64 bits.
  EXPECT_TRUE(contains(error_of(npy_file(dict("<f8", "(3, 2147483647, 2147483647)"), "1234")),
                       "size overflows"));
  EXPECT_TRUE(contains(error_of(npy_file(dict("<f4", "(100000, 100000)"), "1234")),
                       "needs 40000000000 bytes, file has 4"));
}

TEST_F(NpyValidation, NonFiniteValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::string msg = "contains NaN or Inf values";
  EXPECT_EQ(error_of(npy_file(dict("<f4", "(1, 3)"), payload(std::vector<float>{0, 1, nan}))), msg);
  EXPECT_EQ(error_of(npy_file(dict("<f4", "(1, 2)"), payload(std::vector<float>{-inf, 0}))), msg);
  EXPECT_EQ(error_of(npy_file(dict(">f4", "(1, 2)"), payload(std::vector<float>{1, inf}, true))),
            msg);
  EXPECT_EQ(
      error_of(npy_file(dict("<f8", "(1, 2)"), payload(std::vector<double>{std::nan(""), 0}))),
      msg);
  EXPECT_EQ(
      error_of(npy_file(dict(">f8", "(1, 1)"), payload(std::vector<double>{-HUGE_VAL}, true))),
      msg);
  EXPECT_TRUE(
      contains(error_of(npy_file(dict("<f8", "(1, 1)"), payload(std::vector<double>{1e300}))),
               "outside the float32 range"));
}

TEST_F(NpyValidation, BadPreamble) {
  EXPECT_EQ(error_of("PK\x03\x04 this is a zip"), "not a .npy file (bad magic)");
  EXPECT_EQ(error_of("\x93NUM"), "not a .npy file (bad magic)");
  EXPECT_EQ(error_of(std::string("\x93NUMPY\x01", 7)), "truncated .npy header");
  EXPECT_EQ(error_of(std::string("\x93NUMPY\x02\x00\x10\x00", 10)), "truncated .npy header");
  EXPECT_EQ(error_of(std::string("\x93NUMPY\x04\x00\x10\x00", 10)),
            "unsupported .npy format version 4.0");
  EXPECT_EQ(error_of(std::string("\x93NUMPY\x01\x01\x10\x00", 10)),
            "unsupported .npy format version 1.1");
  // Header length claims 0xFFFF bytes; the file holds 4.
  EXPECT_EQ(error_of(std::string("\x93NUMPY\x01\x00\xFF\xFF{'de", 14)),
            "truncated .npy header (header length 65535 exceeds the 4 bytes left in the file)");
  // A complete file cut inside its header.
  const std::string whole = npy_file(dict("<f4", "(1, 1)"), payload(std::vector<float>{1}));
  EXPECT_TRUE(contains(error_of(whole.substr(0, 30)), "truncated .npy header"));
}

TEST_F(NpyValidation, MalformedHeaders) {
  const std::string data(4, '\0');
  const auto err = [&](const std::string& d) { return error_of(npy_file(d, data)); };
  EXPECT_TRUE(contains(err("{'descr': '|u1', 'shape': (2, 2)}"), "missing 'fortran_order'"));
  EXPECT_TRUE(contains(err("{'descr': '|u1', 'fortran_order': False}"), "missing 'shape'"));
  EXPECT_TRUE(contains(err("{'fortran_order': False, 'shape': (2, 2)}"), "missing 'descr'"));
  EXPECT_TRUE(contains(err(dict("|u1", "(2, 2)") + " extra"), "unexpected text after the dict"));
  EXPECT_TRUE(contains(err("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), 'x': 1}"),
                       "unexpected key 'x'"));
  EXPECT_TRUE(contains(err("{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, "
                           "'shape': (2, 2)}"),
                       "unexpected key 'descr'"));
  EXPECT_TRUE(contains(err(dict("|u1", "(2, -2)")), "non-negative integers"));
  EXPECT_TRUE(contains(err(dict("|u1", "(2, 99999999999999999999)")), "shape entry too large"));
  EXPECT_TRUE(contains(err(dict("|u1", "[2, 2]")), "expected '('"));
  EXPECT_TRUE(
      contains(err("{'descr': '|u1', 'fortran_order': 0, 'shape': (2, 2)}"), "True or False"));
  EXPECT_TRUE(contains(err("{'descr': '|u1, 'fortran_order': False, 'shape': (2, 2)}"),
                       "malformed .npy header"));
  EXPECT_TRUE(contains(err("{'descr': '|u1"), "unterminated string"));
  EXPECT_TRUE(contains(err("not a dict"), "expected '{'"));
  EXPECT_TRUE(contains(err(""), "expected '{'"));
}

}  // namespace
