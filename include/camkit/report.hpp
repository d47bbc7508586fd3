// camkit/report.hpp — a static HTML report of an explain output directory.
//
// Usage:
//   camkit::ReportOptions opt;
//   opt.title = "validation set";
//   camkit::ReportSummary s = camkit::write_report("camkit-out", opt);
//   for (const std::string& e : s.errors) std::cerr << e << "\n";  // records that were skipped
//   std::cout << s.index << "\n";                                   // camkit-out/index.html
//
// Volume records (MRI/CT exams that `camkit explain` ran slice by slice; they hold a "volume"
// object) are shown in an interactive viewer at the top of the page: one case at a time, a
// slider over its slices, the heat map blended over the slice, a strip of per-slice peaks. The
// records are embedded in the page as JSON, so the viewer works from file:// too.
//
// The report is one self-contained page (inline CSS and JavaScript, no external URLs) that a
// browser opens from file://. Everything it shows lies under the directory: the overlays that
// `camkit explain` wrote, and display copies of the inputs, which the report writes under
// DIR/_report/ because browsers cannot show .npy arrays or 16-bit TIFFs. The directory can be
// moved or archived as a whole.
//
// Threading: write_report is reentrant; two calls must not write the same directory at once.
#pragma once

#include <string>
#include <vector>

#include "camkit/render.hpp"

namespace camkit {

struct ReportOptions {
  std::string title = "camkit report";  ///< page title and heading
  /// Grey (1-channel) inputs are shown through this colormap (gray, or bone for X-rays).
  Colormap image_colormap = Colormap::gray;
  /// Display copies of the inputs are shrunk (cv::resize INTER_AREA) to at most this many
  /// pixels on the long side; never enlarged. Must be at least 16.
  int max_image_side = 512;
  /// Images get loading="lazy" when the report holds more records than this, so that a page of
  /// thousands of inputs opens quickly; below it every image loads at once.
  int lazy_after = 100;
};

struct ReportSummary {
  std::string index;       ///< path of the written index.html (DIR/index.html)
  int records = 0;         ///< records shown, image and volume records together
  int volumes = 0;         ///< of which volume records (shown in the viewer)
  int explanations = 0;    ///< explained classes shown (overlays, or heat-map stacks)
  int missing_inputs = 0;  ///< inputs not found or unreadable: shown as placeholders
  /// Slice and heat-map pictures named by volume records but not found: the viewer shows a
  /// placeholder for those slices.
  int missing_pictures = 0;
  std::vector<std::string> errors;  ///< one line "<record path>: <reason>" per skipped record
};

/// Scans `dir` recursively (sorted by path, DIR/_report excluded) for camkit records: JSON
/// files holding both "explanations" and "predictions"; other JSON files are ignored. A file
/// ending in .json that cannot be parsed, or a record whose fields have the wrong types, is
/// skipped and reported in ReportSummary::errors; the report covers the others. For each
/// record the input named by its "input" field is read (a relative path is tried from the
/// current directory, then from the parent of `dir`, where `camkit explain ... -o DIR` is
/// usually run), converted with to_rgb8 and written as DIR/_report/<record path>.png. Volume
/// records are not read from their input: their slice and heat-map PNGs, written by explain next
/// to the record, are what the viewer shows. A volume record whose per-slice lists do not have
/// one entry per slice is skipped and reported like a record with a wrong type.
/// Writes DIR/index.html atomically and returns what it showed.
/// Throws Error(ErrorCode::usage) when `dir` is not a directory or an option is invalid,
/// Error(ErrorCode::input) when no readable record was found (nothing is written then; the
/// message names the first skipped file, if any) or a file cannot be written.
ReportSummary write_report(const std::string& dir, const ReportOptions& options = {});

/// `text` with & < > " ' replaced by character references, safe in HTML text and quoted
/// attribute values.
std::string html_escape(const std::string& text);

}  // namespace camkit
