// write_report with records of 3-D models: the three-plane viewer's embedded data, missing
// mosaic files (the page is still written, with empty URLs the script shows as placeholders),
// validation of the mosaics and peak voxels, escaping inside the JSON.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "camkit/output.hpp"
#include "camkit/report.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kD = 4, kH = 6, kW = 5;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_png(const fs::path& path, int width, int height) {
  camkit::Rgb8 p{height, width, std::vector<std::uint8_t>(width * height * 3, 90)};
  camkit::write_file_atomic(path.string(), camkit::encode_png(p));
}

// DIR/scan.nii.json and its mosaics as `camkit explain` writes them for a kD x kH x kW scan
// (2 columns of tiles per mosaic).
json scan_record(const fs::path& out, const std::string& label = "lesion") {
  const int sizes[3] = {kD, kH, kW};
  const int tile_w[3] = {kW, kW, kH}, tile_h[3] = {kH, kD, kD};
  const char* axes[3] = {"d", "h", "w"};
  json mosaics = json::array(), maps = json::array();
  for (int a = 0; a < 3; ++a) {
    const std::string file = std::string("scan.nii.slices.") + axes[a] + ".png";
    const std::string map = std::string("scan.nii.1.slices.") + axes[a] + ".png";
    const int rows = (sizes[a] + 1) / 2;
    write_png(out / file, 2 * tile_w[a], rows * tile_h[a]);
    write_png(out / map, 2 * tile_w[a], rows * tile_h[a]);
    mosaics.push_back({{"axis", axes[a]},
                       {"slices", sizes[a]},
                       {"columns", 2},
                       {"tile_width", tile_w[a]},
                       {"tile_height", tile_h[a]},
                       {"file", file}});
    maps.push_back({{"axis", axes[a]}, {"file", map}});
  }
  const json entry{{"class", 1}, {"label", label}, {"score", 0.8}, {"logit", 1.5}};
  json e = entry;
  e["peak"] = {{"voxel", {3, 2, 4}}, {"coordinates", {3.5, 2.5, 4.5}}};
  e["box"] = nullptr;
  e["mosaics"] = maps;
  e["overlay"] = "scan.nii.1.d3.png";
  json r{{"input", "in/scan.nii.gz"},
         {"image", {{"width", kW}, {"height", kH}, {"channels", 1}, {"depth", kD}}},
         {"model", "m.pt"},
         {"method", "cam"},
         {"volume3d",
          {{"kind", "nifti"},
           {"affine", {{2, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1.5, 0}, {0, 0, 0, 1}}},
           {"mosaics", mosaics}}},
         {"predictions", {entry}},
         {"explanations", {e}}};
  camkit::write_file_atomic((out / "scan.nii.json").string(), r.dump(2));
  return r;
}

json embedded(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"volume3d-data\">";
  const auto begin = html.find(open);
  if (begin == std::string::npos) return json();
  const auto start = begin + open.size();
  return json::parse(html.substr(start, html.find("</script>", start) - start));
}

class Viewer3dTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = fs::temp_directory_path() /
           ("camkit_viewer3d_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(out_);
    fs::create_directories(out_);
  }
  void TearDown() override { fs::remove_all(out_); }
  fs::path out_;
};

