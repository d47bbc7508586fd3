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
// Stages (docs/batch.md): decode workers read and prepare inputs; inference streams (the
// calling thread and `streams` - 1 more) run the model on batches of consecutive inputs of
// equal prepared size (and equal requested classes);
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
// Errors: an input that cannot be read, prepared, explained or written (out of memory and
// unexpected exceptions during that input included) is reported through on_error as one line and
// counted in PipelineSummary::failed; the run goes on. Model and usage errors, an unusable output
// folder and a folder busy with the same work throw camkit::Error and stop the run.
//
// Outputs (docs/guarantees.md): every file is written under out_dir through OutputFolder (temp
// file + rename, no symbolic link inside out_dir followed); the index is rewritten the same way
// at the end and every index_interval seconds, never shorter than the one found for the same
// inputs; one run per shard and folder at a time (RunLock).
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
  /// A DICOM series exam (volumes): its single-frame files, read as one stack; `path` is then
  /// the folder, and the name in `relative` is kept whole (a folder has no extension).
  std::vector<std::string> series;
};

/// The overlays' file format. `automatic` (--overlay-format auto, the default) writes JPEG
/// overlays for JPEG inputs (.jpg/.jpeg photographs: lossy input, lossy overlay) and PNG for
/// everything else (PNG, BMP, TIFF, .npy, DICOM, volumes stay lossless).
enum class PictureFormat { png, jpg, automatic };

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
  PictureFormat format = PictureFormat::automatic;
  int png_compression = 3;  ///< 0..9
  int jpeg_quality = 92;    ///< 1..100
  // Execution.
  int threads = 2;           ///< total threads (workers + LibTorch intra-op threads)
  int workers = 0;           ///< decode and render workers each; 0 = auto (docs/batch.md)
  int intra_op_threads = 0;  ///< LibTorch's intra-op threads, all streams; 0 = threads (all)
  /// Inference streams: each runs whole batches with its share of the intra-op threads.
  /// 0 = auto: min(intra-op threads, 4, inputs); 1 on a GPU and for
  /// Score-CAM, SS-CAM, IS-CAM and Ablation-CAM (docs/batch.md, "Threads").
  int streams = 0;
  int batch_size = 8;      ///< inputs per forward pass
  bool overwrite = false;  ///< redo inputs whose records are complete
  /// This run's part of the whole list (--shard i/N): names the index (index_file_name) and
  /// the lock taken on out_dir; `inputs` must then hold only that part.
  int shard_index = 0, shard_count = 1;
  /// Inputs of the whole (unsharded) list, recorded as "inputs" on every index line so that a
  /// merge can tell a complete set of shards; 0 = inputs.size().
  std::size_t total_inputs = 0;
  /// Seconds between rewrites of the index while the run goes on (it is always rewritten at
  /// the end); the interval grows to 20 times the last rewrite's duration for huge indexes.
  double index_interval = 10;
  /// Extra text folded into the options hash (e.g. the optimise setting of the model).
  std::string fingerprint_extra;
  /// Several layers at once (docs/methods.md, "Several layers at once"): the same model file
  /// loaded once more for each further layer (ModelOptions::layer). Every input is explained
  /// at the layer of run_pipeline's model and at each of these, with the same classes, and the
  /// maps are fused by `fuse` (fuse_explanations). Empty: one layer. Images only; the layers
  /// and the rule are part of the options hash. Write such runs into fused_folder() below the
  /// output folder, so that they never overwrite a single-layer run's files.
  std::vector<Model> fuse_layers;
  FuseRule fuse = FuseRule::mean;
  // Callbacks, called in input order from one thread at a time.
  std::function<void(const std::string& json_line)> on_record;  ///< each record, compact
  std::function<void(const std::string& message)> on_error;     ///< one line per failed input
  std::function<void(std::size_t finished, std::size_t total)> on_progress;
  std::function<void(const std::string& message)> on_note;  ///< notes (e.g. locks unavailable)
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

/// Where below an output folder a fused run writes: "fused-<rule>-<layer>+<layer>..." (bytes
/// other than [A-Za-z0-9._-] in a layer's name become '_').
std::string fused_folder(FuseRule rule, const std::vector<std::string>& layers);

/// Where below an output folder a run of several methods (camkit explain --method a,b or all;
/// docs/batch.md, "Comparing methods") writes each method's results: "method-<name>".
std::string method_folder(Method method);

/// FNV-1a, 64 bits: the stable hash used for options and shards.
std::uint64_t stable_hash(const std::string& text);

/// Whether `relative` belongs to shard `index` of `count` (stable_hash(relative) % count).
bool in_shard(const std::string& relative, int index, int count);

/// "3/8" -> {3, 8}; throws Error(usage) unless 0 <= i < N.
std::pair<int, int> parse_shard(const std::string& text);

/// Throws Error(input) "<path>: not a regular file (a FIFO)" (a socket, a device) before
/// anything opens `path`: reading a FIFO could block a run forever. Folders pass when
/// `folder_ok` (DICOM series), missing files pass too (the reader names them).
void check_input_type(const std::string& path, bool folder_ok);

/// "index.jsonl" for an unsharded run (count 1), "index-<i>-of-<N>.jsonl" for shard i of N.
std::string index_file_name(int shard_index, int shard_count);

/// CPUs this process may run on (its affinity mask, which Slurm and containers set), >= 1.
int available_cpus();

/// The most threads a run accepts: min(256, 4 * available_cpus()). More only adds contention.
int thread_limit();

/// Makes the output names of `inputs` (the whole list, before sharding) unique, so that no
/// input's outputs overwrite another's. Inputs share outputs when their names without extension
/// are equal ("a/x.png" and "a/x.jpg" both write a/x.json; two arguments "p/x.png" and
/// "q/x.png" both write x.json). The first in list order keeps its name; each later one gets
/// "~2", "~3", ... (the lowest number that no input uses) before its extension: "a/x~2.jpg".
/// Depends only on the list, so every shard and every resumed run agrees. Returns one note per
/// renamed input.
std::vector<std::string> make_output_names_unique(std::vector<PipelineInput>& inputs);

struct MergeOptions {
  /// Write the merged index even when inputs or shard indexes are missing (they are listed
  /// through on_note and in MergeSummary) instead of refusing.
  bool allow_gaps = false;
  std::function<void(const std::string& message)> on_note;
};

struct MergeSummary {
  std::size_t lines = 0;    ///< lines written
  std::size_t failed = 0;   ///< of which inputs that failed ("error" lines)
  std::size_t missing = 0;  ///< inputs of the run that no index lists (allow_gaps only)
};

/// Joins the shard indexes of `dirs` into `out_dir`/index.jsonl, ordered by "seq", with record
/// paths rewritten relative to out_dir (docs/batch.md, "Merging"). A folder contributes its
/// index-<i>-of-<N>.jsonl files, or its index.jsonl when it has none. Refuses, writing nothing:
/// Error(busy) while a run still holds a lock in one of the folders; Error(usage) when the
/// folders hold no index, mix shard counts, hold one shard twice, mix runs (different input
/// counts or options hashes) or list one input twice; Error(input) when a shard index or some
/// inputs are missing (unless allow_gaps). Merging again, under any spelling of the folders,
/// gives the same file.
MergeSummary merge_indexes(const std::vector<std::string>& dirs, const std::string& out_dir,
                           const MergeOptions& options = {});

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
