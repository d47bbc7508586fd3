// write_report with volume records (MRI/CT exams): the viewer's embedded data, validation of the
// per-slice lists, escaping inside <script>, missing pictures, folders mixing images and volumes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "camkit/report.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kSlices = 5;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_png(const fs::path& path, std::uint8_t level) {
  camkit::Rgb8 p{6, 8, std::vector<std::uint8_t>(6 * 8 * 3, level)};
  camkit::write_file_atomic(path.string(), camkit::encode_png(p));
}

// DIR/<plane>/<case>.json and its pictures, as `camkit explain --volume` writes them.
json volume_record(const fs::path& out, const std::string& plane, const std::string& case_id,
                   const std::string& label = "tear") {
  const fs::path dir = out / plane;
  json slices = json::array(), cams = json::array(), peaks = json::array();
  for (int k = 0; k < kSlices; ++k) {
    const std::string n = "00" + std::to_string(k) + ".png";
    slices.push_back(case_id + "/slices/" + n);
    cams.push_back(case_id + "/cams/" + n);
    peaks.push_back(k == 3 ? 0.9 : 0.1 * k);
    write_png(dir / slices.back().get<std::string>(), static_cast<std::uint8_t>(40 * k));
    write_png(dir / cams.back().get<std::string>(), 200);
  }
  const json entry{{"class", 1}, {"label", label}, {"score", 0.93}, {"logit", 2.6}};
  json e = entry;
  e["cams"] = cams;
  e["slice_peaks"] = peaks;
  e["peak_slice"] = 3;
  json r{{"input", "data/mri/" + plane + "/" + case_id + ".npy"},
         {"image", {{"width", 8}, {"height", 6}, {"channels", 1}}},
         {"model", "models/mri.pt"},
         {"method", "cam"},
         {"feature_layer", "features"},
         {"feature_shape", {16, 2, 2}},
         {"volume",
          {{"slices", kSlices},
           {"mode", "stacked"},
           {"case", case_id},
           {"plane", plane},
           {"slice_images", slices}}},
         {"decision", "positive"},
         {"predictions", {entry}},
         {"explanations", {e}}};
  camkit::write_file_atomic((dir / (case_id + ".json")).string(), r.dump(2));
  return r;
}

void rewrite(const fs::path& path, const json& record) {
  camkit::write_file_atomic(path.string(), record.dump());
}

// The viewer's data as the page's script reads it.
json embedded(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"volume-data\">";
  const auto begin = html.find(open);
  if (begin == std::string::npos) return json();
  const auto start = begin + open.size();
  return json::parse(html.substr(start, html.find("</script>", start) - start));
}

class ViewerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("camkit_viewer_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    out_ = root_ / "out";
    volume_record(out_, "axial", "0001");
    volume_record(out_, "coronal", "0001");
    volume_record(out_, "axial", "0002");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string report() { return read_text(camkit::write_report(out_.string()).index); }

  // The reason the report gives for skipping `record`, "" when it was not skipped.
  std::string skipped(const std::string& record) {
    const camkit::ReportSummary s = camkit::write_report(out_.string());
    for (const std::string& e : s.errors)
      if (e.find(record) != std::string::npos) return e.substr(e.find(record) + record.size());
    return "";
  }

  fs::path root_, out_;
};

