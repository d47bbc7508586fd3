// Output paths as a user meets them: names from the inputs as written, links inside inputs and
// outputs, loops, the output folder inside the inputs, special files, name collisions.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <set>

#include "helpers.hpp"

namespace camkit::testing {
namespace {

const std::string kModel = "custom_gap_flatten_linear_traced";

class Paths : public TempDirTest {
 protected:
  std::string explain(const std::string& args) const {
    return "explain " + model_path(kModel) + " " + args;
  }
  std::set<std::string> files(const std::string& rel) const {
    std::set<std::string> out;
    for (const auto& [name, bytes] : tree(path(rel))) out.insert(name);
    return out;
  }
};

TEST_F(Paths, LinksInsideTheInputsKeepTheirNamesAndNothingIsWrittenBeyondTheOutput) {
  write_png("in/real/a.png", 64, 80, 1);
  write_png("outside/b.png", 64, 80, 2);
  write("outside/b.json", "precious settings");
  write_png("outside/c.png", 64, 80, 3);
  fs::create_directory_symlink(path("outside"), path("in/linked"));
  fs::create_symlink(path("outside/c.png"), path("in/real/c_link.png"));
  const auto before = tree(path("outside"));
  const Result r = camkit(explain(path("in") + " -o " + path("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  // Names as written in the input tree, not where the links lead.
  for (const char* f : {"real/a.json", "linked/b.json", "linked/c.json", "real/c_link.json"})
    EXPECT_TRUE(fs::exists(path(std::string("out/") + f))) << f << "\n" << r.err;
  EXPECT_EQ(tree(path("outside")), before);
  EXPECT_EQ(records("out").at("real/c_link.json")["input"], path("in/real/c_link.png"));
}

TEST_F(Paths, LoopsOfLinksEndAndEachFileIsOneInput) {
  write_png("in/a/x.png", 64, 80, 1);
  write_png("in/b/y.png", 64, 80, 2);
  fs::create_directory_symlink("..", path("in/a/up"));      // a loop
  fs::create_directory_symlink("../a", path("in/b/to_a"));  // two loops through each other
  fs::create_directory_symlink("../b", path("in/a/to_b"));
  const Result r = camkit(explain(path("in") + " -o " + path("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 done, 0 failed"), std::string::npos) << r.err;
  EXPECT_EQ(files("out"), (std::set<std::string>{".camkit.lock", "a/x.0.png", "a/x.json",
                                                 "b/y.0.png", "b/y.json", "index.jsonl"}));
  EXPECT_EQ(mentions(r.err, "already walked"), 3) << r.err;
}

TEST_F(Paths, AnOutputFolderInsideTheInputsIsNeverExplained) {
  write_png("in/x.png", 64, 80, 1);
  const std::string args = explain(path("in") + " -o " + path("in/cams"));
  ASSERT_EQ(camkit(args).code, 0);
  const Result again = camkit(args);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("0 done, 0 failed, 1 skipped"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("skipped: it is the output folder"), std::string::npos) << again.err;
  EXPECT_FALSE(fs::exists(path("in/cams/cams")));
  // Another run's output folder inside the inputs is skipped too (its lock file marks it).
  const Result other = camkit(explain(path("in") + " -o " + path("elsewhere")));
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_EQ(files("elsewhere"),
            (std::set<std::string>{".camkit.lock", "index.jsonl", "x.0.png", "x.json"}));
  EXPECT_NE(other.err.find("a camkit output folder"), std::string::npos) << other.err;
}

TEST_F(Paths, FifosSocketsAndDevicesFailAloneOnOneLine) {
  write_png("in/good.png", 64, 80, 1);
  ASSERT_EQ(::mkfifo(path("in/pipe.png").c_str(), 0644), 0);
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = path("in/sock.png");
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::copy(sock.begin(), sock.end(), addr.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  fs::create_symlink("/dev/zero", path("in/zero.png"));
  const Result r =
      camkit(explain(path("in") + " /dev/null " + path("in/pipe.png") + " -o " + path("out")));
  ::close(s);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(fs::exists(path("out/good.json")));
  EXPECT_EQ(mentions(r.err, "pipe.png: not a regular file (FIFO)"), 2) << r.err;
  EXPECT_EQ(mentions(r.err, "sock.png: not a regular file (socket)"), 1) << r.err;
  EXPECT_EQ(mentions(r.err, "zero.png: not a regular file (character device)"), 1) << r.err;
  EXPECT_EQ(mentions(r.err, "/dev/null: not a regular file"), 1) << r.err;
  EXPECT_NE(r.err.find("1 done, 5 failed"), std::string::npos) << r.err;
}

TEST_F(Paths, InputsWithTheSameNameKeepEveryResult) {
  write_png("p/x.png", 64, 80, 1);
  write_png("q/x.png", 48, 56, 2);
  write_png("d/s/y.png", 64, 80, 3);
  write_png("d/s/y.jpg", 48, 56, 4);
  write_png("e/s/y.png", 64, 80, 5);  // the same relative path under two directory arguments
  const std::string args = explain(path("p/x.png") + " " + path("q/x.png") + " " + path("d") + " " +
                                   path("e") + " -o " + path("out") + " --json");
  const Result r = camkit(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto recs = records("out");
  const std::map<std::string, std::string> want{{"x.json", "p/x.png"},
                                                {"x~2.json", "q/x.png"},
                                                {"s/y.json", "d/s/y.jpg"},
                                                {"s/y~2.json", "d/s/y.png"},
                                                {"s/y~3.json", "e/s/y.png"}};
  ASSERT_EQ(recs.size(), want.size()) << r.err;
  for (const auto& [record, input] : want)
    EXPECT_EQ(recs.at(record)["input"], path(input)) << record;
  EXPECT_EQ(mentions(r.err, "is written as"), 3) << r.err;
  // After a resume the index still attributes each result to its own input.
  const Result again = camkit(args);
  ASSERT_EQ(again.code, 0);
  EXPECT_NE(again.err.find("0 done, 0 failed, 5 skipped"), std::string::npos) << again.err;
  for (const auto& line : lines(read_file(path("out/index.jsonl")))) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["input"], path(want.at(j["record"].get<std::string>()))) << line;
  }
}

TEST_F(Paths, LinksInsideTheOutputAreNeverWrittenThrough) {
  write_png("in/sub/a.png", 64, 80, 1);
  write_png("in/b.png", 64, 80, 2);
  write("elsewhere/a.json", "precious");
  write("elsewhere/index", "precious index");
  fs::create_directories(path("out"));
  fs::create_directory_symlink(path("elsewhere"), path("out/sub"));
  fs::create_symlink(path("elsewhere/index"), path("out/index.jsonl"));
  const Result r = camkit(explain(path("in") + " -o " + path("out")));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(mentions(r.err, "out/sub: is a symbolic link inside the output folder"), 1) << r.err;
  EXPECT_EQ(read_file(path("elsewhere/a.json")), "precious");
  EXPECT_EQ(read_file(path("elsewhere/index")), "precious index");
  EXPECT_FALSE(fs::is_symlink(path("out/index.jsonl")));  // replaced by the index
  EXPECT_EQ(lines(read_file(path("out/index.jsonl"))).size(), 2u);
  EXPECT_TRUE(fs::exists(path("out/b.json")));
}

}  // namespace
}  // namespace camkit::testing
