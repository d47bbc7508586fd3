// camkit/eval.hpp — weakly-supervised localisation and classification metrics (camkit eval).
//
// Usage:
//   camkit::ClassSpace classes = camkit::ClassSpace::for_model(5, {});   // 5 unnamed classes
//   camkit::GroundTruthTable truth(classes, "boxes.csv", "labels.csv");  // "" = no labels file
//   camkit::EvalOptions opt;
//   opt.thresholds = {0.2f, 0.3f};
//   camkit::Evaluation evaluation(opt);
//   // per image: run the model, then (camkit library) evaluation.add(eval_record(...))
//   camkit::ImageRecord rec;
//   rec.labels = {2};
//   rec.predicted = {2};
//   rec.trials.push_back({2, {{10, 10, 20, 20}}, {camkit::Box{10, 10, 20, 20}, std::nullopt},
//                         15.5, 15.5});
//   evaluation.add(rec);
//   std::cout << camkit::format_table(evaluation.report());
//
// Definitions (docs/eval.md gives each with its source):
//  - a trial is one (image, ground-truth class) pair whose class has boxes; its map is that
//    class's CAM; gt-known localisation, mean IoU and the pointing game average over trials;
//  - top-1 classification averages over evaluated images; top-1 localisation over images with
//    at least one trial: the top-1 class is a ground-truth class and its box has
//    IoU >= iou_threshold with one of that class's boxes.
//
// Everything here except eval_record() is torch-free (library camkit_eval). Errors are
// camkit::Error: a malformed or missing CSV is ErrorCode::usage naming "file:line", an image
// without label or boxes ErrorCode::input naming the image.
//
// Threading: all functions are reentrant; an Evaluation or GroundTruthTable is a plain value
// (use one per thread, or lock around add()).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "camkit/explain.hpp"
#include "camkit/faithfulness.hpp"
#include "camkit/render.hpp"
#include "camkit/volume.hpp"

namespace camkit {

// ------------------------------------------------------------------------------- geometry

/// Intersection over union of two pixel-edge boxes (area of [x0, x1) x [y0, y1)); 0 when they
/// do not overlap (touching edges included) or when both are empty.
double box_iou(const Box& a, const Box& b);

/// The best IoU of `box` with any of `truth`; 0 when truth is empty.
double best_iou(const Box& box, const std::vector<Box>& truth);

/// 3-D IoU of two voxel-edge boxes: volume of [z0, z1) x [y0, y1) x [x0, x1) of the
/// intersection over that of the union; 0 when they do not overlap or both are empty.
double box_iou_3d(const Box& a, const Box& b);
double best_iou_3d(const Box& box, const std::vector<Box>& truth);

/// Pointing game hit (Zhang et al. 2016; TorchRay's benchmark): the peak (image pixel
/// coordinates, e.g. a pixel centre) falls in pixel (floor(x), floor(y)); a hit when that
/// pixel lies inside one of the boxes, or when some pixel covered by a box (its centre inside
/// the box) is at a Euclidean distance below `tolerance` pixels from it.
bool pointing_hit(double peak_x, double peak_y, const std::vector<Box>& truth, double tolerance);

/// The pointing game in a volume: the peak (voxel-edge coordinates) falls in voxel
/// (floor(z), floor(y), floor(x)); a hit when that voxel lies in a box, or when some voxel
/// covered by a box (its centre inside) is at a Euclidean distance below `tolerance` voxels.
bool pointing_hit_3d(double peak_z, double peak_y, double peak_x, const std::vector<Box>& truth,
                     double tolerance);

/// A ground-truth mask on the grid of an input volume: voxel (d, h, w) is object when
/// on[(d * height + h) * width + w] is non-zero.
struct VoxelMask {
  int depth = 0, height = 0, width = 0;
  std::vector<unsigned char> on;
  /// The bounding box of the object voxels (voxel edges); nullopt when there is none.
  std::optional<Box> bounds() const;
};

/// The pointing game against a mask: a hit when the peak's voxel is object, or when an object
/// voxel lies at a Euclidean distance (between voxel indices) below `tolerance` voxels.
bool pointing_hit_mask(double peak_z, double peak_y, double peak_x, const VoxelMask& mask,
                       double tolerance);

/// Reads a mask (NIfTI, or a .npy (D, H, W) array; non-zero = object) for the input `volume`:
/// it must have the volume's D x H x W and one channel, and when both carry a voxel -> world
/// affine, the same one (within 1e-3 mm). Throws Error(ErrorCode::input) "mask: reason" for a
/// mask that cannot be read, is on another grid or has no object voxel.
VoxelMask read_mask(const std::string& path, const Volume& volume, const ReadOptions& options = {});

// ------------------------------------------------------------------------------- classes

/// The classes a dataset's labels name. Multi-class models: K classes, named by the model's
/// embedded labels when there are K of them. Single-logit (binary) models: 2 classes,
/// 0 = negative and 1 = positive, named {labels[0], labels[1]} for 2 embedded labels,
/// {"negative", labels[0]} for one, else {"negative", "positive"}.
struct ClassSpace {
  int count = 0;
  bool binary = false;
  std::vector<std::string> names;  ///< empty, or `count` names

