#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "camkit/output.hpp"

namespace {

namespace fs = std::filesystem;

camkit::Map ramp(int h, int w, float start) {
  camkit::Map m;
  m.height = h;
  m.width = w;
  for (int i = 0; i < h * w; ++i) m.data.push_back(start + 0.25f * static_cast<float>(i));
  return m;
}

std::string temp_file(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("camkit_encode_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

TEST(OutputEncodeNpy, MapReadsBackAsOneGreyFloatImage) {
  const camkit::Map m = ramp(3, 5, -1.0f);
  const std::string path = temp_file("map.npy");
  camkit::write_file_atomic(path, camkit::encode_npy(m));
  const camkit::Image im = camkit::read_npy(path);
  EXPECT_EQ(im.height, 3);
  EXPECT_EQ(im.width, 5);
  EXPECT_EQ(im.channels, 1);
  EXPECT_EQ(im.bit_depth, 0);
  EXPECT_EQ(im.data, m.data);
}

TEST(OutputEncodeNpy, StackReadsBackAsVolumeSlicesInOrder) {
  const std::vector<camkit::Map> stack = {ramp(2, 4, 0.0f), ramp(2, 4, 10.0f), ramp(2, 4, 20.0f)};
  const std::string bytes = camkit::encode_npy(stack);
  // NumPy's header layout: the shape tuple, padded so the data starts at a multiple of 64.
  EXPECT_NE(bytes.find("'shape': (3, 2, 4)"), std::string::npos);
  EXPECT_EQ((bytes.size() - 3 * 2 * 4 * sizeof(float)) % 64, 0u);
  const std::string path = temp_file("stack.npy");
  camkit::write_file_atomic(path, bytes);
  const std::vector<camkit::Image> slices = camkit::read_volume(path);
  ASSERT_EQ(slices.size(), 3u);
  for (size_t s = 0; s < 3; ++s) {
    EXPECT_EQ(slices[s].height, 2);
    EXPECT_EQ(slices[s].width, 4);
    EXPECT_EQ(slices[s].data, stack[s].data) << s;
  }
}

TEST(OutputEncodeNpy, StackOfDifferentSizesIsAUsageError) {
  try {
    camkit::encode_npy(std::vector<camkit::Map>{ramp(2, 4, 0.0f), ramp(4, 2, 0.0f)});
    FAIL() << "no error";
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::usage);
  }
}

}  // namespace
