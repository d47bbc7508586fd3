// Dataset inputs: list files, ImageFolder true labels, --class true, shards and camkit merge.
#include <set>

#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Inputs : public TempDirTest {};

TEST_F(Inputs, ListFilesAreRelativeToTheirFolder) {
  write_png("data/imgs/a.png", 64, 80, 1);
  write_png("data/imgs/b.png", 64, 80, 2);
  write_png("data/more/c.png", 64, 80, 3);
  write_png("other/d.png", 64, 80, 4);
  write("data/list.txt", "# a comment\nimgs/a.png\n\n  imgs/b.png  \r\nmore\n../other/d.png\n");
  const Result r = camkit("explain " + model_path(kModel) + " @" + path("data/list.txt") + " " +
                          path("other/d.png") + " -o " + path("out") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto recs = records("out");
  std::set<std::string> names;
  for (const auto& [name, rec] : recs) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"imgs/a.json", "imgs/b.json", "more/c.json",
                                          "other/d.json", "d.json"}));
  EXPECT_EQ(lines(r.out).size(), 5u);
  EXPECT_EQ(camkit("explain " + model_path(kModel) + " @" + path("nope.txt")).code, 2);
}

TEST_F(Inputs, ImageFolderGivesTrueLabelsAndClassTrueExplainsThem) {
  int seed = 0;
  for (const char* cls : {"cat", "dog", "zebra"})
    for (int i = 0; i < 3; ++i)
      write_png(std::string("ds/") + cls + "/" + std::to_string(i) + ".png", 64, 80, seed++);
  const Result r = camkit("explain " + model_path(kModel) + " " + path("ds") + " -o " +
                          path("out") + " --class true --batch-size 4");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto recs = records("out");
  ASSERT_EQ(recs.size(), 9u);
  const std::map<std::string, int> expected{{"cat", 0}, {"dog", 1}, {"zebra", 2}};
  for (const auto& [name, rec] : recs) {
    const std::string folder = name.substr(0, name.find('/'));
    EXPECT_EQ(rec["true_class"], expected.at(folder)) << name;
    EXPECT_EQ(rec["true_label"], folder) << name;
    ASSERT_EQ(rec["explanations"].size(), 1u);
    EXPECT_EQ(rec["explanations"][0]["class"], expected.at(folder)) << name;
  }
  // Without --class true the labels are still recorded; top-1 is explained.
  ASSERT_EQ(camkit("explain " + model_path(kModel) + " " + path("ds") + " -o " + path("top")).code,
            0);
  EXPECT_EQ(records("top").at("dog/1.json")["true_class"], 1);
  // A loose file has no true class: it fails alone.
  write_png("loose/x.png", 64, 80, 99);
  const Result mixed =
      camkit("explain " + model_path(kModel) + " " + path("ds/cat") + " " + path("loose/x.png") +
             " " + path("ds") + " -o " + path("mix") + " --class true");
  EXPECT_EQ(mixed.code, 1);
  EXPECT_NE(mixed.err.find("x.png: no true class"), std::string::npos) << mixed.err;
  EXPECT_EQ(camkit("explain " + model_path(kModel) + " " + path("ds") + " --class true,2").code, 2);
}

TEST_F(Inputs, ShardsCoverTheInputsExactlyOnceAndMergeJoinsThem) {
  for (int i = 0; i < 23; ++i)
    write_png("in/d" + std::to_string(i % 3) + "/" + std::to_string(i) + ".png", 64, 80, i);
  const std::string base = "explain " + model_path(kModel) + " " + path("in");
  ASSERT_EQ(camkit(base + " -o " + path("all")).code, 0);
  std::set<std::string> seen;
  size_t total = 0;
  std::vector<std::string> dirs;
  for (int s = 0; s < 3; ++s) {
    const std::string out = "shards/s" + std::to_string(s);
    const Result r = camkit(base + " -o " + path(out) + " --shard " + std::to_string(s) + "/3");
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_TRUE(fs::exists(path(out + "/index-" + std::to_string(s) + "-of-3.jsonl")));
    for (const auto& [name, rec] : records(out)) {
      EXPECT_TRUE(seen.insert(name).second) << name << " in two shards";
      EXPECT_EQ(rec, records("all").at(name)) << name;
      ++total;
    }
    dirs.push_back(path(out));
  }
  EXPECT_EQ(total, 23u);
  EXPECT_EQ(seen.size(), records("all").size());
  // merge: one index ordered like the unsharded run's, records found from the merged folder.
  const Result m =
      camkit("merge " + dirs[0] + " " + dirs[1] + " " + dirs[2] + " -o " + path("shards"));
  ASSERT_EQ(m.code, 0) << m.err;
  const auto merged = lines(read_file(path("shards/index.jsonl")));
  const auto whole = lines(read_file(path("all/index.jsonl")));
  ASSERT_EQ(merged.size(), whole.size());
  for (size_t i = 0; i < merged.size(); ++i) {
    auto a = nlohmann::json::parse(merged[i]), b = nlohmann::json::parse(whole[i]);
    EXPECT_TRUE(fs::exists(path("shards/" + a["record"].get<std::string>())));
    EXPECT_EQ(a["record"].get<std::string>().substr(3), b["record"]);  // "sK/" + record
    a.erase("record");
    b.erase("record");
    EXPECT_EQ(a, b);
  }
  EXPECT_EQ(camkit("merge " + dirs[0] + " " + dirs[0] + " -o " + path("dup")).code, 2);
  EXPECT_EQ(camkit(base + " --shard 3/3").code, 2);
}

}  // namespace
}  // namespace camkit::testing
