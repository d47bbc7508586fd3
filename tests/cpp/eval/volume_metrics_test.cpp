// 3-D localisation metrics of camkit eval on hand-made cases whose answers are worked out from
// the definitions (docs/eval.md, "3-D models"): box IoU in voxels, the pointing game against
// boxes and masks with a tolerance in voxels, and the 3-D boxes and masks CSV files.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

Box box3(double z0, double y0, double x0, double z1, double y1, double x1) {
  Box b;
  b.z0 = z0, b.y0 = y0, b.x0 = x0, b.z1 = z1, b.y1 = y1, b.x1 = x1;
  return b;
}

VoxelMask mask_of(int d, int h, int w, const std::vector<std::array<int, 3>>& voxels) {
  VoxelMask m;
  m.depth = d, m.height = h, m.width = w;
  m.on.assign(static_cast<std::size_t>(d) * h * w, 0);
  for (const auto& v : voxels) m.on[(static_cast<std::size_t>(v[0]) * h + v[1]) * w + v[2]] = 1;
  return m;
}

TEST(VolumeMetrics, IouIsTheRatioOfVoxelVolumes) {
  // [0,2)^3 and [1,3)^3: 1 voxel shared, 8 + 8 - 1 = 15 in the union.
  EXPECT_DOUBLE_EQ(box_iou_3d(box3(0, 0, 0, 2, 2, 2), box3(1, 1, 1, 3, 3, 3)), 1.0 / 15);
  // Half of a 4x4x4 cube along z: 32 / 64.
  EXPECT_DOUBLE_EQ(box_iou_3d(box3(0, 0, 0, 2, 4, 4), box3(0, 0, 0, 4, 4, 4)), 0.5);
  // The same 2-D footprint at different depths does not overlap (the 2-D IoU would be 1).
  EXPECT_DOUBLE_EQ(box_iou_3d(box3(0, 0, 0, 1, 4, 4), box3(2, 0, 0, 3, 4, 4)), 0.0);
  EXPECT_DOUBLE_EQ(box_iou(box3(0, 0, 0, 1, 4, 4), box3(2, 0, 0, 3, 4, 4)), 1.0);
  // Touching faces: no volume in common.
  EXPECT_DOUBLE_EQ(box_iou_3d(box3(0, 0, 0, 2, 2, 2), box3(2, 0, 0, 4, 2, 2)), 0.0);
  EXPECT_DOUBLE_EQ(best_iou_3d(box3(0, 0, 0, 2, 2, 2), {}), 0.0);
}

TEST(VolumeMetrics, PointingAtBoxesCountsVoxelsStrictlyInsideTheTolerance) {
  const std::vector<Box> truth{box3(4, 4, 4, 6, 6, 6)};
  // Peak in voxel (0, 5, 5): the nearest covered voxel is (4, 5, 5), 4 voxels away.
  EXPECT_FALSE(pointing_hit_3d(0.5, 5.5, 5.5, truth, 0));
  EXPECT_FALSE(pointing_hit_3d(0.5, 5.5, 5.5, truth, 4));  // distance < tolerance is required
  EXPECT_TRUE(pointing_hit_3d(0.5, 5.5, 5.5, truth, 4.01));
  // Diagonal: voxel (1, 1, 1) to (4, 4, 4) is sqrt(27) = 5.196 away.
  EXPECT_FALSE(pointing_hit_3d(1.5, 1.5, 1.5, truth, 5.19));
  EXPECT_TRUE(pointing_hit_3d(1.5, 1.5, 1.5, truth, 5.2));
  // Inside: a hit at tolerance 0; the depth matters, not just the plane.
  EXPECT_TRUE(pointing_hit_3d(5.9, 4.1, 5.0, truth, 0));
  EXPECT_FALSE(pointing_hit_3d(6.0, 4.1, 5.0, truth, 0));
}

TEST(VolumeMetrics, PointingAtMasksUsesTheObjectVoxels) {
  // An L-shaped object whose bounding box [2,5)^... holds voxels that are not object.
  const VoxelMask m = mask_of(8, 8, 8, {{2, 2, 2}, {2, 2, 3}, {2, 2, 4}, {4, 2, 4}});
  const Box b = *m.bounds();
  EXPECT_EQ(b.z0, 2);
  EXPECT_EQ(b.z1, 5);
  EXPECT_EQ(b.y0, 2);
  EXPECT_EQ(b.y1, 3);
  EXPECT_EQ(b.x0, 2);
  EXPECT_EQ(b.x1, 5);
  EXPECT_TRUE(pointing_hit_mask(2.5, 2.5, 3.5, m, 0));
  // (3, 2, 2) is in the bounding box but not object: its nearest object voxels are 1 away.
  EXPECT_TRUE(pointing_hit_3d(3.5, 2.5, 2.5, {b}, 0));
  EXPECT_FALSE(pointing_hit_mask(3.5, 2.5, 2.5, m, 0));
  EXPECT_FALSE(pointing_hit_mask(3.5, 2.5, 2.5, m, 1));
  EXPECT_TRUE(pointing_hit_mask(3.5, 2.5, 2.5, m, 1.01));
  // From the far corner (7, 7, 7): nearest object voxel (4, 2, 4), sqrt(9 + 25 + 9) = 6.557.
  EXPECT_FALSE(pointing_hit_mask(7.5, 7.5, 7.5, m, 6.55));
  EXPECT_TRUE(pointing_hit_mask(7.5, 7.5, 7.5, m, 6.56));
  EXPECT_FALSE(mask_of(2, 2, 2, {}).bounds());
}

