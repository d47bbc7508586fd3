// camkit explain MODEL INPUT...: maps, overlays, boxes and records for every input, through the
// dataset pipeline (camkit/pipeline.hpp; docs/batch.md).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <tuple>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"
#include "camkit/pipeline.hpp"
#include "cli/commands.hpp"
#include "cli/inputs.hpp"
#include "cli/limit_flags.hpp"
#include "cli/preprocess_flags.hpp"

namespace camkit::cli {
namespace {

struct ExplainArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string out = "camkit-out";
  int top_k = 1;
  std::vector<std::string> classes;
  std::string preset;
  int resize = 0;
  std::vector<int> crop, size;
  std::vector<float> mean, std;
  int channels = 0;
  std::string colormap = "jet";
  std::string image_colormap;
  float alpha = 0.5f;
  float box_threshold = 0.2f;
  bool draw_box = false;
  bool raw = false;
  bool json = false;
  std::vector<std::string> layers;
  std::string fuse;
  std::string output;
  std::string scores;
  bool positive = false;
  float positive_threshold = 0.5f;
  std::string device = "cpu";
  int threads = std::min(available_cpus(), thread_limit());
  std::string optimize = "auto";
  std::string method = "auto";
  int batch_size = 8;
  int mask_batch = 32;
  bool eigen_smooth = false;
  bool aug_smooth = false;
  double noise_sigma = ExplainOptions().noise_sigma;
  int samples = ExplainOptions().samples;
  uint64_t seed = ExplainOptions().seed;
  int workers = 0;
  int streams = 0;
  bool overwrite = false;
  bool no_overlay = false;
  std::string format = "auto";
  int png_compression = 3;
  int quality = 92;
  std::string shard;
  bool volume = false;
  bool slices_as_batch = false;
  std::vector<double> window;  ///< DICOM VOI window: centre, width
  ReadOptions read;            ///< input limits (cli/limit_flags.hpp)
  int max_overlay_side = PipelineOptions().max_overlay_side;
};

// The inputs as pipeline inputs: positions in the whole list, output names made unique over the
// whole list (so every shard agrees), the shard's part of it, and true classes of ImageFolder
// layouts (eval.hpp's rule: label names, else sorted folder index).
std::vector<PipelineInput> pipeline_inputs(const std::vector<InputFile>& files, const Model& model,
                                           int shard, int shards, bool need_truth, bool volumes) {
  const ClassSpace space = ClassSpace::for_model(model.num_classes(), model.metadata().labels);
  std::map<std::string, std::map<std::string, int>> roots;
  std::vector<PipelineInput> all;
  for (size_t i = 0; i < files.size(); ++i) {
    const InputFile& f = files[i];
    PipelineInput in{f.path, f.relative, std::nullopt, "", i, f.series};
    if (!f.root.empty()) {
      auto it = roots.find(f.root);
      if (it == roots.end()) {
        std::map<std::string, int> classes;
        try {
          const std::vector<std::string> folders = class_folders(f.root);
          // Exam folders are often planes (MRNet: axial/coronal/sagittal), not classes: for
          // volumes only folders named after the model's labels give true classes.
          const auto& labels = model.metadata().labels;
          for (const std::string& name : folders)
            if (volumes && std::find(labels.begin(), labels.end(), name) == labels.end())
              throw Error(ErrorCode::usage, "'" + name + "' is not a label of the model");
          classes = image_folder_classes(folders, space);
        } catch (const Error& e) {
          if (need_truth) throw;
          if (!volumes)
            diagnose("note: " + f.root + ": sub-folders are not classes (" + e.what() + ")");
        }
        it = roots.emplace(f.root, std::move(classes)).first;
      }
      const auto c = it->second.find(f.class_folder);
      if (c != it->second.end()) {
        in.true_class = c->second;
        in.true_label = f.class_folder;
      }
    }
    all.push_back(std::move(in));
  }
  for (const std::string& note : make_output_names_unique(all)) diagnose(note);
  std::vector<PipelineInput> out;
  for (PipelineInput& in : all)
    if (in_shard(in.relative, shard, shards)) out.push_back(std::move(in));
  return out;
}

// Class indices in the order given, each once ("0,0,3" explains 0 and 3).
std::vector<int> fold_duplicates(const std::vector<int>& classes) {
  std::vector<int> out;
  for (int c : classes)
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  if (out.size() != classes.size())
    diagnose("note: --class lists a class more than once: each is explained once");
  return out;
}

// --method: one name, a comma list (a comparison: each method writes below its own folder), or
// all (every method, those the model refuses skipped).
struct MethodPlan {
  std::vector<std::string> names;  ///< empty for auto
  bool compare = false, all = false;
};

MethodPlan plan_methods(const std::string& text) {
  MethodPlan plan;
  if (text == "auto") return plan;
  if (text == "all") {
    plan.names = method_names();
    plan.compare = plan.all = true;
    return plan;
  }
  plan.compare = text.find(',') != std::string::npos;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (!parse_method(name))
      throw Error(ErrorCode::usage, "--method " + (name.empty() ? text : name) +
                                        ": unknown method (use a name, a comma list or all)");
    if (std::find(plan.names.begin(), plan.names.end(), name) != plan.names.end())
      throw Error(ErrorCode::usage, "--method " + name + " is listed twice");
    plan.names.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return plan;
}

// Why the run's method cannot run on the model (at every fused layer), "" when it can.
std::string cannot_run(const Model& model, const PipelineOptions& run) {
  const Method method = run.explain.method;
  if (!run.fuse_layers.empty() && !fuse_refusal(method).empty())
    return "--fuse: " + fuse_refusal(method);
  if (run.volume && (method == Method::scorecam || method == Method::ablationcam))
    return "not defined for exams";
  try {
    Explainer(model).check(run.explain);
    for (const Model& m : run.fuse_layers) Explainer(m).check(run.explain);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::model && e.code() != ErrorCode::usage) throw;
    return e.what();
  }
  return "";
}

