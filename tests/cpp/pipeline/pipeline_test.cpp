// The dataset pipeline through the CLI: identical outputs for any threads/batch size, resume
// after SIGKILL, bad inputs inside a batch, progress output, JPEG and no-overlay outputs.
#include <pty.h>
#include <signal.h>

#include <array>
#include <chrono>
#include <thread>

#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Pipeline : public TempDirTest {};

TEST_F(Pipeline, OutputsAreIdenticalForAnyThreadCountAndBatchSize) {
  // Two prepared sizes interleaved, so batches also flush on a size change.
  for (int i = 0; i < 14; ++i)
    write_png("in/sub" + std::to_string(i % 2) + "/img" + std::to_string(i) + ".png",
              i % 5 == 3 ? 48 : 64, i % 5 == 3 ? 56 : 80, i);
  const std::string base = "explain " + model_path(kModel) + " " + path("in") + " -k 2 --raw";
  // (threads, batch size, streams; 0 = auto): one stream of one thread, and several streams
  // taking batches in turn, finishing out of order.
  const std::vector<std::array<int, 3>> runs = {{1, 1, 0}, {2, 3, 0}, {4, 8, 0},
                                                {1, 8, 0}, {4, 1, 0}, {3, 2, 3}};
  for (const auto& [threads, batch, streams] : runs) {
    const std::string out = "out-" + std::to_string(threads) + "-" + std::to_string(batch);
    const Result r =
        camkit(base + " -o " + path(out) + " --threads " + std::to_string(threads) +
               " --batch-size " + std::to_string(batch) + " --streams " + std::to_string(streams));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("14 done, 0 failed, 0 skipped"), std::string::npos) << r.err;
  }
  // Per input a record, 2 overlays and 2 maps; the index and the lock file.
  EXPECT_EQ(tree(path("out-1-1")).size(), 14u * 5 + 2);
  for (size_t i = 1; i < runs.size(); ++i)
    expect_same_tree(path("out-1-1"),
                     path("out-" + std::to_string(runs[i][0]) + "-" + std::to_string(runs[i][1])));
  // The index: one line per input, in input order, each naming its record.
  const auto index = lines(read_file(path("out-4-8/index.jsonl")));
  ASSERT_EQ(index.size(), 14u);
  for (size_t i = 0; i < index.size(); ++i) {
    const auto j = nlohmann::json::parse(index[i]);
    EXPECT_EQ(j["seq"], i);
    EXPECT_TRUE(fs::exists(path("out-4-8/" + j["record"].get<std::string>())));
    EXPECT_EQ(j["options_hash"].get<std::string>().size(), 16u);
  }
}

