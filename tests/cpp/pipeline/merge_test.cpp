// camkit merge refuses what is not one complete run, and gives the same index however often and
// under whatever spelling of the folders it runs.
#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Merge : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    for (int i = 0; i < 12; ++i) write_png("in/" + std::to_string(i) + ".png", 64, 80, i);
  }
  Result shard(const std::string& out, int i, int n, const std::string& extra = "") {
    return camkit("explain " + model_path(kModel) + " " + path("in") + " -o " + path(out) +
                  " --shard " + std::to_string(i) + "/" + std::to_string(n) + extra);
  }
};

TEST_F(Merge, EqualsTheUnshardedRunAndIsIdempotentUnderAnySpelling) {
  ASSERT_EQ(
      camkit("explain " + model_path(kModel) + " " + path("in") + " -o " + path("whole")).code, 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(shard("out", i, 3).code, 0);
  const auto index = lines(read_file(path("out/index-1-of-3.jsonl")));
  ASSERT_FALSE(index.empty());
  EXPECT_EQ(nlohmann::json::parse(index[0])["shard"], "1/3");
  EXPECT_EQ(nlohmann::json::parse(index[0])["inputs"], 12);
  fs::create_directory_symlink(path("out"), path("alias"));
  for (const std::string& spelling :
       {path("out"), path("out") + "/", path("alias"), path("out") + "/../out/."}) {
    const Result r = camkit("merge " + spelling + " -o " + path("out"));
    ASSERT_EQ(r.code, 0) << spelling << "\n" << r.err;
    // Byte for byte what the unsharded run wrote (records in the same places).
    EXPECT_EQ(read_file(path("out/index.jsonl")), read_file(path("whole/index.jsonl"))) << spelling;
  }
}

TEST_F(Merge, RefusesGapsMixedShardCountsAndMixedRuns) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(shard("out", i, 3).code, 0);
  // A missing shard index (a cancelled task): refused, unless --allow-gaps.
  fs::rename(path("out/index-2-of-3.jsonl"), path("saved"));
  Result r = camkit("merge " + path("out") + " -o " + path("out"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("shard 2/3 has no index-2-of-3.jsonl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("inputs in no index"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("out/index.jsonl")));
  r = camkit("merge " + path("out") + " -o " + path("out") + " --allow-gaps");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("incomplete"), std::string::npos) << r.err;
  EXPECT_LT(lines(read_file(path("out/index.jsonl"))).size(), 12u);
  fs::rename(path("saved"), path("out/index-2-of-3.jsonl"));
  // A shard index with lines missing (a task killed before it finished): refused.
  const std::string full = read_file(path("out/index-1-of-3.jsonl"));
  write("out/index-1-of-3.jsonl", full.substr(0, full.find('\n') + 1));
  r = camkit("merge " + path("out") + " -o " + path("out"));
  EXPECT_EQ(r.code, 1) << r.err;
  write("out/index-1-of-3.jsonl", full);
  // Another shard count in the same folder (a task resubmitted as --shard 0/1 elsewhere).
  ASSERT_EQ(shard("other", 0, 2).code, 0);
  r = camkit("merge " + path("out") + " " + path("other") + " -o " + path("m"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("mixed shard counts"), std::string::npos) << r.err;
  // The same shard made with other options in another folder.
  ASSERT_EQ(shard("alpha", 1, 3, " --alpha 0.3").code, 0);
  fs::remove(path("out/index-1-of-3.jsonl"));
  r = camkit("merge " + path("out") + " " + path("alpha") + " -o " + path("m"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("mixed options"), std::string::npos) << r.err;
  EXPECT_EQ(camkit("merge " + path("alpha") + " " + path("alpha") + " -o " + path("m")).code, 2);
  EXPECT_EQ(camkit("merge " + path("in") + " -o " + path("m")).code, 2);  // not an output folder
}

}  // namespace
}  // namespace camkit::testing
