// One input's failure is never the run's: out of memory, a folder where a record goes,
// unexpected exceptions; an interrupted run never leaves a shorter index than it found.
#include "pipeline/failures.hpp"

#include <signal.h>

#include <chrono>
#include <new>
#include <thread>

#include "camkit/error.hpp"
#include "camkit/output_folder.hpp"
#include "helpers.hpp"
#include "pipeline/index_journal.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Failures : public TempDirTest {
 protected:
  std::string explain(const std::string& args) const {
    return "explain " + model_path(kModel) + " " + args;
  }
};

TEST_F(Failures, OutOfMemoryFailsThatInputAlone) {
  write_png("in/a.png", 64, 80, 1);
  write_png("in/c.png", 64, 80, 2);
  // 5000 x 5000: its forward pass needs gigabytes; the small inputs fit in the 1.6 GB allowed.
  cv::Mat big(5000, 5000, CV_8UC3, cv::Scalar(90, 100, 110));
  ASSERT_TRUE(cv::imwrite(path("in/b_big.png"), big));
  const Result r =
      camkit(explain(path("in") + " -o " + path("out") + " --threads 1"), "ulimit -v 1600000;");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(mentions(r.err, "b_big.png: out of memory"), 1) << r.err;
  EXPECT_NE(r.err.find("2 done, 1 failed, 0 skipped"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(path("out/a.json")));
  EXPECT_TRUE(fs::exists(path("out/c.json")));
  const auto index = lines(read_file(path("out/index.jsonl")));
  ASSERT_EQ(index.size(), 3u);
  EXPECT_NE(nlohmann::json::parse(index[1])["error"].get<std::string>().find("out of memory"),
            std::string::npos);
}

TEST_F(Failures, AFolderWhereARecordGoesFailsThatInputAlone) {
  for (const char* name : {"a", "b", "c"})
    write_png(std::string("in/") + name + ".png", 64, 80, name[0]);
  fs::create_directories(path("out/b.json/inside"));
  for (const std::string extra : {"", " --overwrite"}) {
    const Result r = camkit(explain(path("in") + " -o " + path("out") + extra));
    EXPECT_EQ(r.code, 1) << extra << r.err;
    EXPECT_EQ(mentions(r.err, "b.json: cannot write: a folder stands at that name"), 1) << r.err;
    EXPECT_EQ(mentions(r.err, "failed"), 1) << r.err;  // the summary line
    EXPECT_TRUE(fs::exists(path("out/c.json")));
    EXPECT_EQ(lines(read_file(path("out/index.jsonl"))).size(), 3u);
  }
}

TEST_F(Failures, AnInterruptedRunNeverShortensTheIndex) {
  for (int i = 0; i < 30; ++i) write_png("in/p" + std::to_string(100 + i) + ".png", 360, 450, i);
  const std::string args =
      explain(path("in") + " --size 64,80 --threads 2 --png-compression 9 -o " + path("out"));
  ASSERT_EQ(camkit(args).code, 0);
  const std::string complete = read_file(path("out/index.jsonl"));
  ASSERT_EQ(lines(complete).size(), 30u);
  bool killed = false;
  for (int attempt = 0; attempt < 3 && !killed; ++attempt) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string cmd =
          "exec " + std::string(CAMKIT_CLI) + " " + args + " --overwrite 2>/dev/null";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(900 + 300 * attempt));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    killed = WIFSIGNALED(status);
  }
  if (!killed) GTEST_SKIP() << "the run finished before it could be killed";
  // Same bytes: the redone inputs' lines are identical, the others are the lines found.
  EXPECT_EQ(read_file(path("out/index.jsonl")), complete);
  ASSERT_EQ(camkit(args).code, 0);
  EXPECT_EQ(read_file(path("out/index.jsonl")), complete);
}