TEST_F(Pipeline, ResumeAfterSigkillGivesTheUninterruptedResult) {
  // Large pictures resized to the model's input, so the run lasts long enough to be killed.
  for (int i = 0; i < 40; ++i) write_png("in/p" + std::to_string(100 + i) + ".png", 360, 450, i);
  const std::string args = "explain " + model_path(kModel) + " " + path("in") +
                           " --size 64,80 --draw-box --threads 2 --batch-size 3 -k 2 "
                           "--png-compression 9";
  ASSERT_EQ(camkit(args + " -o " + path("ref")).code, 0);

  bool killed = false;
  for (int attempt = 0; attempt < 3 && !killed; ++attempt) {
    fs::remove_all(path("out"));
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string cmd =
          std::string("exec ") + CAMKIT_CLI + " " + args + " -o " + path("out") + " 2>/dev/null";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Kill as soon as a few records exist.
    for (int i = 0; i < 20000; ++i) {
      size_t n = 0;
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(path("out"), ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        n += it->path().extension() == ".json";
      if (n >= 3) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    killed = WIFSIGNALED(status);
  }
  if (!killed) GTEST_SKIP() << "the run finished before it could be killed";
  const size_t partial = records("out").size();
  EXPECT_LT(partial, 40u);

  const Result resumed = camkit(args + " -o " + path("out"));
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find(std::to_string(partial) + " skipped"), std::string::npos)
      << partial << "\n"
      << resumed.err;
  expect_same_tree(path("ref"), path("out"));  // no temporaries left, index rebuilt

  const Result again = camkit(args + " -o " + path("out"));
  EXPECT_NE(again.err.find("0 done, 0 failed, 40 skipped"), std::string::npos) << again.err;
  expect_same_tree(path("ref"), path("out"));
  const Result redo = camkit(args + " -o " + path("out") + " --overwrite");
  EXPECT_NE(redo.err.find("40 done, 0 failed, 0 skipped"), std::string::npos) << redo.err;
  // Other options: the records no longer match, so everything is redone.
  const Result other = camkit(args + " -o " + path("out") + " --alpha 0.3");
  EXPECT_NE(other.err.find("40 done"), std::string::npos) << other.err;
}

TEST_F(Pipeline, BadInputsInsideABatchFailAloneOnOneLine) {
  for (const char* name : {"a", "b", "d", "e"})
    write_png(std::string("in/") + name + ".png", 64, 80, name[0]);
  write("in/c.png", std::string("\x89PNG\r\n\x1a\nthis is not a png", 24));
  write("in/c2.npy", "not an array");
  const Result r = camkit("explain " + model_path(kModel) + " " + path("in") + " -o " +
                          path("out") + " --batch-size 8 --threads 4");
  EXPECT_EQ(r.code, 1);
  for (const char* name : {"a", "b", "d", "e"})
    EXPECT_TRUE(fs::exists(path(std::string("out/") + name + ".json"))) << name;
  EXPECT_FALSE(fs::exists(path("out/c.json")));
  int mentions = 0;
  for (const auto& line : lines(r.err)) mentions += line.find("c.png") != std::string::npos;
  EXPECT_EQ(mentions, 1) << r.err;
  EXPECT_NE(r.err.find("4 done, 2 failed, 0 skipped"), std::string::npos) << r.err;
  const auto index = lines(read_file(path("out/index.jsonl")));
  ASSERT_EQ(index.size(), 6u);
  EXPECT_TRUE(nlohmann::json::parse(index[2]).contains("error"));
  // Same records as when every input comes alone (on as many threads: the graph as loaded
  // splits its sums by thread count, docs/batch.md).
  ASSERT_EQ(camkit("explain " + model_path(kModel) + " " + path("in") + " -o " + path("one") +
                   " --batch-size 1 --threads 4")
                .code,
            1);
  expect_same_tree(path("out"), path("one"));
}

TEST_F(Pipeline, ProgressBarOnlyOnATerminalSummaryAlways) {
  for (int i = 0; i < 3; ++i) write_png("in/" + std::to_string(i) + ".png", 64, 80, i);
  const std::string args =
      "explain " + model_path(kModel) + " " + path("in") + " -o " + path("out") + " --overwrite";
  const Result r = camkit(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("img/s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 done, 0 failed, 0 skipped"), std::string::npos) << r.err;

  // On a pseudo-terminal the bar is drawn (carriage returns, rate, ETA).
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = std::string("exec ") + CAMKIT_CLI + " " + args;
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string tty;
  char buf[4096];
  for (ssize_t n; (n = ::read(master, buf, sizeof buf)) > 0;)
    tty.append(buf, static_cast<size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  EXPECT_NE(tty.find('\r'), std::string::npos) << tty;
  EXPECT_NE(tty.find("img/s ETA"), std::string::npos) << tty;
  EXPECT_NE(tty.find("3 done"), std::string::npos) << tty;
}

TEST_F(Pipeline, JpegOverlaysAndRecordsOnly) {
  write_png("in/a.png", 64, 80, 1);
  const std::string base = "explain " + model_path(kModel) + " " + path("in/a.png") + " -o ";
  ASSERT_EQ(camkit(base + path("jpg") + " --format jpg --quality 80").code, 0);
  const auto rec = records("jpg").at("a.json");
  EXPECT_EQ(rec["explanations"][0]["overlay"],
            "a." + std::to_string(rec["explanations"][0]["class"].get<int>()) + ".jpg");
  const cv::Mat pic =
      cv::imread(path("jpg/" + rec["explanations"][0]["overlay"].get<std::string>()));
  EXPECT_EQ(pic.rows, 64);
  EXPECT_EQ(pic.cols, 80);
  EXPECT_EQ(
      read_file(path("jpg/" + rec["explanations"][0]["overlay"].get<std::string>())).substr(0, 2),
      "\xff\xd8");
  // PNG compression changes the bytes, not the pixels.
  ASSERT_EQ(camkit(base + path("p0") + " --png-compression 0").code, 0);
  ASSERT_EQ(camkit(base + path("p9") + " --png-compression 9").code, 0);
  const std::string name = records("p0").at("a.json")["explanations"][0]["overlay"];
  EXPECT_GT(fs::file_size(path("p0/" + name)), fs::file_size(path("p9/" + name)));
  const cv::Mat a = cv::imread(path("p0/" + name)), b = cv::imread(path("p9/" + name));
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0);
  // --no-overlay: records and raw maps only.
  ASSERT_EQ(camkit(base + path("raw") + " --no-overlay").code, 0);
  const auto files = tree(path("raw"));
  EXPECT_EQ(files.size(), 4u);  // a.json, a.<c>.npy, index.jsonl, .camkit.lock
  for (const auto& [f, bytes] : files) EXPECT_EQ(f.find(".png"), std::string::npos) << f;
  EXPECT_EQ(camkit(base + path("bad") + " --format gif").code, 2);
  EXPECT_EQ(camkit(base + path("bad") + " --png-compression 11").code, 2);
}

}  // namespace
}  // namespace camkit::testing
