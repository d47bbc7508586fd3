// write_report over a fake explain output: images on disk, escaping, boxes, skipped records.
#include "camkit/report.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kNastyLabel = "<b>&\"";

camkit::Rgb8 gradient(int h, int w) {
  camkit::Rgb8 p{h, w, std::vector<std::uint8_t>(static_cast<std::size_t>(h) * w * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* px = &p.data[(static_cast<std::size_t>(y) * w + x) * 3];
      px[0] = static_cast<std::uint8_t>(x * 255 / w);
      px[1] = static_cast<std::uint8_t>(y * 255 / h);
      px[2] = 90;
    }
  return p;
}

void write_text(const fs::path& path, const std::string& text) {
  camkit::write_file_atomic(path.string(), text);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json entry(int cls, const std::string& label, double score) {
  return {{"class", cls},
          {"label", label.empty() ? json() : json(label)},
          {"score", score},
          {"logit", score * 4 - 1}};
}

// A record as camkit explain writes it, with its overlay PNGs next to it.
json record(const fs::path& dir, const std::string& stem, const std::string& input, int w, int h,
            int channels, const std::vector<std::pair<json, json>>& classes) {
  json r{{"input", input},
         {"image", {{"width", w}, {"height", h}, {"channels", channels}}},
         {"model", "/models/tiny.pt"},
         {"method", "cam"},
         {"feature_layer", "features.6"},
         {"feature_shape", {32, 4, 5}},
         {"predictions", json::array()},
         {"explanations", json::array()}};
  for (const auto& [e, box] : classes) {
    r["predictions"].push_back(e);
    json x = e;
    x["overlay"] = stem + "." + std::to_string(e["class"].get<int>()) + ".png";
    x["box"] = box;
    camkit::write_file_atomic((dir / x["overlay"].get<std::string>()).string(),
                              camkit::encode_png(gradient(h, w)));
    r["explanations"].push_back(x);
  }
  write_text(dir / (stem + ".json"), r.dump(2));
  return r;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> img_sources(const std::string& html) {
  std::vector<std::string> out;
  const std::regex img("<img src=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), img); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1]);
  return out;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("camkit_report_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    out_ = root_ / "out";
    fs::create_directories(out_ / "sub");
    fs::create_directories(out_ / "odd dir");
    const fs::path in = root_ / "in";
    // A wide photo (shrunk to 512 px) and a grey float array (no browser shows .npy).
    camkit::write_file_atomic((in / "cat.png").string(), camkit::encode_png(gradient(200, 800)));
    camkit::Map grey{20, 24, std::vector<float>(20 * 24)};
    for (std::size_t i = 0; i < grey.data.size(); ++i) grey.data[i] = static_cast<float>(i % 24);
    camkit::write_file_atomic((in / "scan.npy").string(), camkit::encode_npy(grey));

    record(
        out_, "cat", (in / "cat.png").string(), 800, 200, 3,
        {{entry(3, kNastyLabel, 0.8734), json{200, 50, 600, 150}}, {entry(1, "dog", 0.1), json()}});
    json scan = record(out_ / "sub", "scan", (in / "scan.npy").string(), 24, 20, 1,
                       {{entry(0, "", 0.91), json{3, 2, 15, 12}}});
    scan["decision"] = "positive";
    write_text(out_ / "sub" / "scan.json", scan.dump());
    record(out_ / "odd dir", "a#1", (in / "gone.png").string(), 10, 10, 3,
           {{entry(2, "x", 0.5), json{0, 0, 10, 10}}});
    write_text(out_ / "bad.json", "{\"explanations\": [");
    write_text(out_ / "settings.json", "{\"threads\": 2}");
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_, out_;
};

TEST_F(ReportTest, WritesPageWhoseImagesAllExist) {
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_EQ(s.index, (out_ / "index.html").string());
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.explanations, 4);
  EXPECT_EQ(s.missing_inputs, 1);
  const std::string html = read_text(s.index);
  const std::vector<std::string> srcs = img_sources(html);
  // cat: input + 2 overlays; scan: input + 1; a#1: overlay only (its input is gone).
  ASSERT_EQ(srcs.size(), 6u) << html;
  for (const std::string& src : srcs) {
    EXPECT_EQ(src.find("://"), std::string::npos) << src;
    EXPECT_TRUE(fs::is_regular_file(out_ / url_decode(src))) << src;
  }
  EXPECT_NE(std::find(srcs.begin(), srcs.end(), "_report/sub/scan.png"), srcs.end());
  EXPECT_NE(std::find(srcs.begin(), srcs.end(), "odd%20dir/a%231.2.png"), srcs.end());
  EXPECT_NE(html.find("input not found"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos) << "no external URLs";
  // Cards in path order.
  EXPECT_LT(html.find("_report/cat.png"), html.find("odd%20dir/a%231.2.png"));
  EXPECT_LT(html.find("odd%20dir/a%231.2.png"), html.find("_report/sub/scan.png"));
}

TEST_F(ReportTest, DisplayCopiesAreShrunkAndColourMapped) {
  camkit::ReportOptions opt;
  opt.image_colormap = camkit::Colormap::bone;
  camkit::write_report(out_.string(), opt);
  const cv::Mat cat = cv::imread((out_ / "_report" / "cat.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(cat.cols, 512);
  EXPECT_EQ(cat.rows, 128);
  const cv::Mat scan = cv::imread((out_ / "_report/sub/scan.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(scan.type(), CV_8UC3);
  EXPECT_EQ(scan.cols, 24);
  const cv::Vec3b bgr = scan.at<cv::Vec3b>(0, 12);
  EXPECT_GT(bgr[0], bgr[2]) << "bone is bluish, not grey";
}

TEST_F(ReportTest, EscapesRecordStrings) {
  const std::string html = read_text(camkit::write_report(out_.string()).index);
  EXPECT_EQ(html.find(kNastyLabel), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;&amp;&quot;"), std::string::npos);
  EXPECT_EQ(camkit::html_escape("a<'>&\"b"), "a&lt;&#39;&gt;&amp;&quot;b");
}

TEST_F(ReportTest, BoxAsPercentagesOfTheImage) {
  const std::string html = read_text(camkit::write_report(out_.string()).index);
  // cat: box [200, 50, 600, 150] on 800 x 200.
  EXPECT_NE(html.find("left:25.000%;top:25.000%;width:50.000%;height:50.000%"), std::string::npos);
  // scan: [3, 2, 15, 12] on 24 x 20.
  EXPECT_NE(html.find("left:12.500%;top:10.000%;width:50.000%;height:50.000%"), std::string::npos);
  EXPECT_NE(html.find("left:0.000%;top:0.000%;width:100.000%;height:100.000%"), std::string::npos);
  const std::regex box("class=\"box\"");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(html.begin(), html.end(), box), std::sregex_iterator()),
      3);
}

TEST_F(ReportTest, ScoresAndBinaryDecision) {
  const std::string html = read_text(camkit::write_report(out_.string()).index);
  EXPECT_NE(html.find("0.873"), std::string::npos);
  EXPECT_EQ(html.find("0.8734"), std::string::npos);
  EXPECT_NE(html.find("positive \xC2\xB7 p = 0.910"), std::string::npos);
  EXPECT_NE(html.find("/models/tiny.pt"), std::string::npos);
}

TEST_F(ReportTest, CorruptRecordSkippedWithError) {
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].find("bad.json"), std::string::npos) << s.errors[0];
  EXPECT_EQ(s.errors[0].find('\n'), std::string::npos);
  // A record with a field of the wrong type is skipped too.
  write_text(out_ / "typed.json", R"({"input": 3, "predictions": [], "explanations": []})");
  const camkit::ReportSummary t = camkit::write_report(out_.string());
  ASSERT_EQ(t.errors.size(), 2u);
  EXPECT_NE(t.errors[1].find("typed.json: input: expected a string"), std::string::npos)
      << t.errors[1];
  EXPECT_EQ(t.records, 3);
}

TEST_F(ReportTest, LazyImagesForLargeReports) {
  camkit::ReportOptions opt;
  EXPECT_EQ(read_text(camkit::write_report(out_.string(), opt).index).find("loading="),
            std::string::npos);
  opt.lazy_after = 2;
  EXPECT_NE(read_text(camkit::write_report(out_.string(), opt).index).find("loading=\"lazy\""),
            std::string::npos);
}

TEST_F(ReportTest, NoRecordsOrNoDirectoryThrow) {
  const fs::path empty = root_ / "empty";
  fs::create_directories(empty);
  write_text(empty / "settings.json", "{}");
  try {
    camkit::write_report(empty.string());
    FAIL() << "expected an error";
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::input);
    EXPECT_NE(std::string(e.what()).find("no camkit records"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(empty / "index.html"));
  try {
    camkit::write_report((root_ / "nope").string());
    FAIL() << "expected an error";
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::usage);
  }
}

// The CLI: stdout is the page's path; a skipped record makes the exit status 1.
TEST_F(ReportTest, CommandLine) {
  const std::string cli = CAMKIT_CLI;
  if (cli.empty()) GTEST_SKIP() << "built without the camkit command (CAMKIT_TORCH off)";
  ASSERT_TRUE(fs::exists(cli)) << cli << " is missing: build the camkit_cli target";
  const std::string log = (root_ / "stderr.txt").string();
  auto run = [&](const std::string& args, std::string& out) {
    FILE* p = ::popen((cli + " report " + args + " 2>" + log).c_str(), "r");
    char buf[512];
    out.clear();
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string out;
  EXPECT_EQ(run("'" + out_.string() + "' --title 'Val set' --image-colormap bone", out), 1);
  EXPECT_EQ(out, (out_ / "index.html").string() + "\n");
  EXPECT_NE(read_text(log).find("bad.json"), std::string::npos);
  EXPECT_NE(read_text(out_ / "index.html").find("<title>Val set</title>"), std::string::npos);
  fs::remove(out_ / "bad.json");
  EXPECT_EQ(run("'" + out_.string() + "'", out), 0);
  EXPECT_EQ(run("'" + (root_ / "nope").string() + "'", out), 2);
  EXPECT_EQ(run("'" + out_.string() + "' --image-colormap jet", out), 2);
  fs::create_directories(root_ / "empty");
  EXPECT_EQ(run("'" + (root_ / "empty").string() + "'", out), 1);
  EXPECT_NE(read_text(log).find("no camkit records"), std::string::npos);
}

// Records of one input under several methods: one table, a column per method (sorted), a row
// per class, the saved faithfulness figures in their method's column head; a malformed
// faithfulness file is reported like a malformed record.
TEST(ReportComparison, OneColumnPerMethod) {
  const fs::path root =
      fs::temp_directory_path() / ("camkit_report_compare_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path in = root / "cat.png";
  camkit::write_file_atomic(in.string(), camkit::encode_png(gradient(20, 30)));
  for (const char* m : {"scorecam", "gradcam", "eigencam"}) {
    const fs::path dir = root / "out" / (std::string("method-") + m);
    fs::create_directories(dir);
    json r = record(dir, "cat", in.string(), 30, 20, 3,
                    {{entry(2, "tree", 0.7), json()}, {entry(0, "cat", 0.2), json()}});
    r["method"] = m;
    write_text(dir / "cat.json", r.dump(2));
  }
  // Another input with one method only keeps its card.
  record(root / "out", "lone", in.string() + ".other", 30, 20, 3, {{entry(1, "car", 0.5), json()}});
  const json faith{{"model", "m.pt"},
                   {"method", "gradcam"},
                   {"faithfulness",
                    {{"method", "gradcam"},
                     {"class", "predicted"},
                     {"steps", 8},
                     {"images", 1},
                     {"deletion_auc", 0.123456},
                     {"insertion_auc", 0.5},
                     {"average_drop", 0.25},
                     {"increase_in_confidence", nullptr}}}};
  write_text(root / "out" / "method-gradcam" / "faithfulness.json", faith.dump());
  const camkit::ReportSummary s = camkit::write_report((root / "out").string());
  EXPECT_TRUE(s.errors.empty());
  const std::string html = read_text(root / "out" / "index.html");
  const std::string::size_type at = html.find("<article class=\"card compare\"");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(html.find("<article class=\"card compare\"", at + 1), std::string::npos);
  const std::string table = html.substr(at, html.find("</article>", at) - at);
  std::vector<std::string> cols;
  const std::regex col("class=\"method\" data-method=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), col);
       it != std::sregex_iterator(); ++it)
    cols.push_back((*it)[1]);
  EXPECT_EQ(cols, (std::vector<std::string>{"eigencam", "gradcam", "scorecam"}));
  const std::regex row("<tr data-class=");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(table.begin(), table.end(), row), std::sregex_iterator()),
      2);
  EXPECT_NE(table.find("data-metric=\"deletion_auc\">0.1235<"), std::string::npos);
  EXPECT_NE(table.find("increase in confidence <b>n/a</b>"), std::string::npos);
  // One figure column only: gradcam's head; the others have none.
  EXPECT_EQ(table.find("data-metric", table.find("data-metric=\"insertion_auc\"") + 1),
            std::string::npos);
  EXPECT_NE(html.find("<article class=\"card\""), std::string::npos);  // the lone record
  EXPECT_NE(html.find("<dd>2</dd>"), std::string::npos);  // inputs: cat.png and the other
  json bad = faith;
  bad["faithfulness"]["deletion_auc"] = "low";
  write_text(root / "out" / "bad_faith.json", bad.dump());
  const camkit::ReportSummary s2 = camkit::write_report((root / "out").string());
  ASSERT_EQ(s2.errors.size(), 1u);
  EXPECT_NE(s2.errors[0].find("bad_faith.json"), std::string::npos);
  fs::remove_all(root);
}

// Two models' maps of one input are not a comparison of methods: each record keeps its card.
TEST(ReportComparison, TwoModelsOfOneInputAreTwoCards) {
  const fs::path root =
      fs::temp_directory_path() / ("camkit_report_models_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path in = root / "cat.png";
  camkit::write_file_atomic(in.string(), camkit::encode_png(gradient(20, 30)));
  for (const char* m : {"cnn", "vit"}) {
    const fs::path dir = root / "out" / m;
    fs::create_directories(dir);
    json r = record(dir, "cat", in.string(), 30, 20, 3, {{entry(2, "tree", 0.7), json()}});
    r["model"] = std::string("/models/") + m + ".pt";
    r["method"] = std::string(m) == "cnn" ? "cam" : "gradcam";
    write_text(dir / "cat.json", r.dump(2));
  }
  const camkit::ReportSummary s = camkit::write_report((root / "out").string());
  EXPECT_TRUE(s.errors.empty());
  const std::string html = read_text(root / "out" / "index.html");
  EXPECT_EQ(html.find("<article class=\"card compare\""), std::string::npos);
  size_t cards = 0;
  for (auto at = html.find("<article class=\"card\""); at != std::string::npos;
       at = html.find("<article class=\"card\"", at + 1))
    ++cards;
  EXPECT_EQ(cards, 2u);
  fs::remove_all(root);
}

}  // namespace
