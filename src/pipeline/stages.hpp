// The work done on one input by each stage of the pipeline, free of threads and queues.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "camkit/output_folder.hpp"
#include "camkit/pipeline.hpp"
#include "camkit/volume.hpp"

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
  /// Inputs of 3-D models (docs/volumes3d.md): the decoded scan or clip, kept for its slice
  /// overlays and its geometry until the item is rendered.
  std::shared_ptr<const Volume> volume;
  Prepared prepared;
  std::vector<int> classes;  ///< classes to explain; empty = top-k
  Explanation ex;
  std::string error;        ///< one line, when failed
  std::string record_text;  ///< the record file's bytes (explained inputs, once rendered)
  nlohmann::json record;    ///< the record (rendered or found complete on disk)
};

/// Where the record of `in` lives: "<parent>/<stem>.json", relative to out_dir (a series
/// folder's name is kept whole: "<parent>/<name>.json").
std::string record_relative(const PipelineInput& in);

/// The format of `in`'s overlays: options.format, with PictureFormat::automatic resolved to
/// jpg for a JPEG input (extension .jpg/.jpeg, any case) and png for every other input (series
/// folders and volumes included).
PictureFormat overlay_format(const PipelineInput& in, const PipelineOptions& options);

/// ".jpg" or ".png" for a resolved format.
const char* picture_extension(PictureFormat format);

/// The picture encoded as `format` (resolved) with options' quality / compression.
std::string encode_picture(const Rgb8& picture, PictureFormat format,
                           const PipelineOptions& options);

/// JSON text that never throws: bytes that are not UTF-8 (file names in another encoding) are
/// replaced by U+FFFD. indent < 0: one line.
std::string dump_json(const nlohmann::json& j, int indent = -1);

/// Fills a skipped item from its record when that record is complete for `hash` (and the
/// pictures it names exist); returns false otherwise (a malformed record included).
bool load_complete_record(Item& item, const PipelineOptions& options, const std::string& hash,
                          const OutputFolder& out);

/// The classes to explain for `in`: its true class with --class true, else options' classes
/// (empty = top-k). Throws Error(input) when the true class is missing or out of range.
std::vector<int> classes_for(const PipelineInput& in, const Model& model,
                             const PipelineOptions& options);

/// {"class", "label", "score", "logit"} of a prediction, as records store it, plus
/// "positive" for binary and multi-label tasks.
nlohmann::json prediction_record(const Prediction& p, Task task);

/// The record fields every explained input shares: method, task, layer, layout, feature shape,
/// predictions, decision (binary) and positives (multi-label).
void describe_explanation(nlohmann::json& rec, Method method, Task task, const std::string& layer,
                          const std::string& layout, const std::vector<int>& feature_shape,
                          const std::vector<Prediction>& predictions,
                          const std::vector<int>& positives, const Model& model);

/// The settings that modify the method (eigen-smoothing, the augmentations of aug-smoothing,
/// Smooth Grad-CAM++'s noise), as records list them under "method_options" and the options
/// hash folds them in; null when none applies.
nlohmann::json method_options_json(const ExplainOptions& e);

/// Reads and prepares the input and chooses its classes. Throws Error(input) for a bad input.
void decode_item(Item& item, const Model& model, const PipelineOptions& options);

/// decode_item for a 3-D model: a NIfTI file, .npy array, DICOM volume or video clip, read
/// with read_volume_3d / read_video and prepared with prepare_volume.
void decode_volume_item(Item& item, const Model& model, const PipelineOptions& options);

/// The record fields every rendered input shares: input, image size, model, options hash and
/// true class.
nlohmann::json record_header(const Item& item, const Model& model, const std::string& hash);

/// render_item for a 3-D model: raw maps (d, h, w) as .npy, the display map as NIfTI over a
/// NIfTI scan (its affine), overlays of the three planes through the peak, a 3-D box and the
/// peak voxel (with world coordinates for NIfTI) in the record.
void render_volume_item(Item& item, const Model& model, const PipelineOptions& options,
                        const std::string& hash, const OutputFolder& out);

/// Whether two decoded items can share a forward pass.
bool same_batch(const Item& a, const Item& b);

/// Writes the item's pictures (atomically) and builds its record; the record file itself is
/// written at commit. Throws Error(input) when a file cannot be written.
void render_item(Item& item, const Model& model, const PipelineOptions& options,
                 const std::string& hash, const OutputFolder& out);

/// The index line of a record: the record's fields plus "seq", "record" (its path relative to
/// out_dir), "inputs" (options.total_inputs) and, for a shard, "shard": "i/N". One line.
std::string index_line(const nlohmann::json& record, const PipelineInput& in,
                       const PipelineOptions& options);
/// The index line of a failed input: {"seq", "input", "error", "inputs"[, "shard"]}.
std::string error_line(const PipelineInput& in, const std::string& error,
                       const PipelineOptions& options);

}  // namespace camkit::pipeline