TEST(FailureRule, WhatStopsARunAndWhatFailsOneInput) {
  using pipeline::input_failure;
  const auto of = [](auto e) { return std::make_exception_ptr(e); };
  EXPECT_EQ(input_failure("a.png", of(Error(ErrorCode::input, "a.png: corrupt"))),
            "a.png: corrupt");
  EXPECT_EQ(input_failure("a.png", of(Error(ErrorCode::input, "shape mismatch"))),
            "a.png: shape mismatch");
  EXPECT_FALSE(input_failure("a.png", of(Error(ErrorCode::model, "no head"))));
  EXPECT_FALSE(input_failure("a.png", of(Error(ErrorCode::usage, "bad flag"))));
  EXPECT_FALSE(input_failure("a.png", of(Error(ErrorCode::busy, "busy"))));
  EXPECT_EQ(input_failure("a.png", of(std::bad_alloc())), "a.png: out of memory");
  // LibTorch's allocator message, with its backtrace lines.
  const std::runtime_error c10(
      "[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: "
      "you tried to allocate 4000000000 bytes. Error code 12 (Cannot allocate memory)\n"
      "frame #0: c10::ThrowEnforceNotMet(...)");
  EXPECT_EQ(input_failure("a.png", of(c10)),
            "a.png: out of memory (tried to allocate 4000000000 bytes)");
  EXPECT_TRUE(pipeline::out_of_memory(of(c10)));
  EXPECT_EQ(input_failure("a.png", of(std::out_of_range("stol\nmore"))),
            "a.png: unexpected error: stol");
  EXPECT_EQ(input_failure("a.png", of(42)), "a.png: unexpected error (not a std::exception)");
}

class Journal : public TempDirTest {};

TEST_F(Journal, SnapshotsKeepTheLinesOfInputsNotRedoneYet) {
  std::vector<PipelineInput> inputs;
  for (std::size_t i = 0; i < 4; ++i) {
    PipelineInput in;
    in.path = "in/" + std::to_string(i) + ".png";
    in.relative = std::to_string(i) + ".png";
    in.seq = 2 * i;  // a shard: seq numbers of the whole list
    inputs.push_back(in);
  }
  auto line = [&](std::size_t i, const std::string& tag) {
    return nlohmann::json{{"seq", inputs[i].seq}, {"input", inputs[i].path}, {"tag", tag}}.dump() +
           "\n";
  };
  const std::string old = line(0, "old") + line(1, "old") + line(2, "old") + line(3, "old") +
                          "{\"seq\": 6, \"input\": \"in/elsewhere.png\"}\n{\"torn";
  write("out/index.jsonl", old);
  const OutputFolder out(path("out"));
  {
    pipeline::IndexJournal journal(out, "index.jsonl", inputs, 1e9);
    journal.append(line(0, "new"));
    journal.append(line(1, "new"));
    EXPECT_EQ(read_file(path("out/index.jsonl")), old);  // not yet rewritten
    journal.snapshot();
    EXPECT_EQ(read_file(path("out/index.jsonl")),
              line(0, "new") + line(1, "new") + line(2, "old") + line(3, "old"));
    journal.append(line(2, "new"));
  }  // interrupted: one last rewrite, the journal removed
  EXPECT_EQ(read_file(path("out/index.jsonl")),
            line(0, "new") + line(1, "new") + line(2, "new") + line(3, "old"));
  {
    pipeline::IndexJournal journal(out, "index.jsonl", inputs, 1e9);
    for (std::size_t i = 0; i < 4; ++i) journal.append(line(i, "final"));
    journal.finish();
  }
  EXPECT_EQ(read_file(path("out/index.jsonl")),
            line(0, "final") + line(1, "final") + line(2, "final") + line(3, "final"));
  for (const auto& [name, bytes] : tree(path("out")))
    EXPECT_EQ(name.find(".camkit-tmp."), std::string::npos) << name;
  {
    // With no interval the index is rewritten as soon as an input commits.
    pipeline::IndexJournal journal(out, "index.jsonl", inputs, 0);
    journal.append(line(0, "live"));
    EXPECT_EQ(read_file(path("out/index.jsonl")),
              line(0, "live") + line(1, "final") + line(2, "final") + line(3, "final"));
  }
}

}  // namespace
}  // namespace camkit::testing
