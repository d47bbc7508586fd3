// Housekeeping as a user meets it: the start-of-run clean-up touches only camkit's own leftovers
// in the folders camkit writes; a second run of the same work on a folder stops, other shards
// share it.
#include <signal.h>

#include "camkit/output.hpp"
#include "camkit/output_folder.hpp"
#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Housekeeping : public TempDirTest {
 protected:
  std::string explain(const std::string& args) const {
    return "explain " + model_path(kModel) + " " + args;
  }
};

pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST_F(Housekeeping, CleanUpRemovesOnlyCamkitLeftoversInFoldersItWrites) {
  write_png("in/sub/a.png", 64, 80, 1);
  const std::string host = host_id(), dead = std::to_string(dead_pid());
  const std::string stale = ".a.json.camkit-tmp." + host + "." + dead + ".3";
  const std::vector<std::string> kept = {
      "out/notes/meeting.tmp-2024-06",                         // a user's notes
      "out/x.tmp-99999999999999999999999-1",                   // once broke every run
      "out/notes/" + stale,                                    // a folder camkit does not write
      "out/sub/.a.json.camkit-tmp.other-host." + dead + ".1",  // another host's
      "out/sub/.b.json.camkit-tmp." + host + "." + std::to_string(::getpid()) + ".1"};  // live
  for (const std::string& f : kept) write(f, "keep");
  write("out/sub/" + stale, "partial");
  write("out/.index.jsonl.camkit-tmp." + host + "." + dead + ".0", "partial");
  const Result r = camkit(explain(path("in") + " -o " + path("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& f : kept) EXPECT_TRUE(fs::exists(path(f))) << f;
  EXPECT_FALSE(fs::exists(path("out/sub/" + stale)));
  EXPECT_FALSE(fs::exists(path("out/.index.jsonl.camkit-tmp." + host + "." + dead + ".0")));
  // The home-folder case: nothing outside the folders written is even listed.
  write("home/deep/er/x.camkit-tmp", "keep");
  write("home/deep/" + stale, "keep");
  ASSERT_EQ(camkit(explain(path("in/sub/a.png") + " -o " + path("home"))).code, 0);
  EXPECT_TRUE(fs::exists(path("home/deep/" + stale)));
}

// Holds shard `index` of `count` of `dir` in a child process, as a running camkit would.
pid_t hold(const std::string& dir, int index, int count) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    try {
      const OutputFolder out(dir);
      const RunLock lock = RunLock::acquire(out, index, count);
      if (::write(fds[1], "1", 1) != 1) ::_exit(2);
      ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  ::close(fds[1]);
  char c = 0;
  const bool ok = ::read(fds[0], &c, 1) == 1;
  ::close(fds[0]);
  return ok ? pid : -1;
}

TEST_F(Housekeeping, TheSameWorkTwiceStopsOtherShardsShareTheFolder) {
  for (int i = 0; i < 6; ++i) write_png("in/" + std::to_string(i) + ".png", 64, 80, i);
  const std::string base = explain(path("in") + " -o " + path("out"));
  pid_t other = hold(path("out"), 0, 1);  // an unsharded run in progress
  ASSERT_GT(other, 0);
  Result r = camkit(base);
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_NE(r.err.find("an unsharded run on this folder is already running (pid " +
                       std::to_string(other) + ")"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(path("out/index.jsonl")));
  r = camkit(base + " --shard 1/2");  // shards would overlap the whole run
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_NE(r.err.find("must use the same shard count"), std::string::npos) << r.err;
  ::kill(other, SIGKILL);
  ::waitpid(other, nullptr, 0);

  other = hold(path("out"), 1, 2);  // shard 1/2 in progress
  ASSERT_GT(other, 0);
  EXPECT_EQ(camkit(base + " --shard 1/2").code, 5);
  r = camkit(base + " --shard 0/2");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(path("out/index-0-of-2.jsonl")));
  r = camkit("merge " + path("out") + " -o " + path("out"));
  EXPECT_EQ(r.code, 5) << r.err;  // the merge waits for no one: it refuses while shards run
  ::kill(other, SIGKILL);         // a killed run's lock goes with it
  ::waitpid(other, nullptr, 0);
  r = camkit(base + " --shard 1/2");
  EXPECT_EQ(r.code, 0) << r.err;
  r = camkit("merge " + path("out") + " -o " + path("out"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(read_file(path("out/index.jsonl"))).size(), 6u);
}

}  // namespace
}  // namespace camkit::testing
