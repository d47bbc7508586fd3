#include "cli/preprocess_flags.hpp"

namespace camkit::cli {

void add_preprocess_flags(CLI::App* cmd, PreprocessFlags& f) {
  cmd->add_option("--preset", f.preset, "Preprocessing preset (imagenet, xray)");
  cmd->add_option("--resize", f.resize, "Resize the shorter side to N (torchvision Resize(N))");
  cmd->add_option("--crop", f.crop, "Centre crop N or H,W after --resize")->delimiter(',');
  cmd->add_option("--size", f.size, "Resize directly to H,W (3-D models: D,H,W, trilinear)")
      ->delimiter(',');
  cmd->add_option("--mean", f.mean, "Normalisation mean, one value or one per channel")
      ->delimiter(',');
  cmd->add_option("--std", f.std, "Normalisation std, one value or one per channel")
      ->delimiter(',');
  cmd->add_option("--channels", f.channels, "Input channels the model takes (1 or 3)")
      ->check(CLI::IsMember({1, 3}));
}

Preprocess build_preprocess(const PreprocessFlags& flags, const Model& model) {
  return apply_changes(model.preprocess(), flags, model.input_spec().channels > 0,
                       model.input_spec().rank == 3);
}

}  // namespace camkit::cli
