// The preprocessing flags shared by the subcommands that run a model (explain, eval).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "camkit/model.hpp"
#include "camkit/preprocess.hpp"

namespace camkit::cli {

/// --preset, --resize, --crop, --size, --mean, --std, --channels as parsed.
using PreprocessFlags = PreprocessChanges;

/// Registers the flags on `cmd`, storing into `flags` (which must outlive the parse).
void add_preprocess_flags(CLI::App* cmd, PreprocessFlags& flags);

/// The recipe: flags override the preset, which overrides the model's embedded metadata
/// (apply_changes). Throws Error(ErrorCode::usage) for an unknown preset, a --crop/--size that is
/// not N or H,W, or a --mean/--std count other than 1 or the channel count.
Preprocess build_preprocess(const PreprocessFlags& flags, const Model& model);

}  // namespace camkit::cli