  static ClassSpace for_model(int num_logits, const std::vector<std::string>& labels);
  /// A class written in a CSV: a decimal index in [0, count), else an exact name.
  std::optional<int> find(const std::string& text) const;
  std::string name(int c) const;  ///< the name, or the index as text
};

/// ImageFolder labels: the class index of each class folder. When every folder name is a
/// class name, the name decides; for a binary model with two folders, one of which is the
/// positive class's name, that folder is positive and the other negative; otherwise
/// torchvision's rule: the index in the sorted (byte order) list of folders.
/// Throws Error(usage) when there are more folders than classes.
std::map<std::string, int> image_folder_classes(std::vector<std::string> folders,
                                                const ClassSpace& classes);

/// The immediate subdirectories of `dir`, sorted (torchvision's find_classes).
std::vector<std::string> class_folders(const std::string& dir);

// ------------------------------------------------------------------------------- CSV files

/// `path` made absolute (relative paths joined to `base`, "" = the working directory), with
/// "." and ".." removed and symbolic links of its existing part resolved.
std::string normalize_path(const std::string& path, const std::string& base = "");

/// One box line of a boxes CSV: path,x0,y0,x1,y1[,class].
struct BoxRow {
  std::string path;   ///< normalised (relative paths are relative to the CSV's folder)
  Box box;            ///< input-image pixel edges, x1/y1 exclusive
  std::string cls;    ///< sixth column as written; "" = the box belongs to every class
  std::string where;  ///< "file:line"
};

/// Reads a 3-D boxes CSV (3-D models): path,z0,y0,x0,z1,y1,x1[,class], voxel edges of the
/// input volume (z: depth d, y: height h, x: width w; z1/y1/x1 exclusive). Header, quoting,
/// blank lines and errors as read_boxes_csv (7 or 8 fields; z1 > z0, y1 > y0, x1 > x0).
std::vector<BoxRow> read_boxes3d_csv(const std::string& file);

/// One line of a masks CSV: path,mask[,class].
struct MaskRow {
  std::string path;  ///< the input, normalised like BoxRow::path
  std::string mask;  ///< the mask file, normalised the same way
  std::string cls;   ///< "" = the mask belongs to every class of its input
  std::string where;
};

/// Reads a masks CSV: path,mask[,class] per line (paths relative to the CSV's folder); an
/// optional header whose first two fields are "path" and "mask". Errors as read_boxes_csv.
std::vector<MaskRow> read_masks_csv(const std::string& file);

/// One line of a labels CSV: path,class.
struct LabelRow {
  std::string path;  ///< normalised like BoxRow::path
  std::string cls;
  std::string where;
};

/// Splits one CSV line (RFC 4180 quotes: "a,b" and "" inside quotes), trimming spaces
/// around unquoted fields. Throws Error(usage) naming `where` for an unterminated quote.
std::vector<std::string> split_csv_line(const std::string& line, const std::string& where);

/// Reads a boxes CSV: one box per line (several lines per image allowed), an optional header
/// (a first line none of whose coordinates is a number), blank lines ignored, CRLF and a UTF-8
/// BOM accepted. Throws Error(usage) "file: no such file", "file: cannot read (...)",
/// "file: not a regular file (FIFO)"
/// (devices and sockets likewise: never read), "file: ... over the limit" (larger than
/// ReadOptions' default max_file_bytes) or "file:line: ..." for a line with other than 5 or 6
/// fields, a coordinate that is not a finite number, or x1 <= x0 / y1 <= y0.
std::vector<BoxRow> read_boxes_csv(const std::string& file);

/// Reads a labels CSV (path,class per line; several lines give an image several labels; an
/// empty class lists an image with no label, a multi-label image without findings);
/// header: a first line whose first two fields are "path" and "class"/"label".
std::vector<LabelRow> read_labels_csv(const std::string& file);

// ------------------------------------------------------------------------------- ground truth

/// An image's ground truth: its classes and its boxes, class-resolved.
struct GroundTruth {
  std::vector<int> labels;                         ///< sorted, unique
  std::vector<std::pair<int, Box>> boxes;          ///< class index, or -1 for a box of every class
  std::vector<std::pair<int, std::string>> masks;  ///< mask files (3-D models), classed as boxes
  /// The boxes of class c: those tagged c and the untagged ones.
  std::vector<Box> boxes_of(int c) const;
  /// The mask files of class c: those tagged c and the untagged ones.
  std::vector<std::string> masks_of(int c) const;
};

/// The ground-truth files of a GroundTruthTable ("" = none). `volume`: the boxes CSV is the
/// 3-D one (read_boxes3d_csv); masks are for 3-D models only.
struct GroundTruthFiles {
  std::string boxes, labels, masks;
  bool volume = false;
};

/// Boxes and labels looked up by image path. Labels come from, in order: the labels CSV; the
/// class folder (ImageFolder) when the image lies in a registered directory's subfolder; the
/// classes tagged on its boxes.
class GroundTruthTable {
 public:
  /// Reads both files ("" = none) and resolves their classes; throws Error(usage)
  /// "file:line: unknown class 'x'" for a class the ClassSpace does not know.
  GroundTruthTable(ClassSpace classes, const std::string& boxes_csv, const std::string& labels_csv);
  /// As above, with 3-D boxes and masks (a class has ground truth when it has a box or a mask).
  GroundTruthTable(ClassSpace classes, const GroundTruthFiles& files);
  /// Registers a directory argument whose subfolders are classes (image_folder_classes).
  void add_image_folder(const std::string& dir);
  /// The ground truth of the image at `path`. Throws Error(input) "path: no label" when no
  /// source labels it and "path: no boxes for class 'c'" when a class of a multi-class model
  /// has none; binary positives without boxes are returned without boxes (classification
  /// only) and negatives need none. With `need_boxes` false only "no label" is an error.
  GroundTruth lookup(const std::string& path, bool need_boxes = true) const;
  /// Box and label files' paths that lookup() never asked for (typos show up here).
  std::vector<std::string> unused_paths() const;
  const ClassSpace& classes() const { return classes_; }

