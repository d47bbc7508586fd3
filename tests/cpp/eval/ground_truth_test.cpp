// Boxes and labels CSV files, class spaces, ImageFolder labels and the ground-truth table.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class EvalFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("camkit_eval_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string at(const std::string& name) const { return normalize_path((dir_ / name).string()); }
  fs::path dir_;
};

std::string usage_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(EvalCsv, SplitsQuotedFields) {
  EXPECT_EQ(split_csv_line(" a.png , 1,2 ,3,4", "x"),
            (std::vector<std::string>{"a.png", "1", "2", "3", "4"}));
  EXPECT_EQ(split_csv_line("\"a, b.png\",1,\"say \"\"hi\"\"\"", "x"),
            (std::vector<std::string>{"a, b.png", "1", "say \"hi\""}));
  EXPECT_EQ(split_csv_line("a,,", "x"), (std::vector<std::string>{"a", "", ""}));
  EXPECT_NE(usage_message([] { split_csv_line("\"a,1", "f.csv:3"); }).find("f.csv:3"),
            std::string::npos);
}

TEST_F(EvalFiles, BoxesCsvHeaderPathsAndSeveralBoxes) {
  const std::string abs = (dir_ / "elsewhere" / "c.png").string();
  const std::string csv = write("sub/boxes.csv",
                                "\xEF\xBB\xBFpath,x0,y0,x1,y1\r\n"
                                "a.png,1,2,3,4\r\n"
                                "\r\n"
                                "a.png, 5.5, 6, 7, 8 ,cat\n"
                                "../b.png,0,0,10,10\n" +
                                    abs + ",1,1,2,2\n");
  const std::vector<BoxRow> rows = read_boxes_csv(csv);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].path, at("sub/a.png"));
  EXPECT_EQ(rows[1].path, at("sub/a.png"));
  EXPECT_EQ(rows[2].path, at("b.png"));
  EXPECT_EQ(rows[3].path, at("elsewhere/c.png"));
  EXPECT_EQ(rows[0].box.x0, 1);
  EXPECT_EQ(rows[0].box.y1, 4);
  EXPECT_EQ(rows[1].box.x0, 5.5);
  EXPECT_EQ(rows[1].cls, "cat");
  EXPECT_EQ(rows[0].cls, "");
  EXPECT_EQ(rows[1].where, csv + ":4");
}

TEST_F(EvalFiles, BoxesCsvWithoutHeader) {
  EXPECT_EQ(read_boxes_csv(write("b.csv", "a.png,1,2,3,4\n")).size(), 1u);
}

TEST_F(EvalFiles, MalformedBoxLinesNameFileAndLine) {
  const std::string csv = write("bad.csv", "path,x0,y0,x1,y1\na.png,1,2,3,4\na.png,1,2,3\n");
  EXPECT_NE(usage_message([&] { read_boxes_csv(csv); }).find(csv + ":3: expected"),
            std::string::npos);
  const std::string nan = write("nan.csv", "a.png,1,2,3,4\na.png,1,x,3,4\n");
  EXPECT_NE(usage_message([&] { read_boxes_csv(nan); }).find(nan + ":2: coordinates"),
            std::string::npos);
  const std::string first = write("first.csv", "a.png,1,2,x,4\n");  // not a header: 3 numbers
  EXPECT_NE(usage_message([&] { read_boxes_csv(first); }).find(first + ":1"), std::string::npos);
  const std::string empty = write("empty.csv", "a.png,3,2,3,4\n");
  EXPECT_NE(usage_message([&] { read_boxes_csv(empty); }).find(empty + ":1: empty box"),
            std::string::npos);
  const std::string inf = write("inf.csv", "a.png,1,2,inf,4\n");
  EXPECT_NE(usage_message([&] { read_boxes_csv(inf); }).find(":1"), std::string::npos);
  const std::string missing = (dir_ / "missing.csv").string();
  EXPECT_EQ(usage_message([&] { read_boxes_csv(missing); }), missing + ": no such file");
  // Neither a pipe nor a device is ever read: both would block or never end.
  const std::string pipe = (dir_ / "pipe.csv").string();
  ASSERT_EQ(::mkfifo(pipe.c_str(), 0600), 0);
  EXPECT_EQ(usage_message([&] { read_boxes_csv(pipe); }), pipe + ": not a regular file (FIFO)");
  EXPECT_EQ(usage_message([&] { read_labels_csv("/dev/zero"); }),
            "/dev/zero: not a regular file (character device)");
}

TEST_F(EvalFiles, LabelsCsv) {
  const std::string csv = write("labels.csv", "path,class\na.png,3\na.png,dog\nb.png,1\n");
  const std::vector<LabelRow> rows = read_labels_csv(csv);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].path, at("a.png"));
  EXPECT_EQ(rows[1].cls, "dog");
  const std::string bad = write("bad.csv", "a.png,1,2\n");
  EXPECT_NE(usage_message([&] { read_labels_csv(bad); }).find(bad + ":1"), std::string::npos);
}

TEST(EvalClasses, ModelClassSpaces) {
  const ClassSpace plain = ClassSpace::for_model(5, {});
  EXPECT_EQ(plain.count, 5);
  EXPECT_EQ(plain.find("4"), 4);
  EXPECT_FALSE(plain.find("5"));
  EXPECT_FALSE(plain.find("-1"));
  EXPECT_FALSE(plain.find("cat"));
  const ClassSpace named = ClassSpace::for_model(3, {"ant", "bee", "cat"});
  EXPECT_EQ(named.find("cat"), 2);
  EXPECT_EQ(named.find("1"), 1);
  EXPECT_FALSE(named.find("Cat"));
  const ClassSpace xray = ClassSpace::for_model(1, {"abnormal"});
  EXPECT_TRUE(xray.binary);
  EXPECT_EQ(xray.count, 2);
  EXPECT_EQ(xray.find("abnormal"), 1);
  EXPECT_EQ(xray.find("negative"), 0);
  EXPECT_EQ(ClassSpace::for_model(1, {}).find("positive"), 1);
  EXPECT_EQ(ClassSpace::for_model(1, {"healthy", "sick"}).find("healthy"), 0);
}

