// camkit merge: the shard indexes of one run joined into one index, refused when they do not
// make up one complete run (docs/batch.md, "Merging").
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/output_folder.hpp"
#include "camkit/pipeline.hpp"
#include "pipeline/stages.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

struct Source {
  fs::path file, base;  // the index file; its folder, canonical (records are relative to it)
  int index = 0, count = 1;
};

struct Line {
  std::uint64_t seq;
  std::string input, text, where;
  bool failed;
};

[[noreturn]] void refuse(ErrorCode code, const std::string& message) {
  throw Error(code, "merge: " + message);
}

// "index-3-of-8.jsonl" -> {3, 8}; anything else -> nothing.
std::optional<std::pair<int, int>> shard_of(const std::string& name) {
  int i = -1, n = -1, used = 0;
  if (std::sscanf(name.c_str(), "index-%d-of-%d.jsonl%n", &i, &n, &used) != 2 ||
      static_cast<std::size_t>(used) != name.size() || n < 1 || i < 0 || i >= n)
    return std::nullopt;
  if (name != index_file_name(i, n)) return std::nullopt;  // no leading zeros or signs
  return std::make_pair(i, n);
}

std::vector<Source> find_sources(const std::vector<std::string>& dirs) {
  std::vector<Source> out;
  std::map<fs::path, std::string> seen;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) refuse(ErrorCode::usage, dir + ": not a folder");
    const fs::path base = fs::canonical(dir, ec);
    if (!seen.emplace(base, dir).second)
      refuse(ErrorCode::usage, dir + ": given twice (also as " + seen[base] + ")");
    RunLock::check_idle(OutputFolder(dir));
    std::vector<Source> shards;
    bool whole = false;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file(ec)) continue;
      if (const auto s = shard_of(name)) shards.push_back({e.path(), base, s->first, s->second});
      whole |= name == "index.jsonl";
    }
    // A folder's index.jsonl beside shard indexes is an earlier merge (or a stray whole run):
    // the shard indexes are the sources, so merging again gives the same file.
    if (shards.empty() && whole) shards.push_back({fs::path(dir) / "index.jsonl", base, 0, 1});
    if (shards.empty())
      refuse(ErrorCode::usage,
             dir + ": no index.jsonl or index-<i>-of-<N>.jsonl (not a camkit output folder)");
    std::sort(shards.begin(), shards.end(),
              [](const Source& a, const Source& b) { return a.index < b.index; });
    out.insert(out.end(), shards.begin(), shards.end());
  }
  return out;
}

std::string list_seqs(const std::vector<std::uint64_t>& seqs) {
  std::string s;
  for (std::size_t i = 0; i < seqs.size() && i < 8; ++i)
    s += (i ? ", " : "") + std::to_string(seqs[i]);
  return s + (seqs.size() > 8 ? ", ..." : "");
}

}  // namespace

