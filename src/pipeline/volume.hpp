// Exams (volumes) through the pipeline: one case folder per input. Private to the pipeline.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "camkit/output_folder.hpp"
#include "camkit/pipeline.hpp"

namespace camkit::pipeline {

/// Appends one line to the run's index.
using IndexWriter = std::function<void(const std::string& line)>;

/// Explains every input as one exam (options.volume set), in order: per case the record
/// "<parent>/<stem>.json" and the folder "<parent>/<stem>/" with slices/NNN.png, cams/NNN.png
/// (cams.<class>/ for further classes) and raw.<class>.npy (docs/volumes.md). Complete cases
/// with the same options hash are skipped unless options.overwrite. Every file goes through
/// `out`. An exam's failure (bad input, out of memory, a file that cannot be written, an
/// unexpected exception) is reported through on_error and counted; model and usage errors throw.
PipelineSummary run_volumes(const Model& model, const std::vector<PipelineInput>& inputs,
                            const PipelineOptions& options, const OutputFolder& out,
                            const IndexWriter& index);

}  // namespace camkit::pipeline