TEST_F(ViewerTest, EmbedsCasesWithPlanesAndPictures) {
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.volumes, 3);
  EXPECT_EQ(s.explanations, 3);
  EXPECT_EQ(s.missing_inputs, 0) << "a volume's input is not looked for";
  EXPECT_EQ(s.missing_pictures, 0);
  EXPECT_TRUE(s.errors.empty());
  const std::string html = read_text(s.index);
  for (const char* id :
       {"case-select", "plane-select", "class-select", "slice-slider", "slice-label",
        "overlay-toggle", "alpha-slider", "slice-image", "cam-image", "peak-strip", "peak-button"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  const json data = embedded(html);
  ASSERT_EQ(data["cases"].size(), 2u) << html;
  const json& c1 = data["cases"][0];
  EXPECT_EQ(c1["id"], "0001");
  ASSERT_EQ(c1["records"].size(), 2u);
  EXPECT_EQ(c1["records"][0]["view"], "axial");
  EXPECT_EQ(c1["records"][1]["view"], "coronal");
  EXPECT_EQ(data["cases"][1]["records"].size(), 1u);
  const json& axial = c1["records"][0];
  EXPECT_EQ(axial["slices"], kSlices);
  EXPECT_EQ(axial["classes"][0]["peak"], 3);
  EXPECT_EQ(axial["classes"][0]["peaks"].size(), static_cast<std::size_t>(kSlices));
  // Every URL is relative to index.html and names a file under DIR.
  for (const json& list : {axial["images"], axial["classes"][0]["cams"]})
    for (const json& url : list) {
      EXPECT_EQ(url.get<std::string>().find("://"), std::string::npos) << url;
      EXPECT_TRUE(fs::is_regular_file(out_ / url.get<std::string>())) << url;
    }
  EXPECT_EQ(axial["images"][2], "axial/0001/slices/002.png");
  // The case list shows each case with its verdicts; no display copies are made of volumes.
  EXPECT_NE(html.find("0001 \xE2\x80\x94 axial: positive 0.930"), std::string::npos);
  EXPECT_FALSE(fs::exists(out_ / "_report"));
  EXPECT_EQ(html.find("//"), std::string::npos) << "no URL, not even a script comment";
  // A volume-only page has no card grid and no filter.
  EXPECT_EQ(html.find("id=\"filter\""), std::string::npos);
  EXPECT_EQ(html.find("<main>"), std::string::npos);
}

TEST_F(ViewerTest, MixedImageAndVolumeRecords) {
  write_png(root_ / "in" / "photo.png", 120);
  write_png(out_ / "photo.3.png", 200);
  const json entry{{"class", 3}, {"label", "cat"}, {"score", 0.5}, {"logit", 0.1}};
  json e = entry;
  e["overlay"] = "photo.3.png";
  rewrite(out_ / "photo.json", {{"input", "in/photo.png"},
                                {"image", {{"width", 8}, {"height", 6}, {"channels", 3}}},
                                {"predictions", {entry}},
                                {"explanations", {e}}});
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_EQ(s.records, 4);
  EXPECT_EQ(s.volumes, 3);
  EXPECT_EQ(s.missing_inputs, 0);
  const std::string html = read_text(s.index);
  EXPECT_NE(html.find("<img src=\"_report/photo.png\""), std::string::npos);
  EXPECT_NE(html.find("<img src=\"photo.3.png\""), std::string::npos);
  EXPECT_EQ(embedded(html)["cases"].size(), 2u) << "the image record is no case";
  EXPECT_NE(html.find("id=\"filter\""), std::string::npos);
  EXPECT_LT(html.find("id=\"viewer\""), html.find("<main>")) << "viewer above the cards";
}

TEST_F(ViewerTest, PerSliceListsMustMatchTheSliceCount) {
  const fs::path file = out_ / "axial" / "0002.json";
  json r = volume_record(out_, "axial", "0002");
  r["volume"]["slice_images"].erase(0);
  rewrite(file, r);
  EXPECT_EQ(skipped("0002.json"), ": volume.slice_images: 4 entries for 5 slices");

  r = volume_record(out_, "axial", "0002");
  r["explanations"][0]["cams"].push_back("extra.png");
  rewrite(file, r);
  EXPECT_EQ(skipped("0002.json"), ": explanations[0].cams: 6 entries for 5 slices");

  r = volume_record(out_, "axial", "0002");
  r["explanations"][0]["slice_peaks"] = {1, 2};
  rewrite(file, r);
  EXPECT_EQ(skipped("0002.json"), ": explanations[0].slice_peaks: 2 entries for 5 slices");

  r = volume_record(out_, "axial", "0002");
  r["explanations"][0]["peak_slice"] = kSlices;
  rewrite(file, r);
  EXPECT_EQ(skipped("0002.json"), ": explanations[0].peak_slice: 5 is not below 5 slices");

  // The other records are still shown, and the error names the file once, on one line.
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_EQ(s.volumes, 2);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], file.string() + ": explanations[0].peak_slice: 5 is not below 5 slices");
  EXPECT_NE(read_text(s.index).find("could not be read"), std::string::npos);
}

TEST_F(ViewerTest, WrongTypesAreReported) {
  const fs::path file = out_ / "axial" / "0002.json";
  const json good = volume_record(out_, "axial", "0002");
  auto with = [&](const std::string& pointer, const json& value) {
    json r = good;
    r[json::json_pointer(pointer)] = value;
    rewrite(file, r);
    return skipped("0002.json");
  };
  EXPECT_EQ(with("/volume", "axial"), ": volume: expected an object");
  EXPECT_EQ(with("/volume/slices", "5"), ": volume.slices: expected an integer");
  EXPECT_EQ(with("/volume/slices", 0), ": volume.slices: out of range (0)");
  EXPECT_EQ(with("/volume/plane", 2), ": volume.plane: expected a string");
  EXPECT_EQ(with("/volume/slice_images/1", 7), ": volume.slice_images: expected strings");
  EXPECT_EQ(with("/explanations/0/cams", "x.png"), ": explanations[0].cams: expected an array");
  EXPECT_EQ(with("/explanations/0/slice_peaks/0", "high"),
            ": explanations[0].slice_peaks: expected numbers");
  EXPECT_EQ(with("/true_class", "tear"), ": true_class: expected an integer");
}

