// The folders a run writes into, for the start-of-run clean-up. Private to the pipeline.
#pragma once

#include <cstddef>
#include <vector>

#include "camkit/output_folder.hpp"
#include "camkit/pipeline.hpp"

namespace camkit::pipeline {

/// Removes stale camkit temporaries (OutputFolder::remove_stale_temporaries) from exactly the
/// folders this run's outputs go to: the output folder itself, each record's folder and, for
/// exams, each case folder with its slices/, cams/ and cams.<class>/. Nothing else is listed,
/// so a user's files elsewhere under (or above) the output folder are never looked at.
std::size_t remove_run_temporaries(const OutputFolder& out,
                                   const std::vector<PipelineInput>& inputs, bool volumes);

}  // namespace camkit::pipeline
