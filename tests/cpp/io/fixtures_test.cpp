// Checks read_npy/read_image against files written by NumPy's np.save and PIL, and the values
// NumPy/PIL themselves decode from them. tests/python/fixtures_io.py (build target fx_io) writes
// them before this binary is built, so there is one test per reference file.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"

namespace {

const std::string kDir = CAMKIT_FIXTURES "/io/";

// file name -> expected result, read once.
const std::map<std::string, nlohmann::json>& manifest() {
  static const std::map<std::string, nlohmann::json> cases = [] {
    std::map<std::string, nlohmann::json> out;
    std::ifstream in(kDir + "expected.json");
    if (!in) return out;
    const nlohmann::json doc = nlohmann::json::parse(in);  // outlives the loop below
    for (const auto& c : doc.at("cases")) {
      out.emplace(c.at("file").get<std::string>(), c);
    }
    return out;
  }();
  return cases;
}

// The parameter is only the file name, so CTest's discovered names stay short and stable.
struct Reference {
  std::string file;
};

void PrintTo(const Reference& r, std::ostream* os) {
  *os << r.file;
}

std::vector<Reference> references() {
  std::vector<Reference> out;
  for (const auto& entry : manifest()) out.push_back({entry.first});
  if (out.empty()) out.push_back({"expected.json"});  // reported as missing by the test
  return out;
}

class FixtureComparison : public ::testing::TestWithParam<Reference> {};

TEST_P(FixtureComparison, MatchesNumpyOrPil) {
  const auto found = manifest().find(GetParam().file);
  ASSERT_NE(found, manifest().end())
      << "missing " << kDir << "expected.json; run " CAMKIT_PYTHON " "
      << CAMKIT_SOURCE_DIR "/tests/python/fixtures_io.py " CAMKIT_FIXTURES;
  const nlohmann::json& c = found->second;
  const std::string path = kDir + GetParam().file;

  if (c.contains("error")) {
    const std::string part = c.at("error").get<std::string>();
    try {
      camkit::read_input(path);
      FAIL() << "no error, expected '" << part << "'";
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

INSTANTIATE_TEST_SUITE_P(Reference, FixtureComparison, ::testing::ValuesIn(references()),
                         [](const ::testing::TestParamInfo<Reference>& info) {
                           std::string name = info.param.file;
                           for (char& ch : name) {
                             if (std::isalnum(static_cast<unsigned char>(ch)) == 0) ch = '_';
                           }
                           return name;
                         });

TEST(FixtureComparison, CoversEveryKindOfReference) {
  int arrays = 0, images = 0, errors = 0;
  for (const auto& entry : manifest()) {
    const bool npy = entry.first.size() > 4 && entry.first.substr(entry.first.size() - 4) == ".npy";
    if (entry.second.contains("error")) {
      ++errors;
    } else if (npy) {
      ++arrays;
    } else {
      ++images;
    }
  }
  EXPECT_GE(arrays, 13);
  EXPECT_GE(images, 10);
  EXPECT_GE(errors, 13);
}

}  // namespace