int run_explain(const ExplainArgs& a) {
  if (a.top_k < 1) throw Error(ErrorCode::usage, "--top-k must be at least 1");
  PipelineOptions po;
  po.read = a.read;
  po.max_overlay_side = a.max_overlay_side;
  auto cmap = parse_colormap(a.colormap);
  if (!cmap) throw Error(ErrorCode::usage, "--colormap " + a.colormap + ": unknown colormap");
  po.colormap = *cmap;
  if (!a.image_colormap.empty()) {
    // Only maps that keep grey levels readable under a heat map (docs: gray, bone).
    if (a.image_colormap != "gray" && a.image_colormap != "bone")
      throw Error(ErrorCode::usage, "--image-colormap " + a.image_colormap + ": use gray or bone");
    po.image_colormap = parse_colormap(a.image_colormap);
  }
  po.alpha = a.alpha;
  po.box_threshold = a.box_threshold;
  po.draw_box = a.draw_box;
  po.raw = a.raw;
  po.overlay = !a.no_overlay;
  if (a.format != "auto" && a.format != "png" && a.format != "jpg" && a.format != "jpeg")
    throw Error(ErrorCode::usage, "--overlay-format " + a.format + ": use auto, png or jpg");
  po.format = a.format == "auto"  ? PictureFormat::automatic
              : a.format == "png" ? PictureFormat::png
                                  : PictureFormat::jpg;
  po.png_compression = a.png_compression;
  po.jpeg_quality = a.quality;
  po.out_dir = a.out;
  po.threads = a.threads;
  po.workers = a.workers;
  po.streams = a.streams;
  po.batch_size = a.batch_size;
  po.overwrite = a.overwrite;
  if (!a.window.empty()) {
    if (a.window.size() != 2 || !(a.window[1] > 0))
      throw Error(ErrorCode::usage, "--window: give C,W (centre and width > 0)");
    po.read.window = std::make_pair(a.window[0], a.window[1]);
  }
  if (a.alpha < 0 || a.alpha > 1) throw Error(ErrorCode::usage, "--alpha must be in [0, 1]");
  if (a.box_threshold < 0 || a.box_threshold > 1)
    throw Error(ErrorCode::usage, "--box-threshold must be in [0, 1]");
  if (a.workers > a.threads)
    throw Error(ErrorCode::usage, "--workers " + std::to_string(a.workers) +
                                      ": at most --threads (" + std::to_string(a.threads) + ")");
  if (a.streams > a.threads)
    throw Error(ErrorCode::usage, "--streams " + std::to_string(a.streams) +
                                      ": at most --threads (" + std::to_string(a.threads) + ")");
  std::vector<int> classes;
  for (const std::string& c : a.classes) {
    if (c == "true") {
      po.class_true = true;
      continue;
    }
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(c, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != c.size() || c.empty())
      throw Error(ErrorCode::usage, "--class " + c + ": use class indices or 'true'");
    classes.push_back(v);
  }
  if (po.class_true && !classes.empty())
    throw Error(ErrorCode::usage, "--class true cannot be combined with class indices");
  int shard = 0, shards = 1;
  if (!a.shard.empty()) std::tie(shard, shards) = parse_shard(a.shard);
  po.shard_index = shard;
  po.shard_count = shards;
  classes = fold_duplicates(classes);

  ModelOptions mo;
  mo.device = a.device;
  mo.threads = a.threads;  // the probe at load runs on every thread; the pipeline splits them later
  if (!a.layers.empty()) mo.layer = a.layers.front();
  mo.output = a.output;
  if (!a.scores.empty()) {
    if (a.scores == "softmax")
      mo.task = Task::multiclass;
    else if (a.scores == "sigmoid")
      mo.task = Task::multilabel;  // a single logit is then the binary task
    else if (a.scores == "none")
      mo.task = Task::regression;
    else
      throw Error(ErrorCode::usage, "--scores " + a.scores + ": use softmax, sigmoid or none");
  }
  // A model without declared input size is probed at the size its inputs will have.
  if (a.size.size() == 2) mo.probe_height = a.size[0], mo.probe_width = a.size[1];
  if (a.crop.size() == 2) mo.probe_height = a.crop[0], mo.probe_width = a.crop[1];
  if (a.crop.size() == 1) mo.probe_height = mo.probe_width = a.crop[0];
  if (a.size.size() == 3)
    mo.probe_depth = a.size[0], mo.probe_height = a.size[1], mo.probe_width = a.size[2];
  bool volumes = a.volume || a.slices_as_batch;
  WalkOptions walk;
  walk.volumes = volumes;
  walk.out_dir = a.out;
  walk.note = diagnose;
  std::vector<InputFile> files = expand_inputs(a.inputs, walk);
  // Freezing and optimising the graph costs about as much as a few forward passes and saves a
  // third of every later one: worth it from a handful of inputs on, or from the first input of
  // Score-CAM (one forward per channel mask). Decided on the whole list (not the inputs left to
  // do), so a resumed run computes exactly what the first one did.
  if (a.optimize != "auto" && a.optimize != "on" && a.optimize != "off")
    throw Error(ErrorCode::usage, "--optimize " + a.optimize + ": use auto, on or off");
  const MethodPlan plan = plan_methods(a.method);
  // The perturbation methods run hundreds of forward passes per input: optimised from the first.
  const bool scorecam = std::any_of(plan.names.begin(), plan.names.end(), [](const auto& m) {
    return m == "scorecam" || m == "sscam" || m == "iscam";
  });
  mo.optimize = a.optimize == "on" || (a.optimize == "auto" && (files.size() >= 8 || scorecam));
  std::optional<FuseRule> fuse;
  if (!a.fuse.empty()) {
    fuse = parse_fuse_rule(a.fuse);
    if (!fuse) throw Error(ErrorCode::usage, "--fuse " + a.fuse + ": use mean, max or product");
    if (a.layers.size() < 2) throw Error(ErrorCode::usage, "--fuse needs two or more --layer");
  } else if (a.layers.size() > 1) {
    throw Error(ErrorCode::usage, "several --layer: give --fuse mean, max or product");
  }
  for (size_t i = 0; i < a.layers.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (a.layers[i] == a.layers[j])
        throw Error(ErrorCode::usage, "--layer " + a.layers[i] + " is given twice");
  const Model model = Model::load(a.model, mo);
  const std::string& declared = model.metadata().volume;
  if (model.input_spec().rank == 3) {
    // A 3-D model takes each scan or clip whole: NIfTI, .npy, DICOM and video files.
    if (volumes)
      throw Error(ErrorCode::usage,
                  "--volume and --slices-as-batch feed the slices of an exam "
                  "to a 2-D model; " +
                      a.model + " is a 3-D model (N, C, D, H, W)");
    walk.volumes3d = true;
    walk.volumes = true;  // a folder's single-frame DICOM files are one series: one scan
    files = expand_inputs(a.inputs, walk);
  }
  if (!volumes && !declared.empty()) {
    diagnose("note: " + a.model + " takes exams (metadata: volume " + declared +
             "): every input is read as a volume");
    volumes = true;
    walk.volumes = true;
    files = expand_inputs(a.inputs, walk);
  }
  if (volumes)
    po.volume =
        a.slices_as_batch || declared == "batch" ? VolumeLayout::batch : VolumeLayout::stacked;
  if (fuse) {
    for (size_t i = 1; i < a.layers.size(); ++i) {
      ModelOptions other = mo;
      other.layer = a.layers[i];
      po.fuse_layers.push_back(Model::load(a.model, other));
    }
    po.fuse = *fuse;
  }
  ExplainOptions& eo = po.explain;
  std::vector<Method> methods;
  if (a.method == "auto") {
    // CAM is defined at one layer: fused layers take Grad-CAM.
    eo.method = model.head().found && !fuse ? Method::cam : Method::gradcam;
    if (!model.head().found)
      diagnose("note: " + a.model + " has no CAM head (" + model.head().reason +
               "); using Grad-CAM on " + model.layer().layer);
    methods.push_back(eo.method);
  } else {
    for (const std::string& name : plan.names) methods.push_back(*parse_method(name));
    eo.method = methods.front();
    if (fuse && !plan.compare && !fuse_refusal(eo.method).empty())
      throw Error(ErrorCode::usage,
                  "--fuse: " + method_name(eo.method) + ": " + fuse_refusal(eo.method));
  }
  eo.batch_size = a.mask_batch;
  eo.eigen_smooth = a.eigen_smooth;
  eo.aug_smooth = a.aug_smooth;
  eo.noise_sigma = a.noise_sigma;
  eo.samples = a.samples;
  eo.seed = a.seed;
  po.preprocess = build_preprocess(
      PreprocessFlags{a.preset, a.resize, a.crop, a.size, a.mean, a.std, a.channels}, model);
  for (int c : classes)
    if (c < 0 || c >= model.num_classes())
      throw Error(ErrorCode::usage, "--class " + std::to_string(c) +
                                        ": out of range (the model has " +
                                        std::to_string(model.num_classes()) + " classes)");
  if (!po.preprocess.normalises())
    diagnose(
        "note: no normalisation is applied (the model embeds no mean/std; use --preset, "
        "--mean/--std)");
  eo.top_k = a.top_k;
  eo.classes = classes;
  if (!(a.positive_threshold >= 0 && a.positive_threshold <= 1))
    throw Error(ErrorCode::usage, "--positive-threshold must be in [0, 1]");
  eo.positive_threshold = a.positive_threshold;
  eo.explain_positives = a.positive;
  // Gradient methods run the graph as loaded (the frozen one has no gradients); the
  // optimised graph's maps differ in the last bits, so the setting is part of the hash.
  po.fingerprint_extra = mo.optimize ? "optimize" : "";
  const std::vector<PipelineInput> inputs =
      pipeline_inputs(files, model, shard, shards, po.class_true, po.volume.has_value());
  po.total_inputs = files.size();

  ProgressBar bar(2);
  po.on_progress = [&bar](size_t done, size_t total) { bar.update(done, total); };
  po.on_error = [&bar](const std::string& message) {
    bar.finish();
    diagnose(message);
  };
  po.on_note = [&bar](const std::string& message) {
    bar.finish();
    diagnose(message);
  };
  if (a.json) po.on_record = [](const std::string& line) { std::cout << line << std::endl; };
  std::vector<std::string> layer_names{model.layer().layer};
  for (const Model& m : po.fuse_layers) layer_names.push_back(m.layer().layer);
  bool failed = false;
  size_t ran = 0;
  for (const Method method : methods) {
    PipelineOptions run = po;
    run.explain.method = method;
    std::filesystem::path out(a.out);
    if (plan.compare) {
      // `all` is every method that can run on this model: the others are noted and skipped.
      const std::string why = cannot_run(model, run);
      if (!why.empty()) {
        if (!plan.all)
          throw Error(ErrorCode::usage, "--method " + method_name(method) + ": " + why);
        diagnose("note: skipping " + method_name(method) + ": " + why);
        continue;
      }
      out /= method_folder(method);
    }
    if (fuse) out /= fused_folder(*fuse, layer_names);
    run.out_dir = out.string();
    if (plan.compare || fuse)
      diagnose("note: " + method_name(method) +
               (fuse ? " fused over " + std::to_string(layer_names.size()) + " layers" : "") +
               " -> " + run.out_dir);
    const PipelineSummary s = run_pipeline(model, inputs, run);
    bar.finish();
    std::cerr << (plan.compare ? method_name(method) + ": " : "") << format_summary(s) << std::endl;
    failed = failed || s.failed;
    ++ran;
  }
  if (!ran) throw Error(ErrorCode::model, a.model + ": none of the methods can run on it");
  return failed ? static_cast<int>(ErrorCode::input) : 0;
}

}  // namespace

