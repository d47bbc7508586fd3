// camkit report: registered here; implemented in its own change.
#include "camkit/error.hpp"
#include "cli/commands.hpp"

namespace camkit::cli {

Runner add_report(CLI::App& app) {
  app.add_subcommand("report", "(not yet available)");
  return []() -> int { throw Error(ErrorCode::usage, "report: not yet available"); };
}

}  // namespace camkit::cli