TEST_F(Viewer3dTest, EmbedsThePlanesMosaicsAndPeak) {
  scan_record(out_);
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_EQ(s.records, 1);
  EXPECT_EQ(s.volumes, 1);
  EXPECT_EQ(s.missing_inputs, 0) << "a 3-D record's input is not looked for";
  EXPECT_EQ(s.missing_pictures, 0);
  EXPECT_TRUE(s.errors.empty());
  const std::string html = read_text(s.index);
  for (const char* id : {"v3-case", "v3-class", "v3-overlay", "v3-alpha", "v3-peak", "v3-canvas-d",
                         "v3-canvas-h", "v3-canvas-w", "v3-slider-d", "v3-slider-h", "v3-slider-w"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_EQ(html.find("<main>"), std::string::npos) << "no card for a 3-D record";
  const json data = embedded(html);
  ASSERT_EQ(data["cases"].size(), 1u) << html;
  const json& c = data["cases"][0];
  EXPECT_EQ(c["dims"], json({kD, kH, kW}));
  EXPECT_EQ(c["spacing"], json({2.0, 1.0, 1.5}));
  EXPECT_EQ(c["axes"][1]["src"], "scan.nii.slices.h.png");
  EXPECT_EQ(c["axes"][1]["tw"], kW);
  EXPECT_EQ(c["axes"][1]["th"], kD);
  EXPECT_EQ(c["classes"][0]["peak"], json({3, 2, 4}));
  EXPECT_EQ(c["classes"][0]["maps"][2], "scan.nii.1.slices.w.png");
  EXPECT_FALSE(fs::exists(out_ / "_report"));
}

TEST_F(Viewer3dTest, MissingMosaicsStillGiveAPage) {
  scan_record(out_);
  fs::remove(out_ / "scan.nii.slices.h.png");
  fs::remove(out_ / "scan.nii.1.slices.w.png");
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_TRUE(s.errors.empty()) << s.errors.front();
  EXPECT_EQ(s.missing_pictures, 2);
  const std::string html = read_text(s.index);
  EXPECT_NE(html.find("Slice pictures missing</dt><dd>2<"), std::string::npos);
  const json c = embedded(html)["cases"][0];
  EXPECT_EQ(c["axes"][1]["src"], "") << "the script shows the placeholder";
  EXPECT_EQ(c["axes"][1]["file"], "scan.nii.slices.h.png") << "which names the file";
  EXPECT_EQ(c["axes"][0]["src"], "scan.nii.slices.d.png");
  EXPECT_EQ(c["classes"][0]["maps"][2], "");
  EXPECT_EQ(c["classes"][0]["map_files"][2], "scan.nii.1.slices.w.png");
}

TEST_F(Viewer3dTest, ARecordWithoutMosaicsIsShownWithPlaceholders) {
  json r = scan_record(out_);
  r["volume3d"].erase("mosaics");
  r["explanations"][0].erase("mosaics");
  r["explanations"][0].erase("overlay");  // explain --no-overlay
  camkit::write_file_atomic((out_ / "scan.nii.json").string(), r.dump());
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_TRUE(s.errors.empty()) << s.errors.front();
  const json c = embedded(read_text(s.index))["cases"][0];
  EXPECT_TRUE(c["axes"][0].is_null() && c["axes"][1].is_null() && c["axes"][2].is_null());
}

TEST_F(Viewer3dTest, BadMosaicsAndPeaksSkipTheRecord) {
  auto reason = [&](const json& r) {
    camkit::write_file_atomic((out_ / "scan.nii.json").string(), r.dump());
    try {
      const camkit::ReportSummary s = camkit::write_report(out_.string());
      return std::string("no error");
    } catch (const std::exception& e) {  // the only record: nothing readable, one message
      return std::string(e.what());
    }
  };
  json r = scan_record(out_);
  r["volume3d"]["mosaics"][1]["slices"] = kH - 1;
  EXPECT_NE(reason(r).find("volume3d.mosaics[1].slices: 5 for a volume of 6 along this axis"),
            std::string::npos)
      << reason(r);
  r = scan_record(out_);
  r["volume3d"]["mosaics"][2]["axis"] = "x";
  EXPECT_NE(reason(r).find("volume3d.mosaics[2].axis: expected \"d\", \"h\" or \"w\""),
            std::string::npos)
      << reason(r);
  r = scan_record(out_);
  r["explanations"][0]["peak"]["voxel"] = {kD, 0, 0};
  EXPECT_NE(reason(r).find("explanations[0].peak.voxel: outside the volume of 4x6x5"),
            std::string::npos)
      << reason(r);
  r = scan_record(out_);
  r["image"].erase("depth");
  EXPECT_NE(reason(r).find("image.depth: missing"), std::string::npos) << reason(r);
}

TEST_F(Viewer3dTest, LabelsCannotEndTheScript) {
  scan_record(out_, "</script><b>x</b> & \"q\"");
  const std::string html = read_text(camkit::write_report(out_.string()).index);
  EXPECT_EQ(html.find("<b>x"), std::string::npos);
  EXPECT_NE(html.find("\\u003c/script>\\u003cb>x\\u003c/b>"), std::string::npos);
  // The case list (rendered as HTML) escapes it too.
  EXPECT_NE(html.find("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; 0.800"),
            std::string::npos);
}

}  // namespace
