// The input limits shared by the subcommands that read inputs (explain, eval): the flags that
// raise ReadOptions' bounds on what one input may cost (camkit/image.hpp).
#pragma once

#include <CLI/CLI.hpp>

#include "camkit/image.hpp"

namespace camkit::cli {

/// Registers --max-file-size, --max-pixels, --max-slices and --max-decoded-size on `cmd`,
/// storing into `options` (which must outlive the parse; its values are the defaults shown).
/// Sizes take suffixes: 512M, 2G (powers of 1024) for bytes; 150M (10^6) for pixels.
void add_limit_flags(CLI::App* cmd, ReadOptions& options);

}  // namespace camkit::cli
