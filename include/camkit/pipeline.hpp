// camkit/pipeline.hpp — explaining a whole dataset: threads, batches, resume, index, progress.
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   std::vector<camkit::PipelineInput> inputs = {{"data/cat/1.jpg", "cat/1.jpg"},
//                                                {"data/dog/2.jpg", "dog/2.jpg"}};
//   camkit::PipelineOptions opt;
//   opt.out_dir = "out";
//   opt.preprocess = model.preprocess();
//   opt.threads = 2;
//   opt.batch_size = 8;
//   camkit::PipelineSummary s = camkit::run_pipeline(model, inputs, opt);
//   std::cerr << s.done << " done, " << s.failed << " failed\n";
//
// Stages (docs/batch.md): decode workers read and prepare inputs; the calling thread runs the
// model on batches of consecutive inputs of equal prepared size (and equal requested classes);
// render workers draw and encode overlays and raw maps; the record of input i (its JSON, written
// atomically after its pictures) and its index line are committed strictly in input order. Every
// input in flight lies in a window of the input list bounded by batch size and thread counts, so
// memory does not grow with the dataset. Outputs are byte-identical for every thread count and
// batch size (LibTorch's CPU kernels are batch-invariant here; the tests check it).
//
// Resume: an input whose record exists with this run's options hash (and whose pictures exist)
// is skipped unless `overwrite`; its index line is rebuilt from the record, so the index holds
// exactly one line per input, in input order, whatever was interrupted.
//
// Errors: an input that cannot be read, prepared or explained is reported through on_error as
// one line and counted in PipelineSummary::failed; everything else (model errors, an unusable
// output folder) throws camkit::Error and stops the run.
//
// Threading: run_pipeline starts and joins its own threads; callbacks are called from one thread
// at a time, in input order. It sets LibTorch's (process-wide) intra-op thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "camkit/explain.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit {

/// One input of a run.
struct PipelineInput {
  std::string path;      ///< file to read
  std::string relative;  ///< output location below out_dir, e.g. "cat/1.jpg" -> out/cat/1.*
  std::optional<int> true_class;  ///< ground truth (ImageFolder), when known
  std::string true_label;         ///< its name, when known
  std::size_t seq = 0;            ///< position in the whole (unsharded) input list
};

enum class PictureFormat { png, jpg };

struct PipelineOptions {
  std::string out_dir = "camkit-out";
  ReadOptions read;  ///< how inputs are decoded (DICOM window)
  Preprocess preprocess;
  ExplainOptions explain;
  /// Set: every input is one exam (a volume: .npy stack, multi-frame DICOM, DICOM series
  /// folder), explained slice by slice in this layout and written as a case (docs/volumes.md).
  std::optional<VolumeLayout> volume;
  bool class_true = false;  ///< explain each input's true class (overrides explain.classes)
  // Rendering.
  Colormap colormap = Colormap::jet;
  std::optional<Colormap> image_colormap;  ///< under overlays of grey images
  float alpha = 0.5f;
  float box_threshold = 0.2f;
  bool draw_box = false;
  bool overlay = true;  ///< false: records and raw maps only (implies raw)
  /// Overlays (and exam slice pictures) are drawn over the input shrunk to at most this many
  /// pixels on its longer side, so that a large input costs a bounded picture per class; the
  /// raw maps, boxes and records are unaffected, and records give "overlay_size". >= 16.
  int max_overlay_side = 4096;
  bool raw = false;  ///< also write <stem>.<class>.npy
  PictureFormat format = PictureFormat::png;
  int png_compression = 3;  ///< 0..9
  int jpeg_quality = 90;    ///< 1..100
  // Execution.
  int threads = 2;           ///< total threads (workers + LibTorch intra-op threads)
  int workers = 0;           ///< decode and render workers each; 0 = auto (docs/batch.md)
  int intra_op_threads = 0;  ///< 0 = max(1, threads - 2 * workers)
  int batch_size = 8;        ///< inputs per forward pass
  bool overwrite = false;    ///< redo inputs whose records are complete
  std::string index_name = "index.jsonl";  ///< below out_dir
  /// Extra text folded into the options hash (e.g. the optimise setting of the model).
  std::string fingerprint_extra;
  // Callbacks, called in input order from one thread at a time.
  std::function<void(const std::string& json_line)> on_record;  ///< each record, compact
  std::function<void(const std::string& message)> on_error;     ///< one line per failed input
  std::function<void(std::size_t finished, std::size_t total)> on_progress;
};

struct PipelineSummary {
  std::size_t done = 0, failed = 0, skipped = 0;
  double seconds = 0;
};

/// Runs the whole list. Throws Error(usage) for invalid options, Error(model) when the model
/// cannot explain at all; input failures are counted, not thrown.
PipelineSummary run_pipeline(const Model& model, const std::vector<PipelineInput>& inputs,
                             const PipelineOptions& options);

/// The 16-hex-digit hash of everything that decides a run's output bytes (model file, method,
/// classes, preprocessing, rendering, formats), stored in every record as "options_hash".
std::string options_hash(const Model& model, const PipelineOptions& options);

/// FNV-1a, 64 bits: the stable hash used for options and shards.
std::uint64_t stable_hash(const std::string& text);

/// Whether `relative` belongs to shard `index` of `count` (stable_hash(relative) % count).
bool in_shard(const std::string& relative, int index, int count);

/// "3/8" -> {3, 8}; throws Error(usage) unless 0 <= i < N.
std::pair<int, int> parse_shard(const std::string& text);

/// Joins the index files (index*.jsonl) of `dirs` into `out_dir`/index.jsonl, ordered by "seq":
/// record and picture paths are rewritten relative to out_dir. Throws Error(usage) when an input
/// appears twice or a folder has no index. Returns the number of lines written.
std::size_t merge_indexes(const std::vector<std::string>& dirs, const std::string& out_dir);

/// Removes "<name>.tmp-<pid>-<n>" files under `dir` left by processes that no longer run
/// (a killed run). Returns how many were removed.
std::size_t remove_stale_temporaries(const std::string& dir);

/// A one-line progress bar with images/s and ETA, redrawn on a terminal (fd 2 by default) at
/// most 10 times a second; prints nothing when the fd is not a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(int fd = 2);
  void update(std::size_t finished, std::size_t total);
  void finish();  ///< clears the bar (terminal only)
  bool active() const { return tty_; }

 private:
  int fd_;
  bool tty_;
  double start_ = 0, last_ = -1;
};

/// "camkit: 40 done, 1 failed, 2 skipped in 3.2 s (12.5 images/s)".
std::string format_summary(const PipelineSummary& summary);

}  // namespace camkit
