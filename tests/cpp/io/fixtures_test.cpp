// Checks read_npy/read_image against files written by NumPy's np.save and PIL, and the values
// NumPy/PIL themselves decode from them (tests/python/fixtures_io.py, CTest fixture fx_io).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "camkit/error.hpp"
#include "camkit/image.hpp"

namespace {

const std::string kDir = CAMKIT_FIXTURES "/io/";

nlohmann::json load_cases() {
  std::ifstream in(kDir + "expected.json");
  if (!in) {
    ADD_FAILURE() << "missing " << kDir << "expected.json; run " CAMKIT_PYTHON " "
                  << CAMKIT_SOURCE_DIR "/tests/python/fixtures_io.py " CAMKIT_FIXTURES;
    return nlohmann::json::array();
  }
  return nlohmann::json::parse(in).at("cases");
}

bool is_npy(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0;
}

void check_case(const nlohmann::json& c) {
  const std::string name = c.at("file").get<std::string>();
  const std::string path = kDir + name;
  SCOPED_TRACE(name);
  if (c.contains("error")) {
    const std::string part = c.at("error").get<std::string>();
    try {
      camkit::read_input(path);
      ADD_FAILURE() << "no error, expected '" << part << "'";
    } catch (const camkit::Error& e) {
      EXPECT_EQ(e.code(), camkit::ErrorCode::input);
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    return;
  }
  const camkit::Image im = camkit::read_input(path);
  ASSERT_EQ(im.height, c.at("height").get<int>());
  ASSERT_EQ(im.width, c.at("width").get<int>());
  ASSERT_EQ(im.channels, c.at("channels").get<int>());
  EXPECT_EQ(im.bit_depth, c.at("bit_depth").get<int>());
  const auto& want = c.at("data");
  ASSERT_EQ(im.data.size(), want.size());
  const double tolerance = c.at("tolerance").get<double>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    // The JSON holds each float32 exactly, so lossless cases compare for equality.
    const float expected = static_cast<float>(want[i].get<double>());
    if (tolerance == 0.0) {
      ASSERT_EQ(im.data[i], expected) << "sample " << i;
    } else {
      ASSERT_NEAR(im.data[i], expected, tolerance) << "sample " << i;
    }
  }
}

TEST(FixtureComparison, NumpyWrittenArrays) {
  int checked = 0;
  for (const auto& c : load_cases()) {
    if (!is_npy(c.at("file").get<std::string>())) continue;
    check_case(c);
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(FixtureComparison, PilWrittenImages) {
  int checked = 0;
  for (const auto& c : load_cases()) {
    if (is_npy(c.at("file").get<std::string>())) continue;
    check_case(c);
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

}  // namespace
