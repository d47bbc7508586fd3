// Internal to the report area: a parsed record, and the page built from a list of them.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/report.hpp"

namespace camkit::report {

struct ClassEntry {
  int class_index = 0;
  std::string label;  ///< "" when the record has none
  double score = 0;
  double logit = 0;
};

struct ExplainedClass {
  ClassEntry entry;
  std::string overlay;      ///< the overlay's file as recorded (relative to the record)
  std::string overlay_src;  ///< URL of the overlay, relative to index.html ("" if missing)
  std::string raw;          ///< the raw map's file as recorded, "" when none
  std::optional<std::array<double, 4>> box;  ///< x0, y0, x1, y1 in image pixels
  // Volume records only: one heat map per slice, and where the raw map peaks.
  std::vector<std::string> cams;      ///< heat-map files as recorded (empty: none written)
  std::vector<std::string> cam_srcs;  ///< their URLs relative to index.html ("" if missing)
  std::vector<double> slice_peaks;    ///< max of the raw map per slice (NaN: null); may be empty
  int peak_slice = 0;                 ///< 0-based
  // 3-D records only: the peak voxel, and the map's slice mosaics (one per axis; "" none).
  std::optional<std::array<int, 3>> peak_voxel;  ///< d, h, w
  std::array<std::string, 3> mosaics;            ///< files as recorded
  std::array<std::string, 3> mosaic_srcs;        ///< URLs relative to index.html ("" if missing)
};

/// The "volume" object of an MRI/CT record: the case's slices as pictures.
struct Volume {
  int slices = 0;
  std::string mode;                       ///< "stacked" or "batch" ("" when not recorded)
  std::string case_id;                    ///< patient/exam id; the record's name when not recorded
  std::string plane;                      ///< "axial", ... ("" when the layout has none)
  std::vector<std::string> slice_images;  ///< as recorded (empty: none written)
  std::vector<std::string> slice_srcs;    ///< URLs relative to index.html ("" if missing)
};

/// One axis of a 3-D record's slice mosaics: tile k (plane k across the axis) at column
/// k % columns, row k / columns, tile_width x tile_height pixels (docs/report.md).
struct MosaicAxis {
  int slices = 0;  ///< 0: explain wrote no mosaic for this axis (a clip's h and w)
  int columns = 1, tile_width = 0, tile_height = 0;
  std::string file;  ///< the input's mosaic as recorded
  std::string src;   ///< its URL relative to index.html ("" if missing)
};

/// The "volume3d" object of a record of a 3-D model (NIfTI, .npy, video): the three-plane viewer.
struct Volume3d {
  std::string kind;                        ///< "nifti", "npy", "dicom", "video"
  int depth = 0, height = 0, width = 0;    ///< voxels (image.depth, image.height, image.width)
  std::array<double, 3> spacing{1, 1, 1};  ///< voxel size along d, h, w (from the affine)
  std::vector<int> frames;                 ///< video: source frame of each clip frame
  double fps = 0;                          ///< video: frames per second (0 unknown)
  std::array<MosaicAxis, 3> axes;          ///< d, h, w
};

struct Record {
  std::string path;  ///< relative to the report directory, '/'-separated, e.g. "sub/a.json"
  std::string input;
  int width = 0, height = 0, channels = 0;
  std::string model, method, feature_layer, feature_shape;
  std::optional<std::string> decision;  ///< binary models
  std::optional<int> true_class;        ///< ground truth, when the input's folder named it
  std::string true_label;
  std::vector<ClassEntry> predictions;
  std::vector<ExplainedClass> explanations;
  std::string input_src;         ///< display copy, relative to index.html ("" when not available)
  std::string input_note;        ///< why there is no display copy
  std::optional<Volume> volume;  ///< set for volume records, which the viewer shows
  std::optional<Volume3d> volume3d;  ///< set for records of 3-D models (three-plane viewer)
};

/// Checks the record's fields and copies them; overlay and input sources are left empty. A
/// record with a "volume" object is a volume record: its explanations carry "cams" instead of
/// "overlay", and every per-slice list must have one entry per slice.
/// Throws Error(ErrorCode::input) with the reason (no file name) when a field is missing or has
/// the wrong type.
Record parse_record(const nlohmann::json& json);

/// The "volume3d" parts of a record of a 3-D model: the object itself (with image.depth) and
/// each explanation's "peak" and "mosaics"; mosaic sources are left empty. Throws as
/// parse_record does when a field has the wrong type, a mosaic's slice count is not the
/// volume's size along its axis, or a peak voxel lies outside the volume.
void parse_volume3d(const nlohmann::json& json, Record& record);

/// True when the JSON value is a camkit record (an object with explanations and predictions).
bool is_record(const nlohmann::json& json);

/// A relative '/'-separated path as a URL path: every byte outside [A-Za-z0-9-._~/] is
/// percent-encoded, so names with spaces, '#', '?' or '%' load from file://.
std::string url_path(const std::string& relative);

/// The faithfulness figures of one method, from the JSON `camkit eval --faithfulness --json`
/// prints, saved anywhere under the report directory (docs/report.md, "Comparing methods").
struct Faithfulness {
  std::string method;
  std::string source;  ///< the file, relative to the report directory
  std::string cls;     ///< "predicted" or "true"
  int images = 0, steps = 0, trials = 0;
  double deletion_auc = 0, insertion_auc = 0, average_drop = 0, increase = 0;  ///< NaN: null
};

/// The figures of an eval JSON object, nullopt when it holds no "faithfulness" object with a
/// "method" string. Throws Error(input) when a figure has the wrong type.
std::optional<Faithfulness> parse_faithfulness(const nlohmann::json& json);

/// Image records of one input explained by several methods: the comparison view's rows (one
/// per class) and columns (one per method, sorted by name; a method written twice, e.g. fused
/// and at one layer, is one column per feature layer).
struct Comparison {
  std::string input;
  std::vector<const Record*> columns;
};

/// The comparisons among `records`: inputs with records of two or more methods (or layers), in
/// the order of their first record.
std::vector<Comparison> find_comparisons(const std::vector<Record>& records);

/// The comparison view's section: one table per input.
std::string render_comparisons(const std::vector<Comparison>& comparisons,
                               const std::vector<Faithfulness>& faithfulness, bool lazy);

/// An explained class's overlay with its box and caption, as the cards show it.
std::string figure(const Record& r, const ExplainedClass& e, bool lazy);
/// The input's display copy (or a placeholder) with its caption.
std::string input_figure(const Record& r, bool lazy);

/// What the page header shows besides the records.
struct PageInfo {
  std::string title;
  bool lazy = false;
  std::vector<std::string> skipped;  ///< "<record>: <reason>"
  int missing_inputs = 0;
  int missing_pictures = 0;                ///< slice and heat-map files of volume records not found
  std::vector<Faithfulness> faithfulness;  ///< by file path; the first of a method counts
  std::string sections;  ///< HTML placed after the header (the sanity check's section)
};

/// The section of a sanity-check result (DIR/sanity.json of camkit eval --sanity), its
/// figures linked when they lie in `root`. Throws Error(input) when it is not one.
std::string render_sanity(const nlohmann::json& sanity, const std::string& root);

/// The complete index.html: the volume viewer (when any record is a volume) above one card per
/// image record.
std::string render_page(const std::vector<Record>& records, const PageInfo& info);

/// The volume viewer's section: its controls, and the volume records as JSON in a
/// <script type="application/json" id="volume-data">, which the viewer's script reads.
std::string render_viewer(const std::vector<const Record*>& volumes);

/// The three-plane viewer's section for the records of 3-D models (viewer3d.cpp), with the
/// records as JSON in a <script type="application/json" id="volume3d-data">.
std::string render_viewer3d(const std::vector<const Record*>& volumes);

/// The viewers' style (appended to the page's) and scripts (run after the page's own). The
/// 3-D viewer's style builds on the volume viewer's, which the page includes for either.
extern const char* const kViewerStyle;
extern const char* const kViewerScript;
extern const char* const kViewer3dStyle;
extern const char* const kViewer3dScript;

/// JSON text safe inside <script>: every '<' written as \u003c.
std::string script_safe(const std::string& json_text);

/// Numbers as the page prints them: "n/a" for NaN and infinities.
std::string fixed(double v, int decimals);

/// The record's name: its path without ".json".
std::string name_of(const Record& r);

/// The class's label, or "class N" when it has none.
std::string label_or_class(const ClassEntry& e);

}  // namespace camkit::report