MergeSummary merge_indexes(const std::vector<std::string>& dirs, const std::string& out_dir,
                           const MergeOptions& options) {
  const std::vector<Source> sources = find_sources(dirs);
  // One shard count, each shard once.
  const int count = sources.front().count;
  std::map<int, const Source*> by_index;
  for (const Source& s : sources) {
    if (s.count != count)
      refuse(ErrorCode::usage,
             "mixed shard counts: " + sources.front().file.string() + " is " +
                 (count == 1 ? "a whole run" : "of " + std::to_string(count)) + ", " +
                 s.file.string() + " is " +
                 (s.count == 1 ? "a whole run" : "of " + std::to_string(s.count)) +
                 "; merge the shards of one --shard i/N run");
    if (!by_index.emplace(s.index, &s).second)
      refuse(ErrorCode::usage, "shard " + std::to_string(s.index) + "/" + std::to_string(count) +
                                   " twice: " + by_index[s.index]->file.string() + " and " +
                                   s.file.string());
  }
  std::vector<std::string> gaps;
  for (int i = 0; i < count; ++i)
    if (!by_index.count(i))
      gaps.push_back("shard " + std::to_string(i) + "/" + std::to_string(count) + " has no " +
                     index_file_name(i, count));

  const fs::path out = fs::weakly_canonical(fs::absolute(out_dir));
  std::vector<Line> lines;
  std::optional<std::uint64_t> total;
  std::string total_where, hash, hash_where;
  bool unversioned = false;
  for (const Source& s : sources) {
    std::ifstream in(s.file, std::ios::binary);
    std::string text;
    for (int number = 1; std::getline(in, text); ++number) {
      if (text.empty()) continue;
      const std::string where = s.file.string() + ":" + std::to_string(number);
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
          !j.contains("input") || !j["input"].is_string() ||
          (j.contains("record") && !j["record"].is_string()))
        refuse(ErrorCode::usage, where + ": not an index line");
      if (j.contains("shard") && s.count > 1 &&
          j["shard"] != std::to_string(s.index) + "/" + std::to_string(s.count))
        refuse(ErrorCode::usage,
               where + ": a line of shard " + j["shard"].dump() + " in the index of another shard");
      if (!j.contains("inputs") || !j["inputs"].is_number_unsigned()) {
        unversioned = true;
      } else if (!total) {
        total = j["inputs"].get<std::uint64_t>();
        total_where = where;
      } else if (*total != j["inputs"].get<std::uint64_t>()) {
        refuse(ErrorCode::usage, "mixed runs: " + total_where + " is a run of " +
                                     std::to_string(*total) + " inputs, " + where + " of " +
                                     j["inputs"].dump());
      }
      if (j.contains("options_hash")) {
        if (hash.empty()) {
          hash = j["options_hash"].dump();
          hash_where = where;
        } else if (hash != j["options_hash"].dump()) {
          refuse(ErrorCode::usage, "mixed options: " + hash_where + " and " + where +
                                       " were made with different options (options_hash); "
                                       "rerun the shards with one command");
        }
      }
      if (j.contains("record"))
        j["record"] = (s.base / j["record"].get<std::string>())
                          .lexically_normal()
                          .lexically_relative(out)
                          .generic_string();
      j.erase("shard");  // the merged index reads like an unsharded run's
      lines.push_back({j["seq"].get<std::uint64_t>(), j["input"].get<std::string>(),
                       pipeline::dump_json(j), where, j.contains("error")});
    }
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.seq < b.seq; });
  MergeSummary summary;
  std::vector<std::uint64_t> missing;
  std::uint64_t expect = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i && lines[i].seq == lines[i - 1].seq)
      refuse(ErrorCode::usage, lines[i].input + ": appears in more than one index (" +
                                   lines[i - 1].where + ", " + lines[i].where + ")");
    if (total && lines[i].seq >= *total)
      refuse(ErrorCode::usage, lines[i].where + ": seq " + std::to_string(lines[i].seq) +
                                   " outside a run of " + std::to_string(*total) + " inputs");
    for (; expect < lines[i].seq; ++expect) missing.push_back(expect);
    expect = lines[i].seq + 1;
    summary.failed += lines[i].failed;
  }
  if (total)
    for (; expect < *total; ++expect) missing.push_back(expect);
  if (!missing.empty())
    gaps.push_back(std::to_string(missing.size()) + " of " + std::to_string(*total) +
                   " inputs in no index (seq " + list_seqs(missing) + ")");
  if (unversioned)
    gaps.push_back(
        "lines without \"inputs\" (an index of an earlier camkit): completeness "
        "cannot be checked; rerun the shards (complete records are kept)");
  if (!gaps.empty()) {
    std::string all;
    for (const std::string& g : gaps) all += (all.empty() ? "" : "; ") + g;
    if (!options.allow_gaps)
      refuse(ErrorCode::input, all +
                                   ". Resubmit the missing shards (docs/batch.md), or pass "
                                   "--allow-gaps to merge what is there");
    if (options.on_note) options.on_note("note: merge: incomplete: " + all);
  }
  summary.missing = missing.size();
  std::string text;
  for (const Line& l : lines) text += l.text + "\n";
  const OutputFolder folder(out_dir);
  // After check_idle on the sources: closing the lock file there would drop this lock.
  const RunLock lock = RunLock::acquire(folder, 0, 1, options.on_note);
  folder.write("index.jsonl", text);
  summary.lines = lines.size();
  return summary;
}

}  // namespace camkit
