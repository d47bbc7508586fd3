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
};

/// Checks the record's fields and copies them; overlay and input sources are left empty. A
/// record with a "volume" object is a volume record: its explanations carry "cams" instead of
/// "overlay", and every per-slice list must have one entry per slice.
/// Throws Error(ErrorCode::input) with the reason (no file name) when a field is missing or has
/// the wrong type.
Record parse_record(const nlohmann::json& json);

/// True when the JSON value is a camkit record (an object with explanations and predictions).
bool is_record(const nlohmann::json& json);

/// A relative '/'-separated path as a URL path: every byte outside [A-Za-z0-9-._~/] is
/// percent-encoded, so names with spaces, '#', '?' or '%' load from file://.
std::string url_path(const std::string& relative);

/// What the page header shows besides the records.
struct PageInfo {
  std::string title;
  bool lazy = false;
  std::vector<std::string> skipped;  ///< "<record>: <reason>"
  int missing_inputs = 0;
  int missing_pictures = 0;  ///< slice and heat-map files of volume records not found
  std::string sections;      ///< HTML placed after the header (the sanity check's section)
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

/// The viewer's style (appended to the page's) and script (run after the page's own).
extern const char* const kViewerStyle;
extern const char* const kViewerScript;

/// Numbers as the page prints them: "n/a" for NaN and infinities.
std::string fixed(double v, int decimals);

/// The record's name: its path without ".json".
std::string name_of(const Record& r);

/// The class's label, or "class N" when it has none.
std::string label_or_class(const ClassEntry& e);

}  // namespace camkit::report
