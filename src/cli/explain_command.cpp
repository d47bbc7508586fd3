// camkit explain MODEL INPUT...: maps, overlays, boxes and records for every input.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "camkit/output.hpp"
#include "cli/commands.hpp"
#include "cli/inputs.hpp"
#include "cli/preprocess_flags.hpp"

namespace camkit::cli {
namespace {

struct ExplainArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string out = "camkit-out";
  int top_k = 1;
  std::vector<int> classes;
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
  std::string layer;
  std::string device = "cpu";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string optimize = "auto";
  std::string method = "auto";
  int batch_size = 32;
};

struct Rendering {
  Colormap colormap = Colormap::jet;
  std::optional<Colormap> image_colormap;
  float alpha = 0.5f;
  float box_threshold = 0.2f;
  bool draw_box = false;
  bool raw = false;
};

nlohmann::json prediction_json(const Prediction& p) {
  return {{"class", p.class_index},
          {"label", p.label.empty() ? nlohmann::json() : nlohmann::json(p.label)},
          {"score", p.score},
          {"logit", p.logit}};
}

// Renders and writes one input's files; returns its record. Files are written before the
// record, so a record on disk means its files are complete.
nlohmann::json write_outputs(const InputFile& in, const Image& image, const Prepared& prepared,
                             const Explanation& ex, const Model& model, const Rendering& r,
                             const std::filesystem::path& out_dir) {
  namespace fs = std::filesystem;
  const fs::path rel(in.relative);
  const fs::path dir = out_dir / rel.parent_path();
  const std::string stem = rel.stem().string();
  const HeadInfo& head = model.head();
  nlohmann::json rec{
      {"input", in.path},
      {"image", {{"width", image.width}, {"height", image.height}, {"channels", image.channels}}},
      {"model", model.path()},
      {"method", method_name(ex.method)},
      {"feature_layer", model.layer().layer},
      {"feature_shape",
       {ex.method == Method::cam ? head.feature_channels : model.layer().channels,
        ex.maps.empty() ? 0 : ex.maps[0].raw.height, ex.maps.empty() ? 0 : ex.maps[0].raw.width}}};
  if (ex.binary) rec["decision"] = decision_label(ex, model);
  rec["predictions"] = nlohmann::json::array();
  for (const Prediction& p : ex.predictions) rec["predictions"].push_back(prediction_json(p));
  const Rgb8 base = to_rgb8(image, image.channels == 1 ? r.image_colormap : std::nullopt);
  rec["explanations"] = nlohmann::json::array();
  for (const ClassMap& cm : ex.maps) {
    nlohmann::json e = prediction_json(cm.prediction);
    const std::string name = stem + "." + std::to_string(cm.prediction.class_index);
    // CAM's paper normalises the raw map without a ReLU; its successors apply one.
    const Localization loc =
        localize(cm.raw, prepared, r.box_threshold, method_uses_relu(ex.method));
    const std::optional<Box>& image_box = loc.box;
    const Map& display = loc.display;
    const Region& region = loc.region;
    Rgb8 picture = overlay(base, display, region, r.colormap, r.alpha);
    if (r.draw_box && image_box) {
      const std::uint8_t white[3] = {255, 255, 255};
      draw_box(picture, *image_box, white, std::max(1, std::min(image.width, image.height) / 150));
    }
    write_file_atomic((dir / (name + ".png")).string(), encode_png(picture));
    e["overlay"] = name + ".png";
    if (r.raw) {
      write_file_atomic((dir / (name + ".npy")).string(), encode_npy(cm.raw));
      e["raw"] = name + ".npy";
    }
    e["box"] = image_box
                   ? nlohmann::json{image_box->x0, image_box->y0, image_box->x1, image_box->y1}
                   : nlohmann::json();
    rec["explanations"].push_back(e);
  }
  const fs::path record = dir / (stem + ".json");
  write_file_atomic(record.string(), rec.dump(2) + "\n");
  rec["record"] = record.string();
  return rec;
}

int run_explain(const ExplainArgs& a) {
  if (a.top_k < 1) throw Error(ErrorCode::usage, "--top-k must be at least 1");
  if (a.alpha < 0 || a.alpha > 1) throw Error(ErrorCode::usage, "--alpha must be in [0, 1]");
  if (a.box_threshold < 0 || a.box_threshold > 1)
    throw Error(ErrorCode::usage, "--box-threshold must be in [0, 1]");
  Rendering r;
  auto cmap = parse_colormap(a.colormap);
  if (!cmap) throw Error(ErrorCode::usage, "--colormap " + a.colormap + ": unknown colormap");
  r.colormap = *cmap;
  if (!a.image_colormap.empty()) {
    r.image_colormap = parse_colormap(a.image_colormap);
    if (!r.image_colormap)
      throw Error(ErrorCode::usage, "--image-colormap " + a.image_colormap + ": unknown colormap");
  }
  r.alpha = a.alpha;
  r.box_threshold = a.box_threshold;
  r.draw_box = a.draw_box;
  r.raw = a.raw;

  ModelOptions mo;
  mo.device = a.device;
  mo.layer = a.layer;
  const std::vector<InputFile> inputs = expand_inputs(a.inputs);
  // Freezing and optimising the graph costs about as much as a few forward passes and saves a
  // third of every later one: worth it from a handful of inputs on.
  if (a.optimize != "auto" && a.optimize != "on" && a.optimize != "off")
    throw Error(ErrorCode::usage, "--optimize " + a.optimize + ": use auto, on or off");
  mo.optimize = a.optimize == "on" || (a.optimize == "auto" && inputs.size() >= 8);
  mo.threads = a.threads;
  const Model model = Model::load(a.model, mo);
  const Explainer explainer(model);
  ExplainOptions eo;
  if (a.method == "auto") {
    eo.method = model.head().found ? Method::cam : Method::gradcam;
    if (!model.head().found)
      diagnose("note: " + a.model + " has no CAM head (" + model.head().reason +
               "); using Grad-CAM on " + model.layer().layer);
  } else {
    auto m = parse_method(a.method);
    if (!m) throw Error(ErrorCode::usage, "--method " + a.method + ": unknown method");
    eo.method = *m;
  }
  if (a.batch_size < 1) throw Error(ErrorCode::usage, "--batch-size must be at least 1");
  eo.batch_size = a.batch_size;
  const Preprocess pre = build_preprocess(
      PreprocessFlags{a.preset, a.resize, a.crop, a.size, a.mean, a.std, a.channels}, model);
  for (int c : a.classes)
    if (c < 0 || c >= model.num_classes())
      throw Error(ErrorCode::usage, "--class " + std::to_string(c) +
                                        ": out of range (the model has " +
                                        std::to_string(model.num_classes()) + " classes)");
  if (!pre.normalises())
    diagnose(
        "note: no normalisation is applied (the model embeds no mean/std; use --preset, "
        "--mean/--std)");
  eo.top_k = a.top_k;
  eo.classes = a.classes;

  int failed = 0;
  for (const InputFile& in : inputs) {
    try {
      const Image image = read_input(in.path);
      const Prepared prepared = prepare(image, pre, in.path);
      Explanation ex;
      try {
        ex = explainer.explain(prepared, eo);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::input) throw;
        throw Error(ErrorCode::input, in.path + ": " + e.what());
      }
      nlohmann::json rec = write_outputs(in, image, prepared, ex, model, r, a.out);
      if (a.json) std::cout << rec.dump() << std::endl;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
      diagnose(e.what());
      ++failed;
    }
  }
  return failed ? static_cast<int>(ErrorCode::input) : 0;
}

}  // namespace

