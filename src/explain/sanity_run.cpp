// Sanity checks (Adebayo et al. 2018): randomised copies of the model and the comparison of
// their maps with the original's (docs/eval.md, "Sanity checks").
#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/sanity.hpp"
#include "model/metadata.hpp"
#include "model/model_impl.hpp"

namespace camkit {
namespace {

bool holds_parameters(const torch::jit::Module& m, bool recurse) {
  for (const at::Tensor& p : m.parameters(recurse)) {
    (void)p;
    return true;
  }
  return false;
}

void collect_blocks(const torch::jit::Module& m, const std::string& prefix, int level, int depth,
                    std::vector<std::string>& out) {
  for (const torch::jit::NameModule& child : m.named_children()) {
    if (!holds_parameters(child.value, true)) continue;
    const std::string path = prefix.empty() ? child.name : prefix + "." + child.name;
    if (level >= depth || holds_parameters(child.value, false))
      out.push_back(path);
    else
      collect_blocks(child.value, path, level + 1, depth, out);
  }
}

torch::jit::Module submodule(torch::jit::Module m, const std::string& path) {
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) m = m.attr(part).toModule();
  return m;
}

void reinitialise(torch::jit::Module block, unsigned long long seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (at::Tensor p : block.parameters(true)) {
    if (p.numel() == 0) continue;
    const at::Tensor d = p.detach().to(at::kDouble);
    const double mean = d.mean().item<double>();
    const double sd = p.numel() > 1 ? d.std().item<double>() : 0.0;
    // Equal values (a fresh BatchNorm's ones and zeros, a single bias): spread |mean| or 0.01.
    const double spread = sd > 0 ? sd : (mean != 0 ? std::abs(mean) : 0.01);
    at::Tensor fresh = at::empty(p.sizes(), at::TensorOptions().dtype(at::kDouble));
    fresh.normal_(mean, spread, gen);
    p.copy_(fresh.to(p.dtype()).to(p.device()));
  }
}

std::vector<Map> explain_maps(const Explainer& explainer, const std::vector<Prepared>& inputs,
                              const std::vector<int>& classes, Method method, int batch_size) {
  std::vector<Map> out;
  ExplainOptions eo;
  eo.method = method;
  eo.batch_size = batch_size;
  for (size_t i = 0; i < inputs.size(); ++i) {
    eo.classes = {classes[i]};
    const Explanation ex = explainer.explain(inputs[i], eo);
    if (ex.maps.empty()) throw Error(ErrorCode::model, "sanity: the explanation has no map");
    out.push_back(display_map(ex.maps.front().raw, inputs[i].height, inputs[i].width,
                              method_uses_relu(method)));
  }
  return out;
}

SanityScores compare(const std::string& step, const std::vector<Map>& original,
                     const std::vector<Map>& now) {
  SanityScores s;
  s.step = step;
  double hog = 0;
  int hogs = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    s.spearman += spearman_correlation(original[i], now[i]);
    s.ssim += ssim(original[i], now[i]);
    if (const std::optional<double> h = hog_similarity(original[i], now[i])) {
      hog += *h;
      ++hogs;
    }
  }
  s.maps = static_cast<int>(original.size());
  s.spearman /= s.maps;
  s.ssim /= s.maps;
  if (hogs) s.hog = hog / hogs;
  return s;
}

}  // namespace

std::vector<std::string> sanity_blocks(const Model& model, int depth) {
  if (depth < 1) throw Error(ErrorCode::usage, "sanity: the depth must be at least 1");
  std::vector<std::string> out;
  collect_blocks(model.impl().module, "", 1, depth, out);
  if (out.empty()) throw Error(ErrorCode::model, model.path() + ": the model has no parameters");
  return out;
}

