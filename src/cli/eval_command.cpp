// camkit eval MODEL INPUT... [--boxes boxes.csv] [--faithfulness]: localisation,
// classification and faithfulness metrics.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"
#include "camkit/output.hpp"
#include "camkit/output_folder.hpp"
#include "camkit/pipeline.hpp"
#include "camkit/sanity.hpp"
#include "camkit/volume.hpp"
#include "cli/commands.hpp"
#include "cli/inputs.hpp"
#include "cli/limit_flags.hpp"
#include "cli/preprocess_flags.hpp"

namespace camkit::cli {
namespace {

struct EvalArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string boxes, labels, masks;
  std::vector<float> thresholds{0.2f};
  bool json = false;
  int top_k = 1;
  double tolerance = 15;
  double iou = 0.5;
  std::string method = "auto";
  int batch_size = 32;
  bool faithfulness = false;
  int faithfulness_steps = FaithfulnessOptions{}.steps;
  std::string faithfulness_class = "predicted";
  std::vector<double> road_percentiles = FaithfulnessOptions{}.road_percentiles;
  bool no_road = false;
  double road_noise = FaithfulnessOptions{}.road_noise;
  unsigned long long road_seed = 0;
  bool sanity = false;  ///< --sanity: the randomisation checks instead of the metrics
  int sanity_depth = SanityOptions{}.depth;
  unsigned long long sanity_seed = 0;
  double sanity_threshold = SanityOptions{}.threshold;
  std::string against, out;
  PreprocessFlags pre;
  std::string layer;
  std::string device = "cpu";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool no_optimize = false;
  float positive_threshold = 0.5f;
  ReadOptions read;  ///< input limits (cli/limit_flags.hpp)
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Wraps an input error from the library so that it names the file.
Error about(const std::string& path, const Error& e) {
  const std::string what = e.what();
  return Error(e.code(), what.compare(0, path.size(), path) == 0 ? what : path + ": " + what);
}

// As camkit explain: "auto" is CAM when the model has a CAM head, else Grad-CAM.
Method choose_method(const std::string& name, const Model& model) {
  if (name == "auto") {
    if (!model.head().found)
      diagnose("note: " + model.path() + " has no CAM head (" + model.head().reason +
               "); using Grad-CAM on " + model.layer().layer);
    return model.head().found ? Method::cam : Method::gradcam;
  }
  const std::optional<Method> m = parse_method(name);
  if (!m) throw Error(ErrorCode::usage, "--method " + name + ": unknown method");
  return *m;
}

Explanation explain(const Explainer& explainer, const Prepared& in, const ExplainOptions& eo,
                    const std::string& path) {
  try {
    return explainer.explain(in, eo);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::input) throw;
    throw about(path, e);
  }
}

// The classes whose maps faithfulness scores: the top-1 prediction or the labels; binary
// models always their single logit. Explains again the ones `ex` has no map of.
std::vector<int> faithfulness_classes(const Explainer& explainer, Explanation& ex,
                                      const Prepared& in, ExplainOptions eo, bool truth_class,
                                      const GroundTruth& gt, const std::string& path) {
  if (ex.binary) return {0};
  std::vector<int> want =
      truth_class ? gt.labels : std::vector<int>{ex.predictions.front().class_index};
  eo.classes.clear();
  for (int c : want)
    if (std::none_of(ex.maps.begin(), ex.maps.end(),
                     [c](const ClassMap& m) { return m.prediction.class_index == c; }))
      eo.classes.push_back(c);
  if (!eo.classes.empty())
    for (ClassMap& m : explain(explainer, in, eo, path).maps) ex.maps.push_back(std::move(m));
  return want;
}

// camkit eval --sanity: the cascading randomisation (and --against) of each --method; a
// table (or JSON) on stdout, sanity.json and one figure per method in --out.
int run_sanity(const EvalArgs& a, const Model& model, const Preprocess& pre) {
  SanityOptions so;
  so.methods.clear();
  std::istringstream names(a.method);
  for (std::string name; std::getline(names, name, ',');)
    if (!name.empty()) so.methods.push_back(choose_method(name, model));
  so.depth = a.sanity_depth;
  so.seed = a.sanity_seed;
  so.threshold = a.sanity_threshold;
  so.batch_size = a.batch_size;
  const std::vector<std::string> blocks = sanity_blocks(model, so.depth);  // usage errors first
  std::optional<Model> against;
  if (!a.against.empty()) {
    ModelOptions mo = model.options();
    mo.layer = a.layer;
    against.emplace(Model::load(a.against, mo));
  }
  std::vector<Prepared> inputs;
  int skipped = 0;
  std::set<std::string> seen;
  for (const std::string& arg : a.inputs) {
    WalkOptions walk;
    walk.note = diagnose;
    for (const InputFile& in : expand_inputs({arg}, walk)) {
      if (!seen.insert(normalize_path(in.path)).second) continue;
      try {
        check_input_type(in.path, false);
        inputs.push_back(prepare(read_input(in.path, a.read), pre, in.path));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::input) throw;
        diagnose(e.what());
        ++skipped;
      }
    }
  }
  if (inputs.empty()) throw Error(ErrorCode::usage, "eval --sanity: no readable inputs");
  if (inputs.size() > 1)
    for (const Prepared& p : inputs)
      if (p.height != inputs.front().height || p.width != inputs.front().width)
        throw Error(ErrorCode::usage,
                    "eval --sanity: the inputs are of different sizes after preprocessing");
  diagnose("sanity: " + std::to_string(blocks.size()) + " blocks, " +
           std::to_string(inputs.size()) + " inputs");
  const SanityResult r = sanity_check(model, inputs, so, against ? &*against : nullptr);
  // Everything is computed before anything is written.
  const OutputFolder folder(a.out);
  for (const SanityMethod& m : r.methods)
    folder.write("sanity_" + m.method + ".png", encode_png(sanity_figure(r, m)));
  folder.write("sanity.json", sanity_json(r));
  std::cout << (a.json ? sanity_json(r) : sanity_table(r)) << std::flush;
  return skipped ? static_cast<int>(ErrorCode::input) : 0;
}

