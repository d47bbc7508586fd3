// camkit._camkit: the Python module's compiled part (the package camkit re-exports it and adds
// Model.from_torch). A thin layer over the library: every call below is one camkit explain
// makes too; the GIL is released while camkit computes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "arrays.hpp"
#include "camkit/info.hpp"
#include "camkit/output.hpp"
#include "errors.hpp"
#include "options.hpp"
#include "session.hpp"

namespace py = pybind11;
using namespace camkit;
using namespace camkit::python;

namespace {

// The same byte-level text Python's json module reads back: the record and info objects.
py::object json_object(const std::string& text) {
  return py::module_::import("json").attr("loads")(py::bytes(text));
}

py::str fs_text(const std::string& bytes) {
  return py::module_::import("os").attr("fsdecode")(py::bytes(bytes));
}

ModelOptions model_options(const py::object& layer, const py::object& output,
                           const py::object& task, const std::string& device, bool optimize,
                           int threads) {
  ModelOptions o;
  o.device = device;
  o.layer = layer.is_none() ? "" : layer.cast<std::string>();
  o.output = output.is_none() ? "" : py::str(output).cast<std::string>();
  if (!task.is_none()) {
    o.task = parse_task(task.cast<std::string>());
    if (!o.task)
      throw Error(ErrorCode::usage, "task " + task.cast<std::string>() +
                                        ": use multiclass, binary, multilabel or regression");
  }
  o.optimize = optimize;
  if (threads < 0) throw Error(ErrorCode::usage, "threads must be at least 0");
  o.threads = threads;
  return o;
}

template <class T>
std::vector<T> list_or_one(const py::object& v) {
  if (v.is_none()) return {};
  if (py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) return {v.cast<T>()};
  return v.cast<std::vector<T>>();
}

std::shared_ptr<Session> make_session(const py::object& path, const py::object& data,
                                      const py::kwargs& kw) {
  auto get = [&](const char* k) -> py::object {
    if (kw.contains(k)) return kw[k];
    return py::none();
  };
  static const char* known[] = {
      "layer",    "output", "task",          "device",     "optimize",   "threads",
      "preset",   "resize", "crop",          "size",       "mean",       "std",
      "channels", "window", "max_file_size", "max_pixels", "max_slices", "max_decoded_size"};
  for (const auto& item : kw) {
    const std::string k = item.first.cast<std::string>();
    if (std::find(std::begin(known), std::end(known), k) == std::end(known))
      throw Error(ErrorCode::usage, "unknown argument '" + k + "'");
  }
  const ModelOptions mo =
      model_options(get("layer"), get("output"), get("task"),
                    get("device").is_none() ? "cpu" : get("device").cast<std::string>(),
                    get("optimize").is_none() ? true : get("optimize").cast<bool>(),
                    get("threads").is_none() ? 0 : get("threads").cast<int>());
  PreprocessChanges pc;
  pc.preset = get("preset").is_none() ? "" : get("preset").cast<std::string>();
  pc.resize = get("resize").is_none() ? 0 : get("resize").cast<int>();
  pc.crop = list_or_one<int>(get("crop"));
  pc.size = list_or_one<int>(get("size"));
  pc.mean = list_or_one<float>(get("mean"));
  pc.std = list_or_one<float>(get("std"));
  pc.channels = get("channels").is_none() ? 0 : get("channels").cast<int>();
  ReadOptions ro;
  if (!get("window").is_none()) {
    const auto w = get("window").cast<std::pair<double, double>>();
    if (!(w.second > 0)) throw Error(ErrorCode::usage, "window: give (centre, width > 0)");
    ro.window = w;
  }
  if (!get("max_file_size").is_none())
    ro.max_file_bytes = get("max_file_size").cast<std::uint64_t>();
  if (!get("max_pixels").is_none()) ro.max_pixels = get("max_pixels").cast<std::uint64_t>();
  if (!get("max_slices").is_none()) ro.max_slices = get("max_slices").cast<std::uint64_t>();
  if (!get("max_decoded_size").is_none())
    ro.max_decoded_bytes = get("max_decoded_size").cast<std::uint64_t>();
  std::string name = py::module_::import("os").attr("fsencode")(path).cast<std::string>();
  std::optional<std::string> bytes;
  if (!data.is_none()) bytes = data.cast<std::string>();
  py::gil_scoped_release unlocked;
  return guarded([&] { return std::make_shared<Session>(name, bytes, mo, pc, ro); });
}

std::vector<Outcome> run(Session& s, const py::list& xs, const py::kwargs& kw, bool batch,
                         bool keep_errors) {
  std::string name;
  const CallOptions o = call_options(kw, batch, &name);
  std::vector<Source> sources;
  for (py::handle x : xs) {
    try {
      sources.push_back(to_source(x, name));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
      Source failed;
      failed.name = name.empty() ? "<array>" : name;
      failed.error = e;
      sources.push_back(std::move(failed));
    }
  }
  py::gil_scoped_release unlocked;
  return guarded([&] { return s.explain(sources, o, keep_errors); });
}

py::dict preprocess_dict(const Preprocess& p) {
  py::dict d;
  d["channels"] = p.channels;
  if (p.resize) d["resize"] = p.resize;
  if (p.crop_height) d["crop"] = py::make_tuple(p.crop_height, p.crop_width);
  if (p.size_height) d["size"] = py::make_tuple(p.size_height, p.size_width);
  d["mean"] = p.mean;
  d["std"] = p.std;
  return d;
}

const char* kExplainDoc =
    "explain(x, **options) -> Result\n\n"
    "Explains one input: a path (read and preprocessed as `camkit explain` does), a NumPy\n"
    "array or torch tensor of uint8/uint16 pixels ((H, W) or (H, W, C), RGB; tensors (C, H, W))\n"
    "that the model's recipe prepares, or of floats: the model input itself, (C, H, W).\n"
    "name: what an array is called in messages and the record ('<array>').\nOptions:\n";

const char* kBatchDoc =
    "explain_batch(xs, errors='raise', **options) -> list[Result]\n\n"
    "Explains a list of inputs in order, batch_size of equal size per forward pass where the\n"
    "results do not depend on batching (non-gradient methods on the optimised graph). A failing\n"
    "input raises its InputError; errors='keep' puts the exception in its place instead.\n"
    "Options:\n";

}  // namespace