Model randomised_copy(const Model& model, const std::vector<std::string>& randomise,
                      const std::vector<std::string>& all_blocks, unsigned long long seed) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model.path(), ec))
    throw Error(ErrorCode::usage, "sanity: " + model.path() +
                                      " was not loaded from a file; the check reads it again");
  torch::jit::ExtraFilesMap extra{{detail::kMetadataFile, ""}};
  torch::jit::Module copy;
  try {
    copy = torch::jit::load(model.path(), c10::Device(c10::kCPU), extra);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::model, model.path() + ": cannot be read again (" + e.what() + ")");
  }
  std::string name = model.path() + " [randomised:";
  for (const std::string& block : randomise) {
    const auto it = std::find(all_blocks.begin(), all_blocks.end(), block);
    if (it == all_blocks.end()) throw Error(ErrorCode::usage, "sanity: no block " + block);
    reinitialise(submodule(copy, block),
                 seed + static_cast<unsigned long long>(it - all_blocks.begin()));
    name += " " + block;
  }
  if (extra[detail::kMetadataFile].empty()) extra.erase(detail::kMetadataFile);
  std::ostringstream bytes;
  copy.save(bytes, extra);
  return Model::load_from_memory(bytes.str(), name + "]", model.options());
}

SanityResult sanity_check(const Model& model, const std::vector<Prepared>& inputs,
                          const SanityOptions& options, const Model* against) {
  if (inputs.empty()) throw Error(ErrorCode::usage, "sanity: no inputs");
  if (options.methods.empty()) throw Error(ErrorCode::usage, "sanity: no methods");
  if (against && against->num_classes() != model.num_classes())
    throw Error(ErrorCode::usage, "--against " + against->path() + ": " +
                                      std::to_string(against->num_classes()) + " outputs, " +
                                      model.path() + " has " + std::to_string(model.num_classes()));
  SanityResult r;
  r.options = options;
  r.model = model.path();
  if (against) r.against = against->path();
  const std::vector<std::string> defined = sanity_blocks(model, options.depth);
  r.blocks.assign(defined.rbegin(), defined.rend());  // the top (output side) first

  const Explainer original(model);
  for (const Prepared& in : inputs) {
    if (model.num_classes() == 1) {
      r.classes.push_back(0);
      continue;
    }
    const std::vector<float> row = original.scores({&in}, 1).front();
    r.classes.push_back(static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin()));
  }
  const size_t shown =
      std::min(inputs.size(), static_cast<size_t>(std::max(0, options.figure_inputs)));
  std::vector<std::vector<Map>> first;  // [method][input]
  for (Method method : options.methods) {
    SanityMethod m;
    m.method = method_name(method);
    first.push_back(explain_maps(original, inputs, r.classes, method, options.batch_size));
    for (size_t i = 0; i < shown; ++i) m.figure.push_back({first.back()[i]});
    r.methods.push_back(std::move(m));
  }
  auto step = [&](const Explainer& explainer, const std::string& name, bool is_against) {
    for (size_t k = 0; k < options.methods.size(); ++k) {
      const std::vector<Map> now =
          explain_maps(explainer, inputs, r.classes, options.methods[k], options.batch_size);
      SanityMethod& m = r.methods[k];
      const SanityScores s = compare(name, first[k], now);
      if (is_against)
        m.against = s;
      else
        m.cascade.push_back(s);
      for (size_t i = 0; i < shown; ++i) m.figure[i].push_back(now[i]);
    }
  };
  for (size_t b = 0; b < r.blocks.size(); ++b) {
    const std::vector<std::string> top(r.blocks.begin(),
                                       r.blocks.begin() + static_cast<long>(b) + 1);
    const Model copy = randomised_copy(model, top, defined, options.seed);
    step(Explainer(copy), r.blocks[b], false);
  }
  if (against) step(Explainer(*against), "against", true);

  char buf[64];
  for (SanityMethod& m : r.methods) {
    std::vector<std::string> why;
    if (m.cascade.back().spearman > options.threshold) {
      std::snprintf(buf, sizeof buf, "%.4f", m.cascade.back().spearman);
      why.push_back("mean Spearman " + std::string(buf) + " with every block randomised");
    }
    if (m.against && m.against->spearman > options.threshold) {
      std::snprintf(buf, sizeof buf, "%.4f", m.against->spearman);
      why.push_back("mean Spearman " + std::string(buf) + " against " + r.against);
    }
    m.flagged = !why.empty();
    for (size_t i = 0; i < why.size(); ++i) m.reason += (i ? "; " : "") + why[i];
    if (m.flagged) {
      std::snprintf(buf, sizeof buf, "%.2f", options.threshold);
      m.reason += " (above " + std::string(buf) + "): the maps barely depend on the weights";
    }
  }
  return r;
}

}  // namespace camkit