// A scan of a 3-D model: read on its own grid, prepared, explained; its record compares the
// maps with the boxes and masks in the scan's voxels (docs/eval.md, "3-D models").
ImageRecord volume_record(const Explainer& explainer, const Model& model, const Preprocess& pre,
                          const ExplainOptions& eo, const InputFile& in, const GroundTruth& gt,
                          const EvalArgs& a) {
  check_input_type(in.path, !in.series.empty());
  if (is_video_file(in.path))
    throw Error(ErrorCode::input, in.path +
                                      ": a video clip; camkit eval of 3-D models takes scans "
                                      "(NIfTI, .npy, DICOM series)");
  const Volume volume = in.series.empty() ? read_volume_3d(in.path, a.read)
                                          : read_dicom_series(in.path, in.series, a.read);
  const Prepared prepared = prepare_volume(volume, pre, in.path);
  const int depth = model.input_spec().depth;
  if (depth > 0 && prepared.depth != depth)
    throw Error(ErrorCode::input, in.path + ": prepared to depth " +
                                      std::to_string(prepared.depth) + ", the model takes " +
                                      std::to_string(depth) +
                                      " (metadata preprocess.size [D, H, W] resamples)");
  std::map<std::string, std::shared_ptr<const VoxelMask>> masks;
  for (const auto& entry : gt.masks) {
    if (masks.count(entry.second)) continue;
    try {
      masks[entry.second] =
          std::make_shared<const VoxelMask>(read_mask(entry.second, volume, a.read));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
      throw Error(ErrorCode::input, in.path + ": mask " + e.what());
    }
  }
  const Explanation ex = explain(explainer, prepared, eo, in.path);
  return eval_record_3d(ex, volume, gt, masks, a.thresholds);
}