Runner add_explain(CLI::App& app) {
  auto a = std::make_shared<ExplainArgs>();
  CLI::App* cmd = app.add_subcommand("explain",
                                     "Class activation maps, overlays and boxes for "
                                     "images, .npy arrays or directories of them");
  cmd->add_option("model", a->model, "TorchScript model (.pt)")->required();
  cmd->add_option("inputs", a->inputs, "Images (PNG, JPEG, BMP, TIFF), .npy arrays, directories")
      ->required();
  cmd->add_option("-o,--out", a->out, "Output directory")->capture_default_str();
  cmd->add_option("-k,--top-k", a->top_k, "Explain the k most probable classes")
      ->capture_default_str();
  cmd->add_option("-c,--class", a->classes, "Explain these class indices (i[,j...])")
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
                  "Colormap for grey images under the overlay (gray, bone)");
  cmd->add_option("--alpha", a->alpha, "Overlay opacity")->capture_default_str();
  cmd->add_option("--box-threshold", a->box_threshold,
                  "Box: fraction of the map's maximum to threshold at")
      ->capture_default_str();
  cmd->add_flag("--draw-box", a->draw_box, "Draw the box on the overlay");
  cmd->add_flag("--raw", a->raw, "Also write each raw map as <stem>.<class>.npy (float32, h x w)");
  cmd->add_flag("--json", a->json, "Print each record as one JSON line on stdout");
  cmd->add_option("-m,--method", a->method,
                  "cam, gradcam, gradcam++, xgradcam, layercam, hirescam, scorecam, "
                  "ablationcam, eigencam; auto: cam when the model has a CAM head, else gradcam")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size,
                  "Masked/ablated inputs per forward pass (scorecam, ablationcam)")
      ->capture_default_str();
  cmd->add_option("--layer", a->layer,
                  "Module path of the layer to explain, e.g. layer4 or layer4.1.conv2 "
                  "(default: the CAM head's feature map, else the last 4-D activation)");
  cmd->add_option("--device", a->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", a->threads, "LibTorch intra-op threads")->capture_default_str();
  cmd->add_option("--optimize", a->optimize,
                  "Freeze and optimise the graph for inference: auto (from 8 inputs on), on, off")
      ->capture_default_str();
  return [a] { return run_explain(*a); };
}

}  // namespace camkit::cli
