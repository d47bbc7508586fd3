// camkit eval MODEL INPUT... --boxes boxes.csv: localisation and classification metrics.
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"
#include "cli/commands.hpp"
#include "cli/inputs.hpp"
#include "cli/preprocess_flags.hpp"

namespace camkit::cli {
namespace {

struct EvalArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string boxes, labels;
  std::vector<float> thresholds{0.2f};
  bool json = false;
  int top_k = 1;
  double tolerance = 15;
  double iou = 0.5;
  PreprocessFlags pre;
  std::string layer;
  std::string device = "cpu";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool no_optimize = false;
};

// Wraps an input error from the library so that it names the file.
Error about(const std::string& path, const Error& e) {
  const std::string what = e.what();
  return Error(e.code(), what.compare(0, path.size(), path) == 0 ? what : path + ": " + what);
}

int run_eval(const EvalArgs& a) {
  EvalOptions options;
  options.thresholds = a.thresholds;
  options.top_k = a.top_k;
  options.pointing_tolerance = a.tolerance;
  options.iou_threshold = a.iou;
  Evaluation evaluation(options);  // validates the options before anything is loaded
  for (const std::string* csv : {&a.boxes, &a.labels}) {
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
  const Explainer explainer(model);
  const Preprocess pre = build_preprocess(a.pre, model);
  if (!pre.normalises())
    diagnose(
        "note: no normalisation is applied (the model embeds no mean/std; use --preset, "
        "--mean/--std)");
  GroundTruthTable truth(ClassSpace::for_model(model.num_classes(), model.metadata().labels),
                         a.boxes, a.labels);
  const bool binary = truth.classes().binary;

  std::vector<InputFile> inputs;
  for (const std::string& arg : a.inputs) {
    std::error_code ec;
    if (a.labels.empty() && std::filesystem::is_directory(arg, ec)) truth.add_image_folder(arg);
    for (InputFile& in : expand_inputs({arg})) inputs.push_back(std::move(in));
  }
  if (inputs.empty()) throw Error(ErrorCode::usage, "eval: no inputs found");

  std::set<std::string> seen;
  int skipped = 0, done = 0, unboxed_positives = 0;
  for (const InputFile& in : inputs) {
    if (++done % 100 == 0)
      diagnose("eval: " + std::to_string(done) + "/" + std::to_string(inputs.size()));
    if (!seen.insert(normalize_path(in.path)).second) continue;  // listed twice
    try {
      const GroundTruth gt = truth.lookup(in.path);
      const Image image = read_input(in.path);
      const Prepared prepared = prepare(image, pre, in.path);
      ExplainOptions eo;
      eo.top_k = a.top_k;
      eo.classes = binary ? std::vector<int>{0} : gt.labels;
      Explanation ex;
      try {
        ex = explainer.explain(prepared, eo);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::input) throw;
        throw about(in.path, e);
      }
      const ImageRecord rec = eval_record(ex, prepared, gt, a.thresholds);
      unboxed_positives += binary && rec.trials.empty() &&
                           std::find(gt.labels.begin(), gt.labels.end(), 1) != gt.labels.end();
      evaluation.add(rec);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
      diagnose(e.what());
      ++skipped;
    }
  }
  if (unboxed_positives)
    diagnose("note: " + std::to_string(unboxed_positives) +
             " positive images have no boxes; they count for classification only");
  const std::vector<std::string> unused = truth.unused_paths();
  if (!unused.empty())
    diagnose("note: " + std::to_string(unused.size()) +
             " paths in the box/label files are not among the inputs, e.g. " + unused.front());

  EvalReport report = evaluation.report();
  report.model = a.model;
  report.inputs = static_cast<int>(seen.size());
  report.skipped = skipped;
  std::cout << (a.json ? format_json(report) : format_table(report)) << std::flush;
  return skipped ? static_cast<int>(ErrorCode::input) : 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Localisation and classification metrics (top-1 cls/loc, GT-known loc, mean IoU, "
      "pointing game) on images with ground-truth boxes");
  cmd->add_option("model", a->model, "TorchScript model (.pt)")->required();
  cmd->add_option("inputs", a->inputs,
                  "Images, .npy arrays, directories (ImageFolder: class subfolders)")
      ->required();
  cmd->add_option("--boxes", a->boxes,
                  "CSV of ground-truth boxes: path,x0,y0,x1,y1[,class] (image pixel edges)")
      ->required();
  cmd->add_option("--labels", a->labels, "CSV of labels: path,class (index or model label)");
  cmd->add_option("--box-threshold", a->thresholds,
                  "Box thresholds, fractions of the map's maximum (t[,t...])")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--top-k-loc", a->top_k, "Also report top-k classification and localisation")
      ->capture_default_str();
  cmd->add_option("--pointing-tolerance", a->tolerance, "Pointing game tolerance in image pixels")
      ->capture_default_str();
  cmd->add_option("--iou-threshold", a->iou, "Localisation is correct at IoU >= this")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "Print one JSON object instead of the table");
  add_preprocess_flags(cmd, a->pre);
  cmd->add_option("--layer", a->layer, "Module path of the feature map (default: detected)");
  cmd->add_option("--device", a->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", a->threads, "LibTorch intra-op threads")->capture_default_str();
  cmd->add_flag("--no-optimize", a->no_optimize,
                "Run the graph as loaded instead of frozen and optimised for inference");
  return [a] { return run_eval(*a); };
}

}  // namespace camkit::cli