PYBIND11_MODULE(_camkit, m) {
  m.doc() = "camkit: class activation maps for TorchScript image classifiers";
  m.attr("__version__") = CAMKIT_VERSION;
  register_errors(m);

  py::class_<Prediction>(m, "Prediction", "One class of an explained input and its score.")
      .def_readonly("class_index", &Prediction::class_index)
      .def_readonly("label", &Prediction::label)
      .def_readonly("score", &Prediction::score, "softmax, sigmoid or the value, by the task")
      .def_readonly("logit", &Prediction::logit)
      .def_readonly("positive", &Prediction::positive)
      .def("__repr__", [](const Prediction& p) {
        return "Prediction(class_index=" + std::to_string(p.class_index) +
               ", label=" + py::repr(py::str(p.label)).cast<std::string>() +
               ", score=" + py::repr(py::float_(p.score)).cast<std::string>() + ")";
      });

  py::class_<Result, std::shared_ptr<Result>>(m, "Result",
                                              "One explained input: what camkit explain "
                                              "writes for it, in memory.")
      .def_property_readonly("input", [](const Result& r) { return fs_text(r.input); })
      .def_property_readonly("predictions",
                             [](const Result& r) { return r.explanation.predictions; })
      .def_property_readonly("classes",
                             [](const Result& r) {
                               std::vector<int> c;
                               for (const auto& cm : r.explanation.maps)
                                 c.push_back(cm.prediction.class_index);
                               return c;
                             })
      .def_property_readonly(
          "maps",
          [](const Result& r) {
            std::vector<Prediction> p;
            for (const auto& cm : r.explanation.maps) p.push_back(cm.prediction);
            return p;
          },
          "the prediction of each explained class, in map order")
      .def_property_readonly(
          "raw",
          [](py::object self) {
            py::list out;
            for (const auto& cm : self.cast<const Result&>().explanation.maps)
              out.append(map_view(cm.raw, self));
            return out;
          },
          "raw maps (h, w) float32 at feature resolution, read-only views")
      .def_property_readonly(
          "display",
          [](py::object self) {
            py::list out;
            for (const auto& loc : self.cast<const Result&>().localizations)
              out.append(map_view(loc.display, self));
            return out;
          },
          "display maps at the model input's size, in [0, 1], read-only views")
      .def_property_readonly(
          "boxes",
          [](const Result& r) {
            py::list out;
            for (const auto& loc : r.localizations)
              out.append(loc.box ? py::object(py::make_tuple(loc.box->x0, loc.box->y0, loc.box->x1,
                                                             loc.box->y1))
                                 : py::object(py::none()));
            return out;
          },
          "(x0, y0, x1, y1) in image pixels (edges; x1, y1 exclusive) or None")
      .def_property_readonly("peaks",
                             [](const Result& r) {
                               py::list out;
                               for (const auto& loc : r.localizations)
                                 out.append(py::make_tuple(loc.peak_x, loc.peak_y));
                               return out;
                             })
      .def_property_readonly(
          "record", [](const Result& r) { return json_object(r.record); },
          "the record camkit explain writes, without its file names")
      .def_property_readonly("method",
                             [](const Result& r) { return method_name(r.explanation.method); })
      .def_property_readonly("task", [](const Result& r) { return task_name(r.explanation.task); })
      .def_property_readonly("layer", [](const Result& r) { return r.explanation.layer; })
      .def_property_readonly(
          "image_size",
          [](const Result& r) { return py::make_tuple(r.image_width, r.image_height); })
      .def(
          "overlay",
          [](const Result& r, size_t i, const py::object& colormap, const py::object& alpha,
             const py::object& draw_box) {
            OverlayStyle s = r.style;
            if (!colormap.is_none())
              s.colormap = colormap_arg(colormap.cast<std::string>(), "colormap");
            if (!alpha.is_none()) s.alpha = alpha.cast<float>();
            if (!draw_box.is_none()) s.draw_box = draw_box.cast<bool>();
            Rgb8 picture;
            {
              py::gil_scoped_release unlocked;
              picture = guarded([&] { return r.overlay(i, s); });
            }
            return rgb_array(std::move(picture));
          },
          py::arg("i") = 0, py::arg("colormap") = py::none(), py::arg("alpha") = py::none(),
          py::arg("draw_box") = py::none(),
          "the overlay of map i over the input, (H, W, 3) uint8 RGB: camkit explain's picture")
      .def(
          "overlay_png",
          [](const Result& r, size_t i) {
            std::string png;
            {
              py::gil_scoped_release unlocked;
              png = guarded([&] { return encode_png(r.overlay(i, r.style)); });
            }
            return py::bytes(png);
          },
          py::arg("i") = 0, "the overlay of map i as PNG bytes (camkit explain's file)")
      .def("_repr_png_",
           [](const Result& r) -> py::object {
             // What a notebook shows: the first map's overlay (nothing when no map).
             if (r.localizations.empty()) return py::none();
             std::string png;
             {
               py::gil_scoped_release unlocked;
               png = guarded([&] { return encode_png(r.overlay(0, r.style)); });
             }
             return py::bytes(png);
           })
      .def("__repr__", [](const Result& r) {
        std::string s = "<camkit.Result " + py::str(fs_text(r.input)).cast<std::string>() + ":";
        for (const auto& p : r.explanation.predictions)
          s += " " + std::to_string(p.class_index) + (p.label.empty() ? "" : " " + p.label) + " " +
               py::repr(py::float_(p.score)).cast<std::string>() + ";";
        return s + " " + method_name(r.explanation.method) + ", " +
               std::to_string(r.explanation.maps.size()) + " map(s)>";
      });

  py::class_<Session, std::shared_ptr<Session>>(m, "Model",
                                                "A TorchScript classifier loaded by camkit; "
                                                "share one across threads.")
      .def(py::init([](const py::object& path, const py::object& _bytes, const py::kwargs& kw) {
             return make_session(path, _bytes, kw);
           }),
           py::arg("path"), py::kw_only(), py::arg("_bytes") = py::none(),
           "Model(path, *, layer=None, output=None, task=None, device='cpu', optimize=True,\n"
           "      threads=0, preset=None, resize=None, crop=None, size=None, mean=None,\n"
           "      std=None, channels=None, window=None, max_file_size=2**30,\n"
           "      max_pixels=10**8, max_slices=2048, max_decoded_size=2**30)\n\n"
           "Loads the model once, as `camkit explain` does with the same flags; preprocessing\n"
           "arguments override the model's metadata. threads: LibTorch intra-op threads\n"
           "(process-wide; 0 leaves them alone).")
      .def(
          "info",
          [](Session& s) {
            std::string text;
            {
              py::gil_scoped_release unlocked;
              text = guarded([&] { return model_info_json(s.model()); });
            }
            return json_object(text);
          },
          "what `camkit info --json` prints, as a dict")
      .def(
          "explain",
          [](Session& s, const py::object& x, const py::kwargs& kw) {
            py::list xs;
            xs.append(x);
            return run(s, xs, kw, false, false).front().result;
          },
          py::arg("x"), (std::string(kExplainDoc) + call_options_doc(false)).c_str())
      .def(
          "explain_batch",
          [](Session& s, const py::iterable& xs, const std::string& errors, const py::kwargs& kw) {
            if (errors != "raise" && errors != "keep")
              throw Error(ErrorCode::usage, "errors " + errors + ": use 'raise' or 'keep'");
            py::list list;
            for (py::handle x : xs) list.append(x);
            std::vector<Outcome> outcomes = run(s, list, kw, true, errors == "keep");
            py::list out;
            for (Outcome& o : outcomes)
              out.append(o.result ? py::cast(o.result) : error_object(*o.error));
            return out;
          },
          py::arg("xs"), py::kw_only(), py::arg("errors") = "raise",
          (std::string(kBatchDoc) + call_options_doc(true)).c_str())
      .def_property_readonly("path", [](const Session& s) { return fs_text(s.model().path()); })
      .def_property_readonly("num_classes",
                             [](const Session& s) { return s.model().num_classes(); })
      .def_property_readonly("labels", [](const Session& s) { return s.model().metadata().labels; })
      .def_property_readonly("task", [](const Session& s) { return task_name(s.model().task()); })
      .def_property_readonly("layer", [](const Session& s) { return s.model().layer().layer; })
      .def_property_readonly("has_cam_head",
                             [](const Session& s) { return s.model().head().found; })
      .def_property_readonly(
          "preprocess", [](const Session& s) { return preprocess_dict(s.recipe()); },
          "the recipe inputs are prepared with");

  m.def(
      "overlay",
      [](const py::object& image, const py::object& map, const std::string& colormap, float alpha,
         const py::object& image_colormap) {
        const Image im = guarded([&] { return to_image(image); });
        const Map raw = to_map(map);
        const Colormap cmap = colormap_arg(colormap, "colormap");
        std::optional<Colormap> grey;
        if (!image_colormap.is_none())
          grey = colormap_arg(image_colormap.cast<std::string>(), "image_colormap");
        Rgb8 picture;
        {
          py::gil_scoped_release unlocked;
          picture = guarded([&] {
            const Rgb8 base = to_rgb8(im, im.channels == 1 ? grey : std::nullopt);
            const Map display = display_map(raw, base.height, base.width, false);
            const Region whole{0, 0, static_cast<double>(base.width),
                               static_cast<double>(base.height)};
            return camkit::overlay(base, display, whole, cmap, alpha);
          });
        }
        return rgb_array(std::move(picture));
      },
      py::arg("image"), py::arg("map"), py::arg("colormap") = "jet", py::arg("alpha") = 0.5f,
      py::arg("image_colormap") = py::none(),
      "overlay(image, map, colormap='jet', alpha=0.5, image_colormap=None) -> (H, W, 3) uint8\n\n"
      "The map (any size) upsampled bilinearly to the whole image, min-max normalised, coloured\n"
      "and blended: out = (1 - alpha) * image + alpha * colour. image: a path or a pixel array\n"
      "(grey images through image_colormap, e.g. 'bone'). For a result's own map, cropped\n"
      "inputs included, Result.overlay() places it exactly.");
  m.def("methods", &method_names, "the method names explain() takes");
  m.def("presets", &preset_names, "the preprocessing presets Model() takes");
  m.def("colormaps", [] {
    std::vector<std::string> names;
    for (Colormap c : {Colormap::jet, Colormap::turbo, Colormap::inferno, Colormap::viridis,
                       Colormap::bone, Colormap::gray})
      names.push_back(colormap_name(c));
    return names;
  });
}
