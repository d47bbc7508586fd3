// make_output_names_unique: no input's outputs overwrite another's (docs/batch.md, "Names").
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "camkit/pipeline.hpp"
#include "pipeline/stages.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

// The relative path with "~<n>" before the extension ("a/x.png" -> "a/x~2.png"); a series
// folder's name has no extension.
std::string with_suffix(const PipelineInput& in, std::size_t n) {
  const fs::path rel(in.relative);
  const std::string tag = "~" + std::to_string(n);
  if (!in.series.empty()) return in.relative + tag;
  return (rel.parent_path() / (rel.stem().string() + tag + rel.extension().string()))
      .generic_string();
}

}  // namespace

std::vector<std::string> make_output_names_unique(std::vector<PipelineInput>& inputs) {
  // Every name some input has, so a suffixed name never takes a later input's own name.
  std::unordered_set<std::string> taken;
  std::unordered_map<std::string, std::size_t> first;
  std::vector<bool> renamed(inputs.size(), false);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string key = pipeline::record_relative(inputs[i]);
    taken.insert(key);
    if (!first.emplace(key, i).second) renamed[i] = true;
  }
  std::vector<std::string> notes;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!renamed[i]) continue;
    PipelineInput& in = inputs[i];
    const PipelineInput& owner = inputs[first.at(pipeline::record_relative(in))];
    for (std::size_t n = 2;; ++n) {
      PipelineInput candidate = in;
      candidate.relative = with_suffix(in, n);
      const std::string key = pipeline::record_relative(candidate);
      if (!taken.insert(key).second) continue;
      notes.push_back("note: " + in.path + " and " + owner.path + " would write the same " +
                      pipeline::record_relative(owner) + ": " + in.path + " is written as " + key);
      in.relative = candidate.relative;
      break;
    }
  }
  return notes;
}

}  // namespace camkit