TEST_F(ViewerTest, OptionalFieldsHaveDefaults) {
  json r = volume_record(out_, "axial", "0002");
  r["volume"].erase("case");
  r["volume"]["plane"] = nullptr;
  r["explanations"][0].erase("peak_slice");  // the highest bar is the peak then
  r["explanations"][0]["slice_peaks"][1] = nullptr;
  rewrite(out_ / "axial" / "0002.json", r);
  // Written without pictures (explain --no-overlay): shown, with placeholders in the viewer.
  r["volume"].erase("slice_images");
  r["explanations"][0].erase("cams");
  r["volume"]["case"] = "0003";
  rewrite(out_ / "axial" / "0003.json", r);
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_TRUE(s.errors.empty()) << s.errors[0];
  EXPECT_EQ(s.missing_pictures, 0);
  const json data = embedded(read_text(s.index));
  ASSERT_EQ(data["cases"].size(), 3u);
  const json& c3 = data["cases"][1];
  EXPECT_EQ(c3["id"], "0003");
  EXPECT_TRUE(c3["records"][0]["images"].empty());
  const json& nameless = data["cases"][2];  // no case id: the record's name, sorted last
  EXPECT_EQ(nameless["id"], "axial/0002");
  EXPECT_EQ(nameless["records"][0]["view"], "axial/0002") << "no plane: the record's name";
  EXPECT_EQ(nameless["records"][0]["classes"][0]["peak"], 3);
  EXPECT_TRUE(nameless["records"][0]["classes"][0]["peaks"][1].is_null());
}

TEST_F(ViewerTest, MissingPicturesAreCountedAndLeftEmpty) {
  fs::remove(out_ / "axial" / "0002" / "slices" / "001.png");
  fs::remove(out_ / "axial" / "0002" / "cams" / "004.png");
  // A picture outside DIR is not linked: the page must survive moving DIR.
  write_png(root_ / "outside.png", 9);
  json r = volume_record(out_, "axial", "0001");
  r["volume"]["slice_images"][0] = "../../outside.png";
  rewrite(out_ / "axial" / "0001.json", r);
  const camkit::ReportSummary s = camkit::write_report(out_.string());
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.volumes, 3) << "the record is still shown";
  EXPECT_EQ(s.missing_pictures, 3);
  const std::string html = read_text(s.index);
  const json data = embedded(html);
  const json& rec = data["cases"][1]["records"][0];
  EXPECT_EQ(rec["images"][1], "");
  EXPECT_EQ(rec["image_names"][1], "0002/slices/001.png") << "the placeholder names it";
  EXPECT_EQ(rec["classes"][0]["cams"][4], "");
  EXPECT_NE(html.find("Slice pictures missing"), std::string::npos);
}

TEST_F(ViewerTest, RecordTextCannotEscapeTheScriptOrTheMarkup) {
  const std::string nasty = "</script><b>tear</b> & \"'<!--";
  json r = volume_record(out_, "axial", "0002", nasty);
  r["volume"]["case"] = "<i>0002</i>";
  r["decision"] = "<u>positive</u>";
  rewrite(out_ / "axial" / "0002.json", r);
  const std::string html = report();
  EXPECT_EQ(html.find("<b>tear"), std::string::npos);
  EXPECT_EQ(html.find("<i>0002"), std::string::npos);
  EXPECT_EQ(html.find("<u>positive"), std::string::npos);
  EXPECT_EQ(html.find("<!--"), std::string::npos);
  // One </script> per script element: the JSON one and the page's own.
  std::size_t closes = 0;
  for (auto p = html.find("</script>"); p != std::string::npos; p = html.find("</script>", p + 1))
    ++closes;
  EXPECT_EQ(closes, 2u);
  EXPECT_NE(html.find("&lt;i&gt;0002&lt;/i&gt; \xE2\x80\x94 &lt;u&gt;positive&lt;/u&gt;"),
            std::string::npos)
      << "the case list is HTML-escaped";
  const json data = embedded(html);
  // '<' sorts after digits: the case is listed second.
  EXPECT_EQ(data["cases"][1]["id"], "<i>0002</i>") << "the JSON decodes to the original text";
  EXPECT_EQ(data["cases"][1]["records"][0]["classes"][0]["label"], nasty);
}

TEST_F(ViewerTest, SharedPlaneFallsBackToRecordNames) {
  // Two models run on the axial plane into one folder tree: the plane cannot tell them apart.
  volume_record(out_ / "model b", "axial", "0001");
  const json data = embedded(report());
  const json& c1 = data["cases"][0];
  ASSERT_EQ(c1["records"].size(), 3u);
  EXPECT_EQ(c1["records"][0]["view"], "axial/0001");
  EXPECT_EQ(c1["records"][1]["view"], "coronal");
  EXPECT_EQ(c1["records"][2]["view"], "model b/axial/0001");
  EXPECT_EQ(c1["records"][2]["images"][0], "model%20b/axial/0001/slices/000.png");
}

}  // namespace
