#include "options.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "camkit/error.hpp"

namespace camkit::python {
namespace {

[[noreturn]] void usage(const std::string& message) {
  throw Error(ErrorCode::usage, message);
}

struct Option {
  const char* name;
  const char* doc;  ///< with its default
  bool batch_only;
  std::function<void(CallOptions&, py::handle)> set;
};

float in_unit(py::handle v, const char* name) {
  const float f = v.cast<float>();
  if (!(f >= 0 && f <= 1)) usage(std::string(name) + " must be in [0, 1]");
  return f;
}

int in_range(py::handle v, const char* name, int lo, int hi) {
  const int i = v.cast<int>();
  if (i < lo || i > hi)
    usage(std::string(name) + " " + std::to_string(i) + ": use " + std::to_string(lo) + ".." +
          std::to_string(hi));
  return i;
}

const std::vector<Option>& table() {
  static const std::vector<Option> options = {
      {"method",
       "method: cam, gradcam, gradcam++, xgradcam, layercam, hirescam, scorecam, "
       "sscam, iscam, fullgrad, ablationcam, eigencam, attention-relevance; None: cam when the "
       "model has a "
       "CAM head, else gradcam",
       false,
       [](CallOptions& o, py::handle v) {
         if (v.is_none()) return;
         const std::string name = v.cast<std::string>();
         if (name == "auto") return;
         const auto m = parse_method(name);
         if (!m) usage("method " + name + ": unknown method");
         o.method = m;
       }},
      {"top_k", "top_k: explain the k most probable classes (1)", false,
       [](CallOptions& o, py::handle v) { o.top_k = in_range(v, "top_k", 1, 100000); }},
      {"classes", "classes: explain these class indices (an int or a list) instead of the top-k",
       false,
       [](CallOptions& o, py::handle v) {
         if (v.is_none()) return;
         o.classes.clear();
         if (py::isinstance<py::int_>(v)) {
           o.classes.push_back(v.cast<int>());
           return;
         }
         for (py::handle c : v) {
           const int k = c.cast<int>();
           // Each class once, as camkit explain folds --class 0,0,3.
           if (std::find(o.classes.begin(), o.classes.end(), k) == o.classes.end())
             o.classes.push_back(k);
         }
       }},
      {"layer", "layer: module path of the layer to explain, e.g. 'layer4' (the model's own)",
       false,
       [](CallOptions& o, py::handle v) { o.layer = v.is_none() ? "" : v.cast<std::string>(); }},
      {"positive",
       "positive: explain every class whose score reaches this threshold (multi-label) (None)",
       false,
       [](CallOptions& o, py::handle v) {
         if (!v.is_none()) o.positive = in_unit(v, "positive");
       }},
      {"mask_batch", "mask_batch: masked inputs per pass for scorecam, ablationcam (32)", false,
       [](CallOptions& o, py::handle v) { o.mask_batch = in_range(v, "mask_batch", 1, 4096); }},
      {"box_threshold", "box_threshold: fraction of the map's maximum the box encloses (0.2)",
       false, [](CallOptions& o, py::handle v) { o.box_threshold = in_unit(v, "box_threshold"); }},
      {"colormap", "colormap: jet, turbo, inferno, viridis, bone, gray, for overlays (jet)", false,
       [](CallOptions& o, py::handle v) {
         o.style.colormap = colormap_arg(v.cast<std::string>(), "colormap");
       }},
      {"alpha", "alpha: overlay opacity (0.5)", false,
       [](CallOptions& o, py::handle v) { o.style.alpha = in_unit(v, "alpha"); }},
      {"draw_box", "draw_box: outline the box on overlays (False)", false,
       [](CallOptions& o, py::handle v) { o.style.draw_box = v.cast<bool>(); }},
      {"image_colormap", "image_colormap: gray or bone under overlays of grey inputs (None)", false,
       [](CallOptions& o, py::handle v) {
         if (v.is_none()) return o.image_colormap.reset();
         const std::string name = v.cast<std::string>();
         // Only maps that keep grey levels readable under a heat map, as camkit explain.
         if (name != "gray" && name != "bone")
           usage("image_colormap " + name + ": use gray or bone");
         o.image_colormap = colormap_arg(name, "image_colormap");
       }},
      {"max_overlay_side",
       "max_overlay_side: overlays of larger inputs are drawn shrunk to this side (4096)", false,
       [](CallOptions& o, py::handle v) {
         o.max_overlay_side = in_range(v, "max_overlay_side", 16, 1 << 20);
       }},
      {"batch_size", "batch_size: inputs of equal size per forward pass (8)", true,
       [](CallOptions& o, py::handle v) { o.batch_size = in_range(v, "batch_size", 1, 1024); }},
  };
  return options;
}

}  // namespace

Colormap colormap_arg(const std::string& name, const char* what) {
  const auto c = parse_colormap(name);
  if (!c) usage(std::string(what) + " " + name + ": unknown colormap");
  return *c;
}

CallOptions call_options(const py::kwargs& kwargs, bool batch, std::string* name) {
  CallOptions o;
  for (const auto& [key, value] : kwargs) {
    const std::string k = key.cast<std::string>();
    if (k == "name" && name && !batch) {
      *name = value.is_none() ? "" : value.cast<std::string>();
      continue;
    }
    const Option* found = nullptr;
    for (const Option& opt : table())
      if (k == opt.name && (batch || !opt.batch_only)) found = &opt;
    if (!found) usage("unknown argument '" + k + "'");
    try {
      found->set(o, value);
    } catch (const py::cast_error&) {
      usage(k + ": wrong type (" +
            py::str(py::type::of(value).attr("__name__")).cast<std::string>() + ")");
    }
  }
  return o;
}

std::string call_options_doc(bool batch) {
  std::string doc;
  for (const Option& opt : table())
    if (batch || !opt.batch_only) doc += "  " + std::string(opt.doc) + "\n";
  return doc;
}

}  // namespace camkit::python
