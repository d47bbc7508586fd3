// camkit: class activation maps for TorchScript image classifiers.
// Exit codes (README, "Exit codes"): 0 success; 1 some input failed (the others completed);
// 2 usage error; 3 model error; 4 internal error (a camkit bug outside any input); 5 the output
// folder is busy with the same work.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "camkit/error.hpp"
#include "cli/commands.hpp"
#include "cli/printable.hpp"

namespace camkit::cli {

// Every diagnostic passes here, so no file name reaches the terminal unescaped.
void diagnose(const std::string& message) {
  std::cerr << "camkit: " << printable(message) << std::endl;
}

}  // namespace camkit::cli

namespace {

int run(int argc, char** argv) {
  using namespace camkit::cli;
  // Every input allocates and frees pictures of megabytes (decoded, prepared, overlays). With
  // glibc's defaults each of them is a fresh mmap whose pages fault in and are zeroed again;
  // kept in the heap (and not trimmed back at once) they are reused: about a fifth less system
  // time on a photo dataset, for a few tens of MiB more peak memory (docs/performance.md).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  CLI::App app{"camkit: class activation maps (CAM) for TorchScript image classifiers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "camkit 0.1.0");
  Runner explain = add_explain(app);
  Runner info = add_info(app);
  Runner eval = add_eval(app);
  Runner report = add_report(app);
  Runner merge = add_merge(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    diagnose(std::string(e.what()) + " (see camkit --help)");
    return static_cast<int>(camkit::ErrorCode::usage);
  }
  try {
    if (app.got_subcommand("explain")) return explain();
    if (app.got_subcommand("info")) return info();
    if (app.got_subcommand("eval")) return eval();
    if (app.got_subcommand("report")) return report();
    if (app.got_subcommand("merge")) return merge();
  } catch (const camkit::Error& e) {
    diagnose(e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    diagnose(std::string("internal error (please report it): ") + e.what());
    return 4;
  } catch (...) {
    diagnose("internal error (please report it): an exception of unknown type");
    return 4;
  }
  return static_cast<int>(camkit::ErrorCode::usage);
}

}  // namespace

int main(int argc, char** argv) {
  const int code = run(argc, argv);
  // Every file is written and closed by now, and every lock released. What is left is the
  // libraries' own teardown (LibTorch's registries and static objects: tens of milliseconds of
  // a short run), which changes nothing outside the process.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(code);
}
