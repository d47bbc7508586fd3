// camkit eval: registered here; implemented in its own change.
#include "camkit/error.hpp"
#include "cli/commands.hpp"

namespace camkit::cli {

Runner add_eval(CLI::App& app) {
  app.add_subcommand("eval", "(not yet available)");
  return []() -> int { throw Error(ErrorCode::usage, "eval: not yet available"); };
}

}  // namespace camkit::cli
