// The output folder: writes confined to it, camkit's temporaries, clean-up and run locks.
#include "camkit/output_folder.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace {

namespace fs = std::filesystem;
using camkit::Error;
using camkit::ErrorCode;
using camkit::OutputFolder;
using camkit::RunLock;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Folder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("camkit-outfolder-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void touch(const fs::path& p, const std::string& text = "") {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  fs::path dir_;
};

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return static_cast<ErrorCode>(0);
}

TEST_F(Folder, WritesStayInsideAndNeverFollowLinks) {
  const OutputFolder out((dir_ / "out").string());
  out.write("a/b/x.json", "one");
  EXPECT_EQ(slurp(dir_ / "out/a/b/x.json"), "one");
  out.write("./a//b/../b/x.json", "two");  // lexically the same file
  EXPECT_EQ(slurp(dir_ / "out/a/b/x.json"), "two");
  for (const char* bad : {"../escape.json", "a/../../escape.json", "/tmp/abs.json", ""})
    EXPECT_EQ(code_of([&] { out.write(bad, "x"); }), ErrorCode::input) << bad;
  EXPECT_FALSE(fs::exists(dir_ / "escape.json"));

  // A folder inside the output that is a link: refused, the target untouched.
  touch(dir_ / "elsewhere/settings.json", "precious");
  fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "out/linked");
  try {
    out.write("linked/settings.json", "overwritten");
    ADD_FAILURE() << "wrote through a link";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic link inside the output folder"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(slurp(dir_ / "elsewhere/settings.json"), "precious");
  EXPECT_FALSE(out.read("linked/settings.json"));
  EXPECT_FALSE(out.exists("linked/settings.json"));

  // A final name that is a link is replaced by the file, never written through.
  fs::create_symlink(dir_ / "elsewhere/settings.json", dir_ / "out/index.jsonl");
  EXPECT_FALSE(out.read("index.jsonl"));
  out.write("index.jsonl", "new");
  EXPECT_FALSE(fs::is_symlink(dir_ / "out/index.jsonl"));
  EXPECT_EQ(slurp(dir_ / "out/index.jsonl"), "new");
  EXPECT_EQ(slurp(dir_ / "elsewhere/settings.json"), "precious");

  // A folder at the final name: one error naming the file; no temporary left.
  fs::create_directories(dir_ / "out/rec.json");
  try {
    out.write("rec.json", "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input);
    EXPECT_NE(std::string(e.what()).find("rec.json: cannot write"), std::string::npos) << e.what();
  }
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "out"))
    EXPECT_EQ(e.path().string().find(".camkit-tmp."), std::string::npos) << e.path();
}

TEST(Temporaries, NamesAreCamkitsOwnAndParseStrictly) {
  const std::string t = camkit::temporary_name("cat.281.png");
  EXPECT_EQ(t.rfind(".cat.281.png.camkit-tmp." + camkit::host_id() + "." +
                        std::to_string(::getpid()) + ".",
                    0),
            0u)
      << t;
  const auto owner = camkit::temporary_owner(t);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->host, camkit::host_id());
  EXPECT_EQ(owner->pid, ::getpid());
  EXPECT_LE(camkit::temporary_name(std::string(300, 'x')).size(), 160u);
  // Names users give their files, and near misses, are not camkit's.
  for (const char* name : {"meeting.tmp-2024-06", "x.tmp-99999999999999999999999-1",
                           "x.png.tmp-123-4", ".x.camkit-tmp.host.99999999999999999999999.1",
                           ".x.camkit-tmp.host.12.", "x.camkit-tmp.h.1.2", ".x.camkit-tmp..1.2",
                           ".x.camkit-tmp.h/1.1.2", ".x.camkit-tmp.host.-1.2"})
    EXPECT_FALSE(camkit::temporary_owner(name)) << name;
}

TEST_F(Folder, CleanUpRemovesOnlyDeadProcessesTemporariesOfThisHostInThatFolder) {
  const OutputFolder out((dir_ / "out").string());
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string host = camkit::host_id();
  const std::string stale = ".x.json.camkit-tmp." + host + "." + std::to_string(dead) + ".7";
  const std::string live = ".y.json.camkit-tmp." + host + "." + std::to_string(::getpid()) + ".1";
  const std::string other = ".z.json.camkit-tmp.another-host." + std::to_string(dead) + ".2";
  for (const std::string& name : {stale, live, other, std::string("notes.tmp-2024-06"),
                                  std::string("x.tmp-99999999999999999999999-1")})
    touch(dir_ / "out" / name);
  touch(dir_ / "out/sub" / stale);  // not the folder asked for
  EXPECT_EQ(out.remove_stale_temporaries(), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "out" / stale));
  for (const std::string& name : {live, other, std::string("notes.tmp-2024-06"),
                                  std::string("x.tmp-99999999999999999999999-1")})
    EXPECT_TRUE(fs::exists(dir_ / "out" / name)) << name;
  EXPECT_TRUE(fs::exists(dir_ / "out/sub" / stale));
  EXPECT_EQ(out.remove_stale_temporaries("sub"), 1u);
  EXPECT_EQ(out.remove_stale_temporaries("missing"), 0u);
}

// Holds shard `index` of `count` in a child process until killed; returns its pid.
pid_t hold_in_child(const std::string& dir, int index, int count) {
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
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  char c = 0;
  const bool ok = ::read(fds[0], &c, 1) == 1;
  ::close(fds[0]);
  return ok ? pid : -1;
}

void stop(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_F(Folder, LocksKeepTheSameShardAndOtherShardCountsOut) {
  const std::string dir = (dir_ / "out").string();
  const OutputFolder out(dir);
  const pid_t holder = hold_in_child(dir, 1, 3);
  ASSERT_GT(holder, 0);
  try {
    RunLock::acquire(out, 1, 3);
    ADD_FAILURE() << "the same shard twice";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::busy);
    EXPECT_NE(std::string(e.what()).find("shard 1/3 is already running (pid " +
                                         std::to_string(holder) + ")"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(code_of([&] { RunLock::acquire(out, 0, 1); }), ErrorCode::busy);  // whole run
  EXPECT_EQ(code_of([&] { RunLock::acquire(out, 0, 4); }), ErrorCode::busy);  // other count
  EXPECT_EQ(code_of([&] { RunLock::check_idle(out); }), ErrorCode::busy);
  {
    const RunLock mine = RunLock::acquire(out, 2, 3);  // another shard of the same count
    EXPECT_TRUE(mine.held());
  }
  stop(holder);  // however a run ends, its locks go with it
  EXPECT_EQ(code_of([&] { RunLock::check_idle(out); }), static_cast<ErrorCode>(0));
  const RunLock again = RunLock::acquire(out, 1, 3);
  EXPECT_TRUE(again.held());
  EXPECT_TRUE(fs::exists(dir_ / "out" / camkit::kLockFileName));
}

}  // namespace