int run_eval(const EvalArgs& a) {
  if (a.sanity && (!a.boxes.empty() || !a.masks.empty() || !a.labels.empty() || a.faithfulness))
    throw Error(ErrorCode::usage,
                "--sanity runs alone (no --boxes, --masks, --labels, --faithfulness)");
  if (a.sanity && a.out.empty()) throw Error(ErrorCode::usage, "--sanity needs --out DIR");
  if (!a.sanity && (!a.against.empty() || !a.out.empty()))
    throw Error(ErrorCode::usage, "--against and --out go with --sanity");
  const bool localise = !a.boxes.empty() || !a.masks.empty();
  // Labels alone give the classification metrics (multi-label: AUROC per finding, F1).
  const bool classify = !localise && !a.labels.empty();
  if (!localise && !classify && !a.faithfulness && !a.sanity)
    throw Error(ErrorCode::usage,
                "eval: --boxes or --masks is required (unless --labels or --faithfulness)");
  if (!(a.positive_threshold >= 0 && a.positive_threshold <= 1))
    throw Error(ErrorCode::usage, "--positive-threshold must be in [0, 1]");
  if (a.faithfulness_class != "predicted" && a.faithfulness_class != "true")
    throw Error(ErrorCode::usage,
                "--faithfulness-class " + a.faithfulness_class + ": use predicted or true");
  const bool truth_class = a.faithfulness && a.faithfulness_class == "true";
  if (a.batch_size < 1) throw Error(ErrorCode::usage, "--batch-size must be at least 1");
  if (a.faithfulness_steps < 1)
    throw Error(ErrorCode::usage, "--faithfulness-steps must be at least 1");
  for (double p : a.road_percentiles)
    if (!a.no_road && !(p > 0 && p < 100))
      throw Error(ErrorCode::usage, "--road-percentiles: each must be between 0 and 100");
  if (!(a.road_noise >= 0)) throw Error(ErrorCode::usage, "--road-noise must be at least 0");
  EvalOptions options;
  options.thresholds = a.thresholds;
  options.top_k = a.top_k;
  options.pointing_tolerance = a.tolerance;
  options.iou_threshold = a.iou;
  { const Evaluation check(options); }  // validates the options before anything is loaded
  for (const std::string* csv : {&a.boxes, &a.labels, &a.masks}) {
    std::error_code ec;
    if (!csv->empty() && !std::filesystem::is_regular_file(*csv, ec))
      throw Error(ErrorCode::usage, *csv + ": no such file");
  }

  ModelOptions mo;
  mo.device = a.device;
  mo.layer = a.layer;
  mo.optimize = !a.no_optimize;
  mo.threads = a.threads;
  const Model model = Model::load(a.model, mo);
  const bool volume_model = model.input_spec().rank == 3;
  if (volume_model && (a.faithfulness || a.sanity))
    throw Error(ErrorCode::usage, std::string(a.sanity ? "--sanity" : "--faithfulness") +
                                      " is not available for 3-D models (" + a.model + ")");
  if (!volume_model && !a.masks.empty())
    throw Error(ErrorCode::usage,
                "--masks: ground-truth masks are for 3-D models; " + a.model + " is 2-D");
  if (a.sanity) return run_sanity(a, model, build_preprocess(a.pre, model));
  options.volume = volume_model;
  Evaluation evaluation(options);
  const Explainer explainer(model);
  ExplainOptions eo;
  eo.method = choose_method(a.method, model);
  eo.batch_size = a.batch_size;
  eo.top_k = localise || classify ? a.top_k : 1;
  eo.positive_threshold = a.positive_threshold;
  FaithfulnessOptions fo;
  fo.steps = a.faithfulness_steps;
  fo.batch_size = a.batch_size;
  fo.road_percentiles = a.no_road ? std::vector<double>{} : a.road_percentiles;
  fo.road_noise = a.road_noise;
  fo.road_seed = a.road_seed;
  const Preprocess pre = build_preprocess(a.pre, model);
  if (!pre.normalises())
    diagnose(
        "note: no normalisation is applied (the model embeds no mean/std; use --preset, "
        "--mean/--std)");
  // Ground truth is needed for localisation and for the true class; not otherwise.
  std::optional<GroundTruthTable> truth;
  if (localise || classify || truth_class)
    truth.emplace(ClassSpace::for_model(model.num_classes(), model.metadata().labels),
                  GroundTruthFiles{a.boxes, a.labels, a.masks, volume_model});
  const bool binary = model.num_classes() == 1;

  std::vector<InputFile> inputs;
  for (const std::string& arg : a.inputs) {
    std::error_code ec;
    if (truth && a.labels.empty() && std::filesystem::is_directory(arg, ec))
      truth->add_image_folder(arg);
    WalkOptions walk;
    walk.note = diagnose;
    // 3-D models take scans whole; a folder's single-frame DICOM files are one series.
    walk.volumes = walk.volumes3d = volume_model;
    for (InputFile& in : expand_inputs({arg}, walk)) inputs.push_back(std::move(in));
  }
  if (inputs.empty()) throw Error(ErrorCode::usage, "eval: no inputs found");

  std::set<std::string> seen;
  int skipped = 0, evaluated = 0, done = 0, unboxed_positives = 0;
  FaithfulnessSummary summary;
  double map_seconds = 0, total_seconds = 0;
  const int every = a.faithfulness ? 10 : 100;
  for (const InputFile& in : inputs) {
    if (++done % every == 0)
      diagnose("eval: " + std::to_string(done) + "/" + std::to_string(inputs.size()));
    if (!seen.insert(normalize_path(in.path)).second) continue;  // listed twice
    try {
      const GroundTruth gt = truth ? truth->lookup(in.path, localise) : GroundTruth{};
      if (volume_model) {
        ExplainOptions mine = eo;
        if (localise) mine.classes = binary ? std::vector<int>{0} : gt.labels;
        const ImageRecord rec = volume_record(explainer, model, pre, mine, in, gt, a);
        unboxed_positives += binary && rec.trials.empty() &&
                             std::find(gt.labels.begin(), gt.labels.end(), 1) != gt.labels.end();
        evaluation.add(rec);
        ++evaluated;
        continue;
      }
      check_input_type(in.path, false);
      const Image image = read_input(in.path, a.read);
      const Prepared prepared = prepare(image, pre, in.path);
      ExplainOptions mine = eo;
      if (localise || truth_class) mine.classes = binary ? std::vector<int>{0} : gt.labels;
      const Clock::time_point start = Clock::now();
      Explanation ex = explain(explainer, prepared, mine, in.path);
      std::vector<FaithfulnessTrial> trials;
      if (a.faithfulness) {
        const std::vector<int> classes =
            faithfulness_classes(explainer, ex, prepared, mine, truth_class, gt, in.path);
        map_seconds += seconds_since(start);
        trials = faithfulness_trials(explainer, ex, prepared, fo, classes);
        total_seconds += seconds_since(start);
      }
      if (localise || classify) {
        const ImageRecord rec = eval_record(ex, prepared, gt, a.thresholds);
        unboxed_positives += binary && rec.trials.empty() &&
                             std::find(gt.labels.begin(), gt.labels.end(), 1) != gt.labels.end();
        evaluation.add(rec);
      }
      for (const FaithfulnessTrial& t : trials) summary.add(t);
      ++evaluated;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
      diagnose(e.what());
      ++skipped;
    }
  }
  if (unboxed_positives)
    diagnose("note: " + std::to_string(unboxed_positives) +
             " positive images have no boxes; they count for classification only");
  const std::vector<std::string> unused =
      truth ? truth->unused_paths() : std::vector<std::string>{};
  if (!unused.empty())
    diagnose("note: " + std::to_string(unused.size()) +
             " paths in the box/label files are not among the inputs, e.g. " + unused.front());

  EvalReport report = evaluation.report();
  report.model = a.model;
  report.method = method_name(eo.method);
  report.inputs = static_cast<int>(seen.size());
  report.skipped = skipped;
  report.localisation = localise;
  report.classification = classify;
  if (!localise) report.images = evaluated;
  if (a.faithfulness) {
    FaithfulnessReport f = summary.report(fo);
    f.method = report.method;
    f.target = a.faithfulness_class;
    f.images = evaluated;
    f.map_seconds = map_seconds;
    f.total_seconds = total_seconds;
    report.faithfulness = f;
  }
  std::cout << (a.json ? format_json(report) : format_table(report)) << std::flush;
  return skipped ? static_cast<int>(ErrorCode::input) : 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Localisation and classification metrics (top-1 cls/loc, GT-known loc, mean IoU, "
      "pointing game) on images with ground-truth boxes; faithfulness metrics (deletion, "
      "insertion, Average Drop) with --faithfulness");
  cmd->add_option("model", a->model, "TorchScript model (.pt)")->required();
  cmd->add_option("inputs", a->inputs,
                  "Images, .npy arrays, directories (ImageFolder: class subfolders)")
      ->required();
  cmd->add_option("--boxes", a->boxes,
                  "CSV of ground-truth boxes: path,x0,y0,x1,y1[,class] (image pixel edges); "
                  "3-D models: path,z0,y0,x0,z1,y1,x1[,class] (voxel edges)");
  cmd->add_option("--masks", a->masks,
                  "3-D models: CSV of ground-truth masks: path,mask[,class] (NIfTI or .npy on "
                  "the input's grid, non-zero = object)");
  cmd->add_option("--labels", a->labels,
                  "CSV of labels: path,class (index or model label; several lines give an image "
                  "several labels); alone, classification metrics (multi-label: AUROC per class, "
                  "F1)");
  cmd->add_option("--positive-threshold", a->positive_threshold,
                  "Multi-label and binary models: the score from which a class is predicted")
      ->capture_default_str();
  cmd->add_option("--box-threshold", a->thresholds,
                  "Box thresholds, fractions of the map's maximum (t[,t...])")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--top-k-loc", a->top_k, "Also report top-k classification and localisation")
      ->capture_default_str();
  cmd->add_option("--pointing-tolerance,--tolerance", a->tolerance,
                  "Pointing game tolerance in image pixels (3-D models: voxels)")
      ->capture_default_str();
  cmd->add_option("--iou-threshold", a->iou, "Localisation is correct at IoU >= this")
      ->capture_default_str();
  cmd->add_option("-m,--method", a->method,
                  "cam, gradcam, gradcam++, xgradcam, layercam, hirescam, gradcam-elementwise, "
                  "eigengradcam, smoothgradcam++, fullgrad, scorecam, sscam, iscam, ablationcam, "
                  "eigencam; auto: cam "
                  "when the model has a CAM head, else gradcam")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size,
                  "Inputs per forward pass: masked/ablated (scorecam, ablationcam) and perturbed "
                  "(--faithfulness)")
      ->capture_default_str();
  cmd->add_flag("--faithfulness", a->faithfulness,
                "Also report deletion/insertion AUC (RISE), Average Drop and Increase in "
                "Confidence (Grad-CAM++) and ROAD (MoRF/LeRF, noisy linear imputation)");
  cmd->add_option("--faithfulness-steps", a->faithfulness_steps,
                  "Deletion/insertion steps from no pixel to all pixels")
      ->capture_default_str();
  cmd->add_option("--faithfulness-class", a->faithfulness_class,
                  "Whose class to score: predicted (top-1) or true (the labels)")
      ->capture_default_str();
  cmd->add_option("--road-percentiles", a->road_percentiles,
                  "ROAD (with --faithfulness): percentages of pixels removed, MoRF and LeRF")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_flag("--no-road", a->no_road, "Leave ROAD out of --faithfulness");
  cmd->add_option("--road-noise", a->road_noise,
                  "ROAD: std of the noise added to imputed values (model-input units)")
      ->capture_default_str();
  cmd->add_option("--road-seed", a->road_seed, "ROAD: seed of the noise")->capture_default_str();
  cmd->add_flag("--sanity", a->sanity,
                "Instead of the metrics: the cascading model-parameter randomisation test of "
                "each --method (comma-separated), written to --out");
  cmd->add_option("--sanity-depth", a->sanity_depth,
                  "Sanity: randomise the parameterised modules at this depth, top first")
      ->capture_default_str();
  cmd->add_option("--sanity-seed", a->sanity_seed, "Sanity: seed of the re-initialisation")
      ->capture_default_str();
  cmd->add_option("--sanity-threshold", a->sanity_threshold,
                  "Sanity: flag a method whose mean Spearman at the fully randomised step is above")
      ->capture_default_str();
  cmd->add_option("--against", a->against,
                  "Sanity: also compare with this model's maps (e.g. trained on shuffled labels)");
  cmd->add_option("-o,--out", a->out, "Sanity: output folder (sanity.json, sanity_METHOD.png)");
  cmd->add_flag("--json", a->json, "Print one JSON object instead of the table");
  add_preprocess_flags(cmd, a->pre);
  add_limit_flags(cmd, a->read);
  cmd->add_option("--layer", a->layer, "Module path of the feature map (default: detected)");
  cmd->add_option("--device", a->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", a->threads, "LibTorch intra-op threads")->capture_default_str();
  cmd->add_flag("--no-optimize", a->no_optimize,
                "Run the graph as loaded instead of frozen and optimised for inference");
  return [a] { return run_eval(*a); };
}

}  // namespace camkit::cli