 private:
  ClassSpace classes_;
  std::map<std::string, GroundTruth> boxes_;  ///< boxes by path; labels there are box tags
  std::map<std::string, std::vector<int>> labels_;
  std::vector<std::pair<std::string, std::map<std::string, int>>> folders_;
  mutable std::set<std::string> used_;
};

// ------------------------------------------------------------------------------- metrics

struct EvalOptions {
  std::vector<float> thresholds{0.2f};  ///< box thresholds (fractions of the map's maximum)
  double iou_threshold = 0.5;           ///< localisation is correct at IoU >= this
  double pointing_tolerance = 15;       ///< pixels of the input image (voxels for volumes)
  int top_k = 1;                        ///< also report top-k classification and localisation
  bool volume = false;                  ///< 3-D models: boxes and tolerance in voxels
};

/// One trial: a ground-truth class of an image, with its boxes and its map's boxes and peak.
struct ClassTrial {
  int class_index = 0;
  std::vector<Box> truth;                 ///< non-empty
  std::vector<std::optional<Box>> boxes;  ///< one per threshold; nullopt: the map is flat
  double peak_x = 0, peak_y = 0;          ///< the map's maximum, image pixels
  /// Volumes: IoU and pointing in 3-D (boxes' z0/z1, peak_z). The last masks.size() entries
  /// of `truth` are the masks' bounding boxes (for IoU); pointing uses the masks themselves.
  bool volume = false;
  double peak_z = 0.5;
  std::vector<std::shared_ptr<const VoxelMask>> masks{};
};

/// What one image contributes.
struct ImageRecord {
  std::vector<int> labels;         ///< ground-truth classes
  std::vector<int> predicted;      ///< most probable first; binary: {1} when score >= 0.5 else {0}
  std::vector<ClassTrial> trials;  ///< ground-truth classes that have boxes
  /// Multi-label models: every class's probability, and the classes at or above the positive
  /// threshold (the predicted findings). Empty otherwise.
  std::vector<float> scores;
  std::vector<int> positives;
};

/// A metric's value: nullopt when its denominator is 0.
using Rate = std::optional<double>;

/// Classification metrics of a multi-label model (CheXNet-style findings): per class the
/// area under the ROC curve of its probability against its label (images with the label are
/// positives; undefined without both), their mean; per image the F1 of the predicted findings
/// against the labels (1 when both are empty) and whether they are exactly the labels.
struct MultiLabelMetrics {
  int images = 0;
  std::vector<Rate> class_auroc;  ///< one per class
  int auroc_classes = 0;          ///< classes with a defined AUROC
  Rate mean_auroc, example_f1, exact_match;
};

/// AUROC of `scored` (score, is positive): the Mann-Whitney U statistic over (positive,
/// negative) pairs, ties counting half; nullopt without both kinds.
Rate auroc(std::vector<std::pair<float, bool>> scored);

struct ThresholdMetrics {
  float threshold = 0;
  int top1_loc_correct = 0, topk_loc_correct = 0, gt_known_correct = 0;
  double iou_sum = 0;
  Rate top1_loc, topk_loc, gt_known_loc, mean_iou;
};

struct EvalReport {
  EvalOptions options;
  int images = 0;      ///< evaluated images (classification denominator)
  int loc_images = 0;  ///< images with at least one trial (top-k localisation denominator)
  int trials = 0;      ///< gt-known, mIoU and pointing denominator
  int top1_cls_correct = 0, topk_cls_correct = 0, pointing_hits = 0;
  Rate top1_cls, topk_cls;
  Rate pointing;             ///< mean over classes of the per-class hit rate (the paper's number)
  Rate pointing_overall;     ///< hits / trials
  int pointing_classes = 0;  ///< classes with at least one trial
  std::vector<ThresholdMetrics> rows;  ///< one per threshold, in the order given
  std::optional<size_t> best;  ///< row with the highest gt-known loc (ties: higher mIoU, first)
  std::optional<MultiLabelMetrics> multilabel;  ///< when the records carry scores
  // Filled by the caller for the printed report.
  std::string model;
  std::string method;  ///< the method whose maps were evaluated, e.g. "cam"
  int inputs = 0, skipped = 0;
  /// false: no boxes were given; the report holds counts, classification (when labels were
  /// given) and faithfulness only.
  bool localisation = true;
  bool classification = false;                     ///< labels were given without boxes
  std::optional<FaithfulnessReport> faithfulness;  ///< when asked for (--faithfulness)
};

/// Accumulates ImageRecords into an EvalReport.
class Evaluation {
 public:
  /// Throws Error(usage) for no thresholds, a threshold outside [0, 1], top_k < 1, a negative
  /// tolerance or an IoU threshold outside (0, 1].
  explicit Evaluation(EvalOptions options);
  /// Throws Error(usage) when a trial does not have one box per threshold.
  void add(const ImageRecord& record);
  EvalReport report() const;

