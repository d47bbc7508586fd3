// The index of a run, written like every other output: this run's lines go to a camkit
// temporary (the journal) as inputs commit, and the index is replaced by rename only, so a
// killed run never leaves a shorter index than the one it found. Private to the pipeline.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "camkit/output_folder.hpp"
#include "camkit/pipeline.hpp"

namespace camkit::pipeline {

class IndexJournal {
 public:
  /// `inputs`: this run's list (positions in seq order), whose lines will be appended in order.
  /// Throws Error(usage) when the journal cannot be created in `out`.
  IndexJournal(const OutputFolder& out, std::string name, const std::vector<PipelineInput>& inputs,
               double interval_seconds);
  /// Unless finished: rewrites the index one last time (best effort) and drops the journal.
  ~IndexJournal();
  IndexJournal(const IndexJournal&) = delete;
  IndexJournal& operator=(const IndexJournal&) = delete;

  /// The line (ending in '\n') of the next input. Every interval, the index is rewritten as the
  /// journal followed by the found index's lines of the inputs not committed yet (same seq and
  /// input only). Throws Error(usage) when the journal cannot be written.
  void append(const std::string& line);

  /// The index becomes exactly the journal (one line per input of the run), by rename.
  void finish();

  /// Rewrites the index now (see append). Throws Error(usage) on failure.
  void snapshot();

 private:
  const OutputFolder& out_;
  const std::string name_, journal_;
  const std::vector<PipelineInput>& inputs_;
  int fd_ = -1;
  std::size_t committed_ = 0;
  std::size_t bytes_ = 0;
  bool finished_ = false;
  double base_interval_, interval_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace camkit::pipeline