Runner add_explain(CLI::App& app) {
  auto a = std::make_shared<ExplainArgs>();
  CLI::App* cmd = app.add_subcommand("explain",
                                     "Class activation maps, overlays and boxes for "
                                     "images, .npy arrays or directories of them");
  cmd->add_option("model", a->model, "TorchScript model (.pt)")->required();
  cmd->add_option("inputs", a->inputs,
                  "Images (PNG, JPEG, BMP, TIFF), .npy arrays, directories (recursive; "
                  "ImageFolder class folders give true labels), @list.txt files")
      ->required();
  cmd->add_option("-o,--out", a->out, "Output directory")->capture_default_str();
  cmd->add_option("-k,--top-k", a->top_k, "Explain the k most probable classes")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("-c,--class", a->classes,
                  "Explain these class indices (i[,j...]), or 'true': each input's true class "
                  "(ImageFolder class folders)")
      ->delimiter(',');
  cmd->add_option("--preset", a->preset, "Preprocessing preset (imagenet, xray)");
  cmd->add_option("--resize", a->resize, "Resize the shorter side to N (torchvision Resize(N))");
  cmd->add_option("--crop", a->crop, "Centre crop N or H,W after --resize")->delimiter(',');
  cmd->add_option("--size", a->size, "Resize directly to H,W")->delimiter(',');
  cmd->add_option("--mean", a->mean, "Normalisation mean, one value or one per channel")
      ->delimiter(',');
  cmd->add_option("--std", a->std, "Normalisation std, one value or one per channel")
      ->delimiter(',');
  cmd->add_option("--channels", a->channels, "Input channels the model takes (1 or 3)")
      ->check(CLI::IsMember({1, 3}));
  cmd->add_option("--colormap", a->colormap, "jet, turbo, inferno, viridis, bone, gray")
      ->capture_default_str();
  cmd->add_option("--image-colormap", a->image_colormap,
                  "Colormap for grey images under the overlay (gray, bone)")
      ->check(CLI::IsMember({"gray", "bone"}));
  cmd->add_option("--alpha", a->alpha, "Overlay opacity")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--box-threshold", a->box_threshold,
                  "Box: fraction of the map's maximum to threshold at")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_flag("--draw-box", a->draw_box, "Draw the box on the overlay");
  cmd->add_flag("--raw", a->raw, "Also write each raw map as <stem>.<class>.npy (float32, h x w)");
  cmd->add_flag("--json", a->json, "Print each record as one JSON line on stdout");
  cmd->add_option("-m,--method", a->method,
                  "cam, gradcam, gradcam++, xgradcam, layercam, hirescam, gradcam-elementwise, "
                  "eigengradcam, smoothgradcam++, guided-backprop, guided-gradcam, fullgrad, "
                  "scorecam, sscam, iscam, ablationcam, eigencam, attention-relevance; auto: cam "
                  "when the model has a CAM head, else gradcam; a comma list or all: every method "
                  "into OUT/method-<name>/ (all skips those the model refuses), for camkit "
                  "report's comparison")
      ->capture_default_str();
  cmd->add_flag("--eigen-smooth", a->eigen_smooth,
                "Gradient methods: the first principal component of the weighted activations "
                "instead of their sum over channels");
  cmd->add_flag("--aug-smooth", a->aug_smooth,
                "Average each map over horizontal flip x input scale 0.9/1.0/1.1, flipped back "
                "(6 explanations per input)");
  cmd->add_option("--noise-sigma", a->noise_sigma,
                  "smoothgradcam++: noise standard deviation, a fraction of the input's range; "
                  "sscam: of the masks' range (1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--samples", a->samples,
                  "smoothgradcam++: noisy copies per input; sscam: noisy masks per channel; "
                  "iscam: integration steps per channel")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", a->seed,
                  "smoothgradcam++, sscam: seed of the noise (the same for every input)")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Inputs of equal prepared size per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--mask-batch", a->mask_batch,
                  "Masked/ablated inputs per forward pass (scorecam, sscam, iscam, ablationcam; "
                  "Score-CAM on the CPU: at most 4 inputs of 224x224)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--workers", a->workers,
                  "Decode and render worker threads each, out of --threads (0: auto; at most "
                  "--threads)")
      ->capture_default_str()
      ->check(CLI::Range(0, thread_limit()));
  cmd->add_option("--streams", a->streams,
                  "Inference streams, each running whole batches on its share of LibTorch's "
                  "threads (0: auto = min(--threads, 4, inputs); 1 on a GPU and for the masking "
                  "methods; at most --threads)")
      ->capture_default_str()
      ->check(CLI::Range(0, thread_limit()));
  cmd->add_flag("--overwrite", a->overwrite,
                "Redo inputs whose outputs are complete (default: skip them, i.e. resume)");
  cmd->add_option("--shard", a->shard,
                  "i/N: process the i-th of N disjoint parts of the inputs (docs/batch.md)");
  cmd->add_option("--overlay-format,--format", a->format,
                  "Overlay format: auto (JPEG for JPEG inputs, PNG for all else), png or jpg")
      ->capture_default_str();
  cmd->add_option("--png-compression", a->png_compression, "PNG compression 0 (fast)..9 (small)")
      ->capture_default_str()
      ->check(CLI::Range(0, 9));
  cmd->add_option("--jpeg-quality,--quality", a->quality, "JPEG overlays' quality 1..100")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--no-overlay", a->no_overlay,
                "Write no overlays: records and raw maps (.npy) only");
  cmd->add_option("--output", a->output,
                  "When the model returns a tuple or dict: the output holding the logits, by "
                  "index or name (default: metadata, the only tensor, a 'logits' key, or the one "
                  "of the declared class count)");
  cmd->add_option("--scores", a->scores,
                  "Score transform, overriding the metadata's task: softmax (multiclass), "
                  "sigmoid (multi-label; binary for one logit), none (regression)");
  cmd->add_flag("--positive", a->positive,
                "Explain every class whose score reaches --positive-threshold (multi-label "
                "findings) instead of the top-k");
  cmd->add_option("--positive-threshold", a->positive_threshold,
                  "Score at which a class counts as positive (binary, multi-label)")
      ->capture_default_str();
  cmd->add_option("--layer", a->layers,
                  "Module path of the layer to explain, e.g. layer4 or layer4.1.conv2 "
                  "(default: the CAM head's feature map, else the last 4-D activation); "
                  "repeat it (or a,b) with --fuse for several layers at once")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--fuse", a->fuse,
                  "With several --layer: fuse each layer's display map (ReLU, bilinear to the "
                  "input size, min-max) by mean, max or product; written to "
                  "OUT/fused-<rule>-<layers>/ (docs/methods.md)")
      ->check(CLI::IsMember({"mean", "max", "product"}));
  cmd->add_flag("--volume", a->volume,
                "Every input is one exam (.npy [S,H,W] or [S,C,H,W], multi-frame DICOM, DICOM "
                "series folder), fed as [1,S,C,H,W]; a map per slice (docs/volumes.md)");
  cmd->add_flag("--slices-as-batch", a->slices_as_batch,
                "With --volume: feed the exam's S slices as the batch [S,C,H,W]");
  cmd->add_option("--window", a->window,
                  "C,W: VOI window (centre, width) for grey DICOM inputs, in modality units such "
                  "as HU; default: the file's window, else min..max (docs/dicom.md)")
      ->delimiter(',');
  add_limit_flags(cmd, a->read);
  cmd->add_option("--max-overlay-side", a->max_overlay_side,
                  "Overlays and slice pictures of larger inputs are drawn shrunk to this many "
                  "pixels on the longer side (raw maps, boxes and records are unaffected)")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", a->threads,
                  "Threads in all: decode/render workers + LibTorch intra-op threads (default: "
                  "the CPUs this process may use; at most 4 per CPU, 256 in all)")
      ->capture_default_str()
      ->check(CLI::Range(1, thread_limit()));
  cmd->add_option("--optimize", a->optimize,
                  "Freeze and optimise the graph for inference: auto (from 8 inputs on, and for "
                  "Score-CAM), on, off")
      ->capture_default_str();
  return [a] { return run_explain(*a); };
}

}  // namespace camkit::cli