TEST(VolumeMetrics, EvaluationScoresVolumeTrialsIn3d) {
  EvalOptions o;
  o.thresholds = {0.2f};
  o.pointing_tolerance = 0;
  o.volume = true;
  Evaluation ev(o);
  // Trial 1: box half of the truth cube (IoU 0.5, localised), peak inside.
  ClassTrial a;
  a.class_index = 0;
  a.volume = true;
  a.truth = {box3(0, 0, 0, 4, 4, 4)};
  a.boxes = {box3(0, 0, 0, 2, 4, 4)};
  a.peak_z = 1.5, a.peak_y = 1.5, a.peak_x = 1.5;
  ImageRecord r1;
  r1.labels = {0};
  r1.predicted = {0, 1};
  r1.trials = {a};
  ev.add(r1);
  // Trial 2: against a mask of one voxel at (6, 6, 6): the box [5,7)^3 has IoU 1/8; the peak
  // (5, 6, 6) lies in the mask's bounding box's neighbourhood but not on the object.
  auto m = std::make_shared<const VoxelMask>(mask_of(8, 8, 8, {{6, 6, 6}}));
  ClassTrial b;
  b.class_index = 1;
  b.volume = true;
  b.masks = {m};
  b.truth = {*m->bounds()};
  b.boxes = {box3(5, 5, 5, 7, 7, 7)};
  b.peak_z = 5.5, b.peak_y = 6.5, b.peak_x = 6.5;
  ImageRecord r2;
  r2.labels = {1};
  r2.predicted = {1, 0};
  r2.trials = {b};
  ev.add(r2);
  const EvalReport rep = ev.report();
  EXPECT_EQ(rep.trials, 2);
  EXPECT_EQ(rep.rows[0].gt_known_correct, 1);
  EXPECT_DOUBLE_EQ(*rep.rows[0].mean_iou, (0.5 + 1.0 / 8) / 2);
  EXPECT_EQ(rep.pointing_hits, 1);
  EXPECT_DOUBLE_EQ(*rep.pointing, 0.5);  // class 0: 1/1, class 1: 0/1
  EXPECT_NE(format_table(rep).find("tolerance 0 voxels"), std::string::npos);
  EXPECT_NE(format_json(rep).find("\"units\": \"voxels\""), std::string::npos);
}

class Volume3dFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("camkit_eval3d_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  fs::path dir_;
};

std::string usage_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::usage) return e.what();
  }
  return "";
}

TEST_F(Volume3dFiles, BoxesCsvIsZyxInVoxelEdges) {
  const std::string csv = write("boxes.csv",
                                "path,z0,y0,x0,z1,y1,x1,class\nscan.nii.gz,1,2,3,4.5,6,7,1\n"
                                "\"b.npy\",0,0,0,1,1,1\n");
  const std::vector<BoxRow> rows = read_boxes3d_csv(csv);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].path, normalize_path((dir_ / "scan.nii.gz").string()));
  EXPECT_EQ(rows[0].box.z0, 1);
  EXPECT_EQ(rows[0].box.y0, 2);
  EXPECT_EQ(rows[0].box.x0, 3);
  EXPECT_EQ(rows[0].box.z1, 4.5);
  EXPECT_EQ(rows[0].box.y1, 6);
  EXPECT_EQ(rows[0].box.x1, 7);
  EXPECT_EQ(rows[0].cls, "1");
  EXPECT_EQ(rows[1].cls, "");
  const std::string bad = write("bad.csv", "a.npy,0,0,0,1,1\n");
  EXPECT_NE(usage_error([&] { read_boxes3d_csv(bad); }).find("bad.csv:1: expected path,z0"),
            std::string::npos);
  const std::string flat = write("flat.csv", "a.npy,2,0,0,2,1,1\n");
  EXPECT_NE(usage_error([&] { read_boxes3d_csv(flat); }).find("flat.csv:1: empty box"),
            std::string::npos);
}

TEST_F(Volume3dFiles, MasksCsvAndTheTableClassTheMasks) {
  const std::string masks =
      write("masks.csv", "path,mask,class\nscan.nii.gz,seg/scan_mask.nii.gz,1\nb.npy,b_mask.npy\n");
  const std::vector<MaskRow> rows = read_masks_csv(masks);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].mask, normalize_path((dir_ / "seg/scan_mask.nii.gz").string()));
  GroundTruthFiles files;
  files.masks = masks;
  files.volume = true;
  GroundTruthTable table(ClassSpace::for_model(3, {}), files);
  const GroundTruth gt = table.lookup((dir_ / "scan.nii.gz").string());
  EXPECT_EQ(gt.labels, std::vector<int>{1});
  EXPECT_EQ(gt.masks_of(1).size(), 1u);
  EXPECT_TRUE(gt.masks_of(0).empty());
  files.volume = false;
  EXPECT_NE(usage_error([&] {
              GroundTruthTable(ClassSpace::for_model(3, {}), files);
            }).find("masks are for 3-D models"),
            std::string::npos);
}

}  // namespace
}  // namespace camkit
