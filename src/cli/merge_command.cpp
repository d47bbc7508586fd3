// camkit merge OUT1 OUT2 ... -o OUT: one index for the output folders of several shards.
#include <memory>

#include "camkit/pipeline.hpp"
#include "cli/commands.hpp"

namespace camkit::cli {

Runner add_merge(CLI::App& app) {
  struct Args {
    std::vector<std::string> dirs;
    std::string out;
    bool allow_gaps = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "merge",
      "Join the shard indexes of one run (explain --shard i/N) into OUT/index.jsonl; refuses "
      "incomplete or mixed runs (docs/batch.md)");
  cmd->add_option("dirs", a->dirs, "Output folders of camkit explain")->required();
  cmd->add_option("-o,--out", a->out, "Folder of the merged index.jsonl")->required();
  cmd->add_flag("--allow-gaps", a->allow_gaps,
                "Merge even when shard indexes or inputs are missing; list them on stderr");
  return [a] {
    MergeOptions mo;
    mo.allow_gaps = a->allow_gaps;
    mo.on_note = diagnose;
    const MergeSummary s = merge_indexes(a->dirs, a->out, mo);
    diagnose("merged " + std::to_string(s.lines) + " index lines (" + std::to_string(s.failed) +
             " failed inputs" +
             (s.missing ? ", " + std::to_string(s.missing) + " inputs missing" : std::string()) +
             ") from " + std::to_string(a->dirs.size()) + " folders into " + a->out +
             "/index.jsonl");
    return 0;
  };
}

}  // namespace camkit::cli
