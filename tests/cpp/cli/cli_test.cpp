// The camkit command line end to end: outputs, records, exit codes and bad-input handling.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../model/fixtures.hpp"

namespace camkit::testing {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs the camkit binary with `args` (shell-quoted by the caller), capturing stdout and stderr.
Result camkit(const std::string& args) {
  const fs::path err_file =
      fs::temp_directory_path() / ("camkit-cli-test-" + std::to_string(::getpid()) + ".err");
  const std::string cmd = std::string(CAMKIT_CLI) + " " + args + " 2>" + err_file.string();
  Result r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  fs::remove(err_file);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(s);
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("camkit-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string model(const std::string& name) { return models_dir() + name + ".pt"; }
  std::string path(const std::string& rel) { return (dir_ / rel).string(); }

  void write(const std::string& rel, const std::string& bytes) {
    std::ofstream(dir_ / rel, std::ios::binary) << bytes;
  }
  void write_png(const std::string& rel, int h, int w) {
    cv::Mat m(h, w, CV_8UC3);
    cv::randu(m, 0, 255);
    fs::create_directories(fs::path(path(rel)).parent_path());
    ASSERT_TRUE(cv::imwrite(path(rel), m));
  }
  // No temporary or partial file anywhere under the output directory.
  void expect_no_temporaries(const std::string& out) {
    if (!fs::exists(out)) return;
    for (const auto& e : fs::recursive_directory_iterator(out))
      EXPECT_EQ(e.path().filename().string().find(".camkit-tmp."), std::string::npos) << e.path();
  }
  fs::path dir_;
};

TEST_F(Cli, ExplainWritesRecordsOverlaysAndRawMapsEqualToPyTorch) {
  // The fixture's input is a (1, C, H, W) float array: no preprocessing applies to it.
  const std::string name = "custom_gap_flatten_linear_traced";
  fs::copy_file(models_dir() + name + ".input.npy", dir_ / "in" / "x.npy");
  write_png("in/sub/pic.png", 64, 80);
  const Result r = camkit("explain " + model(name) + " " + path("in") + " -o " + path("out") +
                          " --class 2,4 --raw --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto records = lines(r.out);
  ASSERT_EQ(records.size(), 2u);
  for (const auto& line : records) {
    const auto rec = nlohmann::json::parse(line);
    for (const char* key : {"input", "image", "model", "method", "feature_layer", "predictions",
                            "explanations", "feature_shape"})
      EXPECT_TRUE(rec.contains(key)) << key;
    ASSERT_EQ(rec["explanations"].size(), 2u);
    EXPECT_EQ(rec["explanations"][0]["class"], 2);
    EXPECT_EQ(rec["explanations"][1]["class"], 4);
  }
  // Directory structure is kept; files named <stem>.<class>.{png,npy}.
  for (const char* f : {"out/x.json", "out/x.2.png", "out/x.4.png", "out/x.2.npy",
                        "out/sub/pic.json", "out/sub/pic.2.png", "out/sub/pic.4.npy"})
    EXPECT_TRUE(fs::exists(path(f))) << f;
  const NpyArray cams = read_reference(models_dir() + name + ".cams.npy");
  const NpyArray raw = read_reference(path("out/x.4.npy"));
  ASSERT_EQ(raw.shape, (std::vector<int64_t>{cams.shape[1], cams.shape[2]}));
  const size_t plane = raw.values.size();
  std::vector<float> ref(cams.values.begin() + 4 * plane, cams.values.begin() + 5 * plane);
  EXPECT_LT(max_rel_error(raw.values, ref), 1e-4);
  const cv::Mat overlay = cv::imread(path("out/sub/pic.2.png"));
  EXPECT_EQ(overlay.rows, 64);
  EXPECT_EQ(overlay.cols, 80);
  expect_no_temporaries(path("out"));
}

TEST_F(Cli, BadInputsAreReportedOnOneLineAndTheOthersComplete) {
  const std::string name = "custom_gap_flatten_linear_traced";
  write_png("in/good.png", 64, 80);
  write("in/empty.png", "");
  write("in/corrupt.png", std::string("\x89PNG\r\n\x1a\nthis is not a png", 24));
  write("in/notes.txt", "hello");
  {
    std::ifstream src(path("in/good.png"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
    write("in/truncated.png", bytes.substr(0, bytes.size() / 2));
  }
  // float32 (2, 8, 8) with a NaN, and a 2-channel array the 3-channel model cannot take.
  auto npy = [](const std::string& shape, size_t n, float fill) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append(118 - header.size(), ' ');
    header += '\n';
    std::string out("\x93NUMPY\x01\x00\x76\x00", 10);
    out += header;
    std::vector<float> v(n, fill);
    out.append(reinterpret_cast<const char*>(v.data()), n * 4);
    return out;
  };
  write("in/nan.npy", npy("(8, 8)", 64, std::nanf("")));
  write("in/two_channels.npy", npy("(8, 8, 2)", 128, 0.5f));
  const Result r =
      camkit("explain " + model(name) + " " + path("in/good.png") + " " + path("in/empty.png") +
             " " + path("in/corrupt.png") + " " + path("in/truncated.png") + " " +
             path("in/nan.npy") + " " + path("in/two_channels.npy") + " " + path("in/notes.txt") +
             " " + path("in/missing.png") + " -o " + path("out"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(fs::exists(path("out/good.json")));
  const auto errors = lines(r.err);
  for (const char* f : {"empty.png", "corrupt.png", "truncated.png", "nan.npy", "two_channels.npy",
                        "notes.txt", "missing.png"}) {
    int mentions = 0;
    for (const auto& line : errors)
      if (line.find(f) != std::string::npos) ++mentions;
    EXPECT_EQ(mentions, 1) << f << "\n" << r.err;
    EXPECT_FALSE(fs::exists(path(std::string("out/") + fs::path(f).stem().string() + ".json")));
  }
  expect_no_temporaries(path("out"));
}

TEST_F(Cli, UsageErrorsExitWith2) {
  const std::string m = model("custom_gap_flatten_linear_traced");
  write_png("in/a.png", 64, 80);
  for (const std::string& args :
       {std::string("explain"), "explain " + m + " " + path("in/a.png") + " --bogus",
        "explain " + m + " " + path("in/a.png") + " --class 99",
        "explain " + m + " " + path("in/a.png") + " --colormap nope",
        "explain " + m + " " + path("in/a.png") + " --layer no.such.module",
        "explain " + m + " " + path("in/a.png") + " --alpha 2",
        "explain " + m + " " + path("in/a.png") + " --preset nope",
        "explain " + m + " " + path("in/a.png") + " --device cuda:7"}) {
    const Result r = camkit(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << args << "\n" << r.err;
  }
}

TEST_F(Cli, ModelWithoutCamHeadExitsWith3AndSaysWhy) {
  write_png("in/a.png", 64, 64);
  for (const char* name : {"vgg11_traced", "mobilenet_v3_small_traced"}) {
    const Result r = camkit("explain " + model(name) + " " + path("in/a.png") + " -o " +
                            path("out") + " --method cam");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("no CAM head"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--method gradcam"), std::string::npos) << r.err;
    // By default such a model is explained with Grad-CAM, and says so.
    const Result dflt = camkit("explain " + model(name) + " " + path("in/a.png") + " -o " +
                               path("out2") + " --json");
    EXPECT_EQ(dflt.code, 0) << dflt.err;
    EXPECT_NE(dflt.err.find("using Grad-CAM"), std::string::npos) << dflt.err;
    EXPECT_EQ(nlohmann::json::parse(dflt.out)["method"], "gradcam");
    // camkit info describes every model a method can explain: exit 0, with the reason.
    const Result info = camkit("info --json " + model(name));
    ASSERT_EQ(info.code, 0) << info.err;
    const auto j = nlohmann::json::parse(info.out);
    EXPECT_FALSE(j["head"]["found"].get<bool>());
    EXPECT_FALSE(j["head"]["reason"].get<std::string>().empty());
    EXPECT_TRUE(j["layer"]["found"].get<bool>());
    EXPECT_TRUE(j["gradients"]["available"].get<bool>());
  }
  write("in/fake.pt", "not a model");
  EXPECT_EQ(camkit("explain " + path("in/fake.pt") + " " + path("in/a.png")).code, 3);
}

TEST_F(Cli, InfoJsonDescribesTheHead) {
  const Result r = camkit("info --json " + model("densenet121_traced"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["head"]["found"].get<bool>());
  EXPECT_EQ(j["head"]["feature_layer"], "features");
  EXPECT_EQ(j["head"]["feature_ops"], nlohmann::json::array({"relu"}));
  EXPECT_EQ(j["head"]["classifier"], "classifier");
  EXPECT_EQ(j["input"]["channels"], 3);
  bool has_block = false;
  for (const auto& m : j["modules"]) has_block |= m == "features.denseblock4";
  EXPECT_TRUE(has_block);
  const Result text = camkit("info " + model("squeezenet1_1_traced"));
  EXPECT_NE(text.out.find("conv1x1"), std::string::npos) << text.out;
}

TEST_F(Cli, SingleLogitModelReportsSigmoidAndDecision) {
  cv::Mat grey(224, 224, CV_8UC1);
  cv::randu(grey, 0, 255);
  cv::imwrite(path("in/xray.png"), grey);
  const Result r = camkit("explain " + model("resnet18_xray_1ch_traced") + " " +
                          path("in/xray.png") + " --json -k 5 -o " + path("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rec = nlohmann::json::parse(lines(r.out).at(0));
  ASSERT_EQ(rec["predictions"].size(), 1u);
  const float logit = rec["predictions"][0]["logit"], score = rec["predictions"][0]["score"];
  EXPECT_NEAR(score, 1.0 / (1.0 + std::exp(-logit)), 1e-6);
  EXPECT_EQ(rec["decision"], score >= 0.5f ? "abnormal" : "negative");
}

TEST_F(Cli, NoNormalisationIsAnnouncedOnStderr) {
  write_png("in/a.png", 64, 80);
  const Result r = camkit("explain " + model("custom_gap_flatten_linear_traced") + " " +
                          path("in/a.png") + " -o " + path("out"));
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("no normalisation"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "results go to files unless --json";
}

}  // namespace
}  // namespace camkit::testing