 private:
  void add_multilabel(const ImageRecord& record);
  EvalOptions options_;
  EvalReport sums_;
  std::map<int, std::pair<int, int>> pointing_by_class_;     ///< hits, trials
  std::vector<std::vector<std::pair<float, bool>>> scored_;  ///< multi-label, per class
  double f1_sum_ = 0;
  int exact_ = 0, multilabel_images_ = 0;
};

/// The human-readable table: one row per threshold (n, top1-cls, top1-loc, gt-known-loc,
/// mIoU, pointing; top-k columns when top_k > 1), then the best threshold; then the
/// faithfulness section when there is one.
std::string format_table(const EvalReport& report);
/// One JSON object with every number, count and the best threshold (docs/eval.md).
std::string format_json(const EvalReport& report);

// ------------------------------------------------------------------------------- model side

/// Needs the camkit library (LibTorch). Turns one explained input into its record: the
/// display map of each ground-truth class with boxes (ReLU unless CAM, as camkit explain), its box
/// at every threshold from that one display map, and its peak. `ex` must hold the maps of
/// `truth.labels` (binary models: the single logit's map, used for the positive class).
/// Throws Error(usage) when a needed map is missing.
ImageRecord eval_record(const Explanation& ex, const Prepared& input, const GroundTruth& truth,
                        const std::vector<float>& thresholds);

/// A scan explained by a 3-D model -> its record (docs/eval.md, "3-D models"). Each class's
/// display map is computed on the scan's own grid (ReLU unless CAM, trilinear upsampling of
/// the raw map to volume.depth x height x width, align_corners=False, min-max), its box at every
/// threshold is the 26-connected CAM-paper box in voxels, its peak the first maximum voxel.
/// `masks` are the ground-truth masks of `truth` by path, read on the scan's grid
/// (read_mask). Throws Error(usage) when a needed map or mask is missing.
ImageRecord eval_record_3d(const Explanation& ex, const Volume& volume, const GroundTruth& truth,
                           const std::map<std::string, std::shared_ptr<const VoxelMask>>& masks,
                           const std::vector<float>& thresholds);

}  // namespace camkit
