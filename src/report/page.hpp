// Internal to the report area: a parsed record, and the page built from a list of them.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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
};

struct Record {
  std::string path;  ///< relative to the report directory, '/'-separated, e.g. "sub/a.json"
  std::string input;
  int width = 0, height = 0, channels = 0;
  std::string model, method, feature_layer, feature_shape;
  std::optional<std::string> decision;  ///< binary models
  std::vector<ClassEntry> predictions;
  std::vector<ExplainedClass> explanations;
  std::string input_src;   ///< display copy, relative to index.html ("" when not available)
  std::string input_note;  ///< why there is no display copy
};

/// Checks the record's fields and copies them; overlay and input sources are left empty.
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
};

/// The complete index.html.
std::string render_page(const std::vector<Record>& records, const PageInfo& info);

}  // namespace camkit::report
