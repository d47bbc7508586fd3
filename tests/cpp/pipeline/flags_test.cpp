// Flags and messages: ranges checked before any work, thread start failures handled, duplicate
// classes folded, file names printed with their control characters escaped.
#include <sched.h>

#include "camkit/pipeline.hpp"
#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Flags : public TempDirTest {
 protected:
  std::string explain(const std::string& args) const {
    return "explain " + model_path(kModel) + " " + args;
  }
};

TEST_F(Flags, OutOfRangeValuesAreUsageErrorsWithTheirRangeInTheHelp) {
  write_png("in/a.png", 64, 80, 1);
  const std::string a = path("in/a.png") + " -o " + path("out");
  const int limit = thread_limit();
  const std::vector<std::string> bads = {"--threads 10000",
                                         "--threads 0",
                                         "--workers 2000",
                                         "--workers -5",
                                         "--threads 1 --workers 2",
                                         "--threads 2 --streams 3",
                                         "--streams -1",
                                         "--batch-size 0",
                                         "--batch-size 100000",
                                         "--image-colormap jet",
                                         "--quality 0",
                                         "--top-k 0"};
  for (const std::string& bad : bads) {
    const Result r = camkit(explain(a + " " + bad));
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << bad << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(path("out")));
  const Result help = camkit("explain --help");
  EXPECT_NE(help.out.find("[1 - " + std::to_string(limit) + "]"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("{gray,bone}"), std::string::npos) << help.out;
  EXPECT_EQ(camkit(explain(a + " --threads " + std::to_string(limit))).code, 0);
}

TEST_F(Flags, ThreadsThatCannotStartEndTheRunCleanly) {
  write_png("in/a.png", 64, 80, 1);
  const int limit = thread_limit();
  if (limit < 8) GTEST_SKIP() << "too few CPUs to ask for enough threads";
  // 3 GB stacks under a 20 GB address space: the workers cannot all start.
  const Result r = camkit(explain(path("in/a.png") + " -o " + path("out") + " --threads " +
                                  std::to_string(limit) + " --workers " + std::to_string(limit)),
                          "ulimit -s 3000000; ulimit -v 20000000;");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot start"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lower the thread count (--threads)"), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
}

TEST_F(Flags, ClassesGivenTwiceAreExplainedOnce) {
  write_png("in/a.png", 64, 80, 1);
  const Result r =
      camkit(explain(path("in/a.png") + " -o " + path("out") + " --class 0,0,3,0 --json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rec = nlohmann::json::parse(lines(r.out).at(0));
  ASSERT_EQ(rec["explanations"].size(), 2u);
  EXPECT_EQ(rec["explanations"][0]["class"], 0);
  EXPECT_EQ(rec["explanations"][1]["class"], 3);
  EXPECT_NE(r.err.find("more than once"), std::string::npos) << r.err;
}

TEST_F(Flags, FileNamesCannotForgeLinesOrDriveTheTerminal) {
  write_png("in/good.png", 64, 80, 1);
  const std::string evil = "bad\ncamkit: 99 done, 0 failed, 0 skipped\x1b[2K\x1b]0;x\x07\xff.png";
  write(std::string("in/") + evil, "not a png");
  const Result r = camkit(explain(path("in") + " -o " + path("out") + " --json"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\x07'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\n\x63"
                       "amkit: 99 done"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("bad\\ncamkit: 99 done, 0 failed, 0 skipped\\x1b[2K\\x1b]0;x\\x07\\xff.png"),
            std::string::npos)
      << r.err;
  for (const auto& line : lines(r.err))  // no line of its own for the forged summary
    EXPECT_NE(line.rfind("camkit: 99 done", 0), 0u) << r.err;
  // Results stay exact: the index names the file as JSON does (bytes that are not UTF-8 are
  // replaced, never a reason to fail).
  const auto index = lines(read_file(path("out/index.jsonl")));
  ASSERT_EQ(index.size(), 2u);
  EXPECT_NE(nlohmann::json::parse(index[0])["input"].get<std::string>().find("bad\ncamkit"),
            std::string::npos);
}

}  // namespace
}  // namespace camkit::testing
