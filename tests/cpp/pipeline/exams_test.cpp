// Exam folders with --volume: one rule that never drops an input silently (docs/volumes.md).
#include <set>

#include "../io/dicom_writer.hpp"
#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kKnee = std::string(CAMKIT_SOURCE_DIR) + "/models/knee_mrnet.pt";

class Exams : public TempDirTest {
 protected:
  // A grey 8 x 8 slice (or `frames` of them) of series `series` at height z.
  void dicom(const std::string& rel, const std::string& series, int z, int frames = 0) {
    dicom_test::Spec s;
    s.rows = 8;
    s.columns = 8;
    s.frames = frames;
    s.series = series;
    s.position = "0\\0\\" + std::to_string(z);
    s.orientation = "1\\0\\0\\0\\1\\0";
    s.instance = z + 1;
    for (int i = 0; i < 64 * std::max(1, frames); ++i)
      s.words.push_back(static_cast<std::uint16_t>((i * 37 + z * 11) % 900));
    fs::create_directories(fs::path(path(rel)).parent_path());
    dicom_test::write(path(rel), s);
  }
  void npy(const std::string& rel, int slices) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                         std::to_string(slices) + ", 8, 8), }";
    header.append(117 - header.size(), ' ');
    header += '\n';
    std::string bytes("\x93NUMPY\x01\x00\x76\x00", 10);
    bytes += header;
    std::vector<float> v(static_cast<size_t>(slices) * 64);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 17) / 17.0f;
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    write(rel, bytes);
  }
};

TEST_F(Exams, EveryExamInAFolderIsExplainedNoneDroppedSilently) {
  // One folder: a single-frame series (3 files), a multi-frame file, an .npy exam, a sub-folder.
  for (int z = 0; z < 3; ++z) dicom("study/IM" + std::to_string(z) + ".dcm", "1.2.3.4", 10 * z);
  dicom("study/cine.dcm", "1.2.3.9", 0, 4);
  npy("study/extra.npy", 5);
  npy("study/more/deep.npy", 2);
  const Result r = camkit("explain " + kKnee + " " + path("study") + " --volume -o " + path("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto recs = records("out");
  std::set<std::string> names;
  for (const auto& [name, rec] : recs) names.insert(name);
  EXPECT_EQ(names,
            (std::set<std::string>{"study.json", "cine.json", "extra.json", "more/deep.json"}))
      << r.err;
  EXPECT_EQ(recs.at("study.json")["volume"]["slices"], 3);
  EXPECT_EQ(recs.at("study.json")["input"], path("study"));
  EXPECT_EQ(recs.at("cine.json")["volume"]["slices"], 4);
  EXPECT_EQ(recs.at("extra.json")["volume"]["slices"], 5);
  EXPECT_EQ(recs.at("more/deep.json")["volume"]["slices"], 2);
  EXPECT_NE(r.err.find("4 done, 0 failed"), std::string::npos) << r.err;
}

TEST_F(Exams, SeveralSeriesInOneFolderAreReportedAndTheRestRuns) {
  dicom("mixed/a.dcm", "1.2.3.4", 0);
  dicom("mixed/b.dcm", "1.2.3.4", 10);
  dicom("mixed/c.dcm", "1.2.3.5", 0);
  npy("mixed/ok.npy", 3);
  dicom("series.v2/x.dcm", "1.2.7", 0);  // a folder name with a dot keeps it
  dicom("series.v2/y.dcm", "1.2.7", 5);
  const Result r = camkit("explain " + kKnee + " " + path("mixed") + " " + path("series.v2") +
                          " --volume -o " + path("out"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(mentions(r.err, "more than one series"), 1) << r.err;
  EXPECT_NE(r.err.find("1.2.3.4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1.2.3.5"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(path("out/ok.json")));
  EXPECT_TRUE(fs::exists(path("out/series.v2.json")));
  const auto index = lines(read_file(path("out/index.jsonl")));
  EXPECT_EQ(index.size(), 3u);
}

}  // namespace
}  // namespace camkit::testing