TEST(EvalImageFolder, SortedIndexNamesAndBinaryFolders) {
  using M = std::map<std::string, int>;
  EXPECT_EQ(image_folder_classes({"b", "a", "c"}, ClassSpace::for_model(5, {})),
            (M{{"a", 0}, {"b", 1}, {"c", 2}}));
  // Every folder is a model label: the label decides, not the sorted order.
  EXPECT_EQ(image_folder_classes({"ant", "zebra"}, ClassSpace::for_model(2, {"zebra", "ant"})),
            (M{{"ant", 1}, {"zebra", 0}}));
  // One folder is not a label: torchvision's sorted order.
  EXPECT_EQ(image_folder_classes({"ant", "yak"}, ClassSpace::for_model(2, {"zebra", "ant"})),
            (M{{"ant", 0}, {"yak", 1}}));
  // Binary: the folder named after the positive label is positive, although it sorts first.
  EXPECT_EQ(image_folder_classes({"normal", "abnormal"}, ClassSpace::for_model(1, {"abnormal"})),
            (M{{"abnormal", 1}, {"normal", 0}}));
  EXPECT_EQ(image_folder_classes({"0_neg", "1_pos"}, ClassSpace::for_model(1, {})),
            (M{{"0_neg", 0}, {"1_pos", 1}}));
  EXPECT_NE(usage_message([] {
              image_folder_classes({"a", "b", "c"}, ClassSpace::for_model(2, {}));
            }).find("3 class folders"),
            std::string::npos);
}

TEST_F(EvalFiles, TableLabelsFromFoldersCsvAndBoxTags) {
  write("data/dog/1.png", "");
  write("data/cat/2.png", "");
  write("data/3.png", "");
  write("data/empty/.keep", "");
  const std::string boxes = write("data/boxes.csv",
                                  "dog/1.png,0,0,4,4\n"
                                  "cat/2.png,0,0,4,4,1\n"
                                  "cat/2.png,1,1,5,5,2\n"
                                  "3.png,0,0,2,2,4\n"
                                  "3.png,0,0,3,3\n"
                                  "gone.png,0,0,1,1\n");
  GroundTruthTable t(ClassSpace::for_model(5, {}), boxes, "");
  t.add_image_folder((dir_ / "data").string());  // folders: cat 0, dog 1, empty 2
  const GroundTruth dog = t.lookup((dir_ / "data/dog/1.png").string());
  EXPECT_EQ(dog.labels, std::vector<int>{1});
  EXPECT_EQ(dog.boxes_of(1).size(), 1u);
  // The folder says class 0, whose boxes are the untagged ones: none.
  try {
    t.lookup((dir_ / "data/cat/2.png").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input);
    EXPECT_NE(std::string(e.what()).find("2.png: no boxes for class '0'"), std::string::npos);
  }
  // Not in a class folder: labels from the box tags; untagged boxes belong to every class.
  const GroundTruth flat = t.lookup((dir_ / "data/3.png").string());
  EXPECT_EQ(flat.labels, std::vector<int>{4});
  EXPECT_EQ(flat.boxes_of(4).size(), 2u);
  EXPECT_EQ(flat.boxes_of(3).size(), 1u);
  EXPECT_EQ(t.unused_paths(), std::vector<std::string>{at("data/gone.png")});
  try {
    t.lookup((dir_ / "data/other.png").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.png: no label"), std::string::npos);
  }
}

TEST_F(EvalFiles, TableLabelsCsvWinsAndUnknownClassesAreUsageErrors) {
  const std::string boxes = write("boxes.csv", "a.png,0,0,4,4,ant\na.png,0,0,4,4,bee\n");
  const std::string labels = write("labels.csv", "a.png,bee\n");
  const ClassSpace named = ClassSpace::for_model(3, {"ant", "bee", "cat"});
  GroundTruthTable t(named, boxes, labels);
  const GroundTruth a = t.lookup((dir_ / "a.png").string());
  EXPECT_EQ(a.labels, std::vector<int>{1});
  EXPECT_EQ(a.boxes_of(1).size(), 1u);
  const std::string bad = write("bad.csv", "a.png,0,0,4,4,dog\n");
  EXPECT_NE(usage_message([&] {
              GroundTruthTable(named, bad, "");
            }).find(bad + ":1: unknown class 'dog'"),
            std::string::npos);
}

TEST_F(EvalFiles, BinaryNegativesNeedNoBoxes) {
  const std::string boxes = write("boxes.csv", "pos.png,0,0,4,4\n");
  const std::string labels = write("labels.csv", "pos.png,1\nneg.png,0\nbare.png,abnormal\n");
  GroundTruthTable t(ClassSpace::for_model(1, {"abnormal"}), boxes, labels);
  EXPECT_EQ(t.lookup((dir_ / "neg.png").string()).labels, std::vector<int>{0});
  const GroundTruth pos = t.lookup((dir_ / "pos.png").string());
  EXPECT_EQ(pos.boxes_of(1).size(), 1u);
  EXPECT_TRUE(t.lookup((dir_ / "bare.png").string()).boxes.empty());
}

}  // namespace
}  // namespace camkit
