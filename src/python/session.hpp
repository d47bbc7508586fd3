// The Python module's core, free of Python: a loaded model with its recipe, and explanations of
// many inputs through the same library calls as camkit explain (camkit/record.hpp). Everything
// here runs without the GIL.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "camkit/image.hpp"
#include "camkit/record.hpp"

namespace camkit::python {

/// One input as the caller gave it, already out of Python's hands.
struct Source {
  enum class Kind { path, image, prepared };
  Kind kind = Kind::path;
  std::string name;  ///< the path, or the name an array goes by in messages and records
  Image image;       ///< Kind::image: pixels that the model's recipe prepares
  Prepared input;    ///< Kind::prepared: the model input itself (C, H, W)
  /// Set when the input could not even be taken from Python (a bad array): reported in its
  /// turn, as any other input's failure.
  std::optional<Error> error;
};

/// What model.explain() takes besides the inputs; defaults as camkit explain's flags.
struct CallOptions {
  std::optional<Method> method;  ///< nullopt: CAM when the model has a CAM head, else Grad-CAM
  int top_k = 1;
  std::vector<int> classes;
  std::string layer;  ///< "" = the model's own
  std::optional<float> positive;
  int mask_batch = 32;
  float box_threshold = 0.2f;
  OverlayStyle style;
  std::optional<Colormap> image_colormap;
  int max_overlay_side = 4096;
  int batch_size = 8;  ///< inputs per forward pass (explain_batch)
};

/// One explained input: everything camkit explain writes for it, held in memory.
struct Result {
  std::string input;
  int image_width = 0, image_height = 0, image_channels = 0;
  InputGeometry geometry;
  Explanation explanation;
  std::vector<Localization> localizations;  ///< one per map
  Rgb8 base;                                ///< what overlays are drawn over
  OverlayStyle style;
  std::string record;  ///< explanation_record(), JSON text

  /// The overlay of map i (style: the result's, or `style` when given).
  Rgb8 overlay(size_t i, const OverlayStyle& style) const;
};

/// A result, or the error that one input met (explain_batch with errors kept).
struct Outcome {
  std::shared_ptr<Result> result;
  std::optional<Error> error;
};

/// The model behind a Python camkit.Model: loaded once, shared by every thread calling it.
/// Another layer (CallOptions::layer) loads the model again with that layer, once.
class Session {
 public:
  /// From a file, or from TorchScript bytes held in memory (`bytes` set; `name` names them).
  Session(std::string name, std::optional<std::string> bytes, const ModelOptions& options,
          const PreprocessChanges& changes, const ReadOptions& read);

  const Model& model() const { return model_; }
  /// The model tapped at `layer` ("" or the model's own layer: model()).
  Model model_for(const std::string& layer);
  const Preprocess& recipe() const { return recipe_; }
  const ReadOptions& read_options() const { return read_; }

  /// Explains the inputs in order, `options.batch_size` at a time where results do not depend
  /// on batching. A failing input throws its Error (input, one line naming it) unless
  /// `keep_errors`, which returns it in its place; model and usage errors always throw.
  std::vector<Outcome> explain(std::vector<Source>& sources, const CallOptions& options,
                               bool keep_errors);

 private:
  std::string name_;
  std::optional<std::string> bytes_;
  ModelOptions options_;
  Model model_;
  Preprocess recipe_;
  ReadOptions read_;
  std::mutex mu_;
  std::map<std::string, Model> layers_;
};

/// The one-line input failure of `name` for the exception being handled, as camkit explain
/// reports it (out of memory, unexpected errors); nullopt when it is not an input's failure.
std::optional<Error> input_error(const std::string& name);

}  // namespace camkit::python
