// camkit::read_input and is_supported_input: dispatch by extension and the file-level failures
// (missing, directory, empty, unreadable) that every reader shares.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

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

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The exact message read_input throws for `path`, or "" (and a failure) when it does not throw.
std::string input_error_of(const std::string& path) {
  try {
    camkit::read_input(path);
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::input);
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return {};
}

// A minimal version-1.0 .npy of one uint8 sample.
std::string tiny_npy() {
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header +
         '\xFF';
}

TEST(InputValidation, SupportedExtensionsAnyCase) {
  for (const char* p :
       {"a.png", "a.PNG", "dir.x/a.jpg", "a.JPEG", "a.bmp", "a.tif", "a.TIFF", "a.npy", "a.Npy"}) {
    EXPECT_TRUE(camkit::is_supported_input(p)) << p;
  }
  for (const char* p : {"a.gif", "a.webp", "a", "a.npz", "png", "a.png.txt", ".npy", "a."}) {
    EXPECT_FALSE(camkit::is_supported_input(p)) << p;
  }
}

TEST(InputValidation, UnsupportedExtension) {
  EXPECT_EQ(input_error_of("/nonexistent/photo.xyz"),
            "/nonexistent/photo.xyz: unsupported file type '.xyz'");
  EXPECT_EQ(input_error_of("/nonexistent/README"),
            "/nonexistent/README: unsupported file type (no extension)");
}

TEST(InputValidation, DispatchesImagesAndArrays) {
  TempDir dir;
  const std::string png = dir.file("UPPER.PNG");
  ASSERT_TRUE(cv::imwrite(dir.file("tmp.png"), cv::Mat(2, 3, CV_8UC1, cv::Scalar(255))));
  fs::rename(dir.file("tmp.png"), png);
  const camkit::Image im = camkit::read_input(png);
  EXPECT_EQ(im.width, 3);
  EXPECT_EQ(im.at(1, 2, 0), 1.0f);

  const std::string npy = dir.file("one.NPY");
  write_bytes(npy, tiny_npy());
  const camkit::Image arr = camkit::read_input(npy);
  EXPECT_EQ(arr.bit_depth, 8);
  EXPECT_EQ(arr.data, std::vector<float>{1.0f});
}

TEST(InputValidation, MissingFile) {
  TempDir dir;
  for (const char* name : {"missing.png", "missing.npy", "no_dir/missing.jpg"}) {
    const std::string path = dir.file(name);
    EXPECT_EQ(input_error_of(path), path + ": no such file");
  }
}

TEST(InputValidation, Directory) {
  TempDir dir;
  for (const char* name : {"folder.png", "folder.npy"}) {
    const std::string path = dir.file(name);
    fs::create_directory(path);
    EXPECT_EQ(input_error_of(path), path + ": is a directory");
  }
}

TEST(InputValidation, EmptyFile) {
  TempDir dir;
  for (const char* name : {"empty.jpg", "empty.npy", "empty.tiff"}) {
    const std::string path = dir.file(name);
    write_bytes(path, "");
    EXPECT_EQ(input_error_of(path), path + ": empty file");
  }
}

TEST(InputValidation, UnreadableFile) {
  TempDir dir;
  for (const char* name : {"secret.png", "secret.npy"}) {
    const std::string path = dir.file(name);
    write_bytes(path, tiny_npy());
    fs::permissions(path, fs::perms::none);
    // root (and CAP_DAC_OVERRIDE) reads it anyway; then there is no failure to observe.
    if (::access(path.c_str(), R_OK) == 0) GTEST_SKIP() << "permissions are not enforced here";
    EXPECT_EQ(input_error_of(path), path + ": cannot read (Permission denied)");
  }
}

}  // namespace
