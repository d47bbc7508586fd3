// The camkit command line: each subcommand registers its flags and runs over the library.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace camkit::cli {

/// A subcommand's runner; returns the process exit code (see docs/cli.md).
using Runner = std::function<int()>;

Runner add_explain(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_eval(CLI::App& app);    // eval_command.cpp
Runner add_report(CLI::App& app);  // report_command.cpp
Runner add_merge(CLI::App& app);   // merge_command.cpp

/// One-line diagnostic on stderr, prefixed "camkit: ".
void diagnose(const std::string& message);

}  // namespace camkit::cli
