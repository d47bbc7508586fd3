// Exams (volumes) through the pipeline: one case folder per input. Private to the pipeline.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "camkit/pipeline.hpp"

namespace camkit::pipeline {

/// Appends one line to the run's index.
using IndexWriter = std::function<void(const std::string& line)>;

/// Explains every input as one exam (options.volume set), in order: per case the record
/// "<parent>/<stem>.json" and the folder "<parent>/<stem>/" with slices/NNN.png, cams/NNN.png
/// (cams.<class>/ for further classes) and raw.<class>.npy (docs/volumes.md). Complete cases
/// with the same options hash are skipped unless options.overwrite. Bad inputs are reported
/// through on_error and counted; other errors throw.
PipelineSummary run_volumes(const Model& model, const std::vector<PipelineInput>& inputs,
                            const PipelineOptions& options, const IndexWriter& index);

}  // namespace camkit::pipeline
