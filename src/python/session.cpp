#include "session.hpp"

#include <algorithm>
#include <exception>

#include "camkit/pipeline.hpp"
#include "pipeline/failures.hpp"

namespace camkit::python {
namespace {

Model load(const std::string& name, const std::optional<std::string>& bytes,
           const ModelOptions& options) {
  return bytes ? Model::load_from_memory(*bytes, name, options) : Model::load(name, options);
}

// A prepared input stands for itself: the input's pixels are the image's.
InputGeometry identity_geometry(const Prepared& p) {
  InputGeometry g;
  g.image_height = g.resized_height = g.input_height = p.height;
  g.image_width = g.resized_width = g.input_width = p.width;
  return g;
}

Image interleaved(const Prepared& p) {
  Image im;
  im.height = p.height;
  im.width = p.width;
  im.channels = p.channels;
  im.data.resize(p.chw.size());
  const size_t plane = static_cast<size_t>(p.height) * p.width;
  for (int c = 0; c < p.channels; ++c)
    for (size_t i = 0; i < plane; ++i) im.data[i * p.channels + c] = p.chw[c * plane + i];
  return im;
}

// An input read and prepared as camkit explain's decode stage does it.
struct Decoded {
  Prepared input;
  Rgb8 base;
  int width = 0, height = 0, channels = 0;
};

Decoded decode(Source& s, const Preprocess& recipe, const ReadOptions& read, const CallOptions& o) {
  if (s.error) throw *s.error;
  Decoded d;
  if (s.kind == Source::Kind::prepared) {
    d.input = std::move(s.input);
    d.input.geometry = identity_geometry(d.input);
    d.base = overlay_base(interleaved(d.input), o.image_colormap, o.max_overlay_side);
    d.width = d.input.width, d.height = d.input.height, d.channels = d.input.channels;
    return d;
  }
  Image image;
  if (s.kind == Source::Kind::path) {
    check_input_type(s.name, false);
    image = read_input(s.name, read);
  } else {
    image = std::move(s.image);
  }
  d.input = prepare(image, recipe, s.name);
  d.base = overlay_base(image, o.image_colormap, o.max_overlay_side);
  d.width = image.width, d.height = image.height, d.channels = image.channels;
  return d;
}

}  // namespace

std::optional<Error> input_error(const std::string& name) {
  const std::optional<std::string> message =
      pipeline::input_failure(name, std::current_exception());
  if (!message) return std::nullopt;
  return Error(ErrorCode::input, *message);
}

Rgb8 Result::overlay(size_t i, const OverlayStyle& s) const {
  if (i >= localizations.size())
    throw Error(ErrorCode::usage, "map " + std::to_string(i) + ": the result has " +
                                      std::to_string(localizations.size()) + " map(s)");
  return render_overlay(base, image_width, image_height, localizations[i], s);
}

Session::Session(std::string name, std::optional<std::string> bytes, const ModelOptions& options,
                 const PreprocessChanges& changes, const ReadOptions& read)
    : name_(std::move(name)),
      bytes_(std::move(bytes)),
      options_(options),
      model_(load(name_, bytes_, options_)),
      recipe_(apply_changes(model_.preprocess(), changes, model_.input_spec().channels > 0,
                            model_.input_spec().rank == 3)),
      read_(read) {}

Model Session::model_for(const std::string& layer) {
  if (layer.empty() || layer == model_.layer().layer) return model_;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = layers_.find(layer);
  if (it == layers_.end()) {
    ModelOptions o = options_;
    o.layer = layer;
    it = layers_.emplace(layer, load(name_, bytes_, o)).first;
  }
  return it->second;
}

std::vector<Outcome> Session::explain(std::vector<Source>& sources, const CallOptions& o,
                                      bool keep_errors) {
  const Model model = model_for(o.layer);
  const Explainer explainer(model);
  ExplainOptions eo;
  eo.method = o.method.value_or(model.head().found ? Method::cam : Method::gradcam);
  eo.top_k = o.top_k;
  eo.classes = o.classes;
  // positive=t: the CLI's --positive --positive-threshold t.
  if (o.positive) {
    eo.positive_threshold = *o.positive;
    eo.explain_positives = true;
  }
  eo.batch_size = o.mask_batch;
  // What stops every input stops the call before any input is read, as in camkit explain.
  explainer.check(eo);
  if (o.top_k < 1) throw Error(ErrorCode::usage, "top_k must be at least 1");

  std::vector<Outcome> out(sources.size());
  std::vector<std::optional<Decoded>> items(sources.size());
  auto failed = [&](size_t i) {
    std::optional<Error> e = input_error(sources[i].name);
    if (!e) throw;  // not this input's failure: the call's
    if (!keep_errors) throw *e;
    out[i].error = std::move(e);
    items[i].reset();
  };
  for (size_t i = 0; i < sources.size(); ++i) {
    try {
      items[i] = decode(sources[i], recipe_, read_, o);
    } catch (...) {
      failed(i);
    }
  }

  // Maximal runs of consecutive inputs of one size, as the pipeline batches them.
  const size_t batch = static_cast<size_t>(invariant_batch_size(model, eo.method, o.batch_size));
  std::vector<std::optional<Explanation>> done(sources.size());
  for (size_t start = 0; start < sources.size();) {
    if (!items[start]) {
      ++start;
      continue;
    }
    std::vector<size_t> run{start};
    const Prepared& first = items[start]->input;
    size_t next = start + 1;
    for (; next < sources.size() && run.size() < batch; ++next) {
      if (!items[next]) continue;
      const Prepared& p = items[next]->input;
      if (p.channels != first.channels || p.height != first.height || p.width != first.width) break;
      run.push_back(next);
    }
    start = next;
    std::vector<const Prepared*> ptrs;
    for (size_t i : run) ptrs.push_back(&items[i]->input);
    try {
      std::vector<Explanation> exs = explainer.explain_batch(ptrs, eo);
      for (size_t k = 0; k < run.size(); ++k) done[run[k]] = std::move(exs[k]);
      continue;
    } catch (...) {
      // One input that does not fit the model (or memory) among several: one by one.
      if (!input_error("")) throw;
    }
    for (size_t i : run) {
      try {
        done[i] = explainer.explain(items[i]->input, eo);
      } catch (...) {
        failed(i);
      }
    }
  }

  for (size_t i = 0; i < sources.size(); ++i) {
    if (!done[i]) continue;
    Decoded& d = *items[i];
    auto r = std::make_shared<Result>();
    r->input = sources[i].name;
    r->image_width = d.width, r->image_height = d.height, r->image_channels = d.channels;
    r->geometry = d.input.geometry;
    r->explanation = std::move(*done[i]);
    r->localizations = localize_maps(r->explanation, d.input, o.box_threshold);
    r->base = std::move(d.base);
    r->style = o.style;
    RecordInput ri;
    ri.input = r->input;
    ri.image_width = d.width, ri.image_height = d.height, ri.image_channels = d.channels;
    r->record = explanation_record(model, ri, r->explanation, r->localizations, {});
    out[i].result = std::move(r);
    items[i].reset();
  }
  return out;
}

}  // namespace camkit::python
