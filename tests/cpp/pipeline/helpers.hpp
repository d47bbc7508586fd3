// Running the camkit binary and comparing output folders, for the pipeline tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace camkit::testing {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

inline std::string model_path(const std::string& name) {
  return std::string(CAMKIT_FIXTURES) + "/models/" + name + ".pt";
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Runs `camkit ARGS` through the shell (stderr to a file, so it is not a terminal); `before`
/// is shell text run first in the same shell (e.g. "ulimit -v 1600000;").
inline Result camkit(const std::string& args, const std::string& before = "") {
  const fs::path err_file =
      fs::temp_directory_path() / ("camkit-pipe-test-" + std::to_string(::getpid()) + ".err");
  const std::string cmd =
      before + " " + std::string(CAMKIT_CLI) + " " + args + " 2>" + err_file.string();
  Result r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_file);
  fs::remove(err_file);
  return r;
}

inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(s);
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

/// Lines of `text` that mention `what`.
inline int mentions(const std::string& text, const std::string& what) {
  int n = 0;
  for (const auto& line : lines(text)) n += line.find(what) != std::string::npos;
  return n;
}

/// Every file below `dir`: relative path -> bytes.
inline std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).generic_string()] = read_file(e.path());
  return out;
}

/// Byte-compares two output folders; names the first differences.
inline void expect_same_tree(const fs::path& a, const fs::path& b) {
  const auto ta = tree(a), tb = tree(b);
  std::vector<std::string> names_a, names_b;
  for (const auto& [k, v] : ta) names_a.push_back(k);
  for (const auto& [k, v] : tb) names_b.push_back(k);
  ASSERT_EQ(names_a, names_b) << a << " vs " << b;
  int shown = 0;
  for (const auto& [k, v] : ta)
    if (v != tb.at(k) && shown++ < 5)
      ADD_FAILURE() << k << " differs between " << a << " and " << b;
}

/// A test's own temporary folder, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("camkit-pipe-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!std::getenv("CAMKIT_KEEP_TEST_DIR")) fs::remove_all(dir_);
  }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  void write_png(const std::string& rel, int h, int w, int seed) {
    cv::Mat m(h, w, CV_8UC3);
    cv::RNG rng(static_cast<uint64_t>(seed) + 1);
    rng.fill(m, cv::RNG::UNIFORM, 0, 255);
    fs::create_directories(fs::path(path(rel)).parent_path());
    ASSERT_TRUE(cv::imwrite(path(rel), m));
  }
  void write(const std::string& rel, const std::string& bytes) {
    fs::create_directories(fs::path(path(rel)).parent_path());
    std::ofstream(path(rel), std::ios::binary) << bytes;
  }
  /// Records (*.json) below `rel`, parsed, by relative path.
  std::map<std::string, nlohmann::json> records(const std::string& rel) const {
    std::map<std::string, nlohmann::json> out;
    for (const auto& e : fs::recursive_directory_iterator(path(rel)))
      if (e.path().extension() == ".json")
        out[fs::relative(e.path(), path(rel)).generic_string()] =
            nlohmann::json::parse(read_file(e.path()));
    return out;
  }
  fs::path dir_;
};

}  // namespace camkit::testing
