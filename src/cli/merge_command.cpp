// camkit merge OUT1 OUT2 ... -o OUT: one index for the output folders of several shards.
#include <iostream>
#include <memory>

#include "camkit/pipeline.hpp"
#include "cli/commands.hpp"

namespace camkit::cli {

Runner add_merge(CLI::App& app) {
  struct Args {
    std::vector<std::string> dirs;
    std::string out;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "Join the indexes of shard runs (explain --shard i/N) into OUT/index.jsonl");
  cmd->add_option("dirs", a->dirs, "Output folders of camkit explain")->required();
  cmd->add_option("-o,--out", a->out, "Folder of the merged index.jsonl")->required();
  return [a] {
    const size_t n = merge_indexes(a->dirs, a->out);
    diagnose("merged " + std::to_string(n) + " index lines from " + std::to_string(a->dirs.size()) +
             " folders into " + a->out + "/index.jsonl");
    return 0;
  };
}

}  // namespace camkit::cli
