// The work done on one input by each stage of the pipeline, free of threads and queues.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "camkit/pipeline.hpp"

namespace camkit::pipeline {

enum class State { decoded, explained, skipped, failed };

/// One input travelling through the stages.
struct Item {
  std::size_t pos = 0;  ///< position in this run's list (commit order)
  const PipelineInput* in = nullptr;
  State state = State::failed;
  /// The input as 8-bit RGB, shrunk to PipelineOptions::max_overlay_side: what overlays are
  /// drawn over (empty when no overlay is drawn). The decoded samples themselves are not kept.
  Rgb8 picture;
  int image_height = 0, image_width = 0, image_channels = 0;
  Prepared prepared;
  std::vector<int> classes;  ///< classes to explain; empty = top-k
  Explanation ex;
  std::string error;        ///< one line, when failed
  std::string record_text;  ///< the record file's bytes (explained inputs, once rendered)
  nlohmann::json record;    ///< the record (rendered or found complete on disk)
};

/// Where the record of `in` lives: "<parent>/<stem>.json", relative to out_dir.
std::string record_relative(const PipelineInput& in);

/// Fills a skipped item from its record when that record is complete for `hash` (and the
/// pictures it names exist); returns false otherwise.
bool load_complete_record(Item& item, const PipelineOptions& options, const std::string& hash);

/// The classes to explain for `in`: its true class with --class true, else options' classes
/// (empty = top-k). Throws Error(input) when the true class is missing or out of range.
std::vector<int> classes_for(const PipelineInput& in, const Model& model,
                             const PipelineOptions& options);

/// {"class", "label", "score", "logit"} of a prediction, as records store it.
nlohmann::json prediction_record(const Prediction& p);

/// Reads and prepares the input and chooses its classes. Throws Error(input) for a bad input.
void decode_item(Item& item, const Model& model, const PipelineOptions& options);

/// Whether two decoded items can share a forward pass.
bool same_batch(const Item& a, const Item& b);

/// Writes the item's pictures (atomically) and builds its record; the record file itself is
/// written at commit. Throws Error(input) when a file cannot be written.
void render_item(Item& item, const Model& model, const PipelineOptions& options,
                 const std::string& hash);

/// The index line of a record (one compact JSON line with "seq" and "record" added).
std::string index_line(const Item& item);
/// The index line of a failed input.
std::string error_line(const Item& item);

}  // namespace camkit::pipeline
