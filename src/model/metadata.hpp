// Parsing and checking the camkit metadata embedded in a TorchScript file ("camkit.json";
// docs/export.md). Private to the model area.
#pragma once

#include <string>

#include "camkit/model.hpp"

namespace camkit::detail {

/// Name of the TorchScript extra file that holds camkit's metadata.
inline constexpr const char* kMetadataFile = "camkit.json";
/// The metadata version this camkit reads; others are rejected.
inline constexpr int kMetadataVersion = 1;

/// Parses and validates the metadata text on its own terms (version, types, finite non-zero
/// std, one mean/std value or one per channel, bounded sizes, known task and volume); throws
/// Error(ErrorCode::model) naming `path` and the field when it is invalid.
ModelMetadata parse_metadata(const std::string& text, const std::string& path);

/// The declared input channels against the first convolution's (0 = unknown); before any run.
void check_metadata_input(const ModelMetadata& meta, int input_channels, const std::string& path);

/// Checks the metadata against the model itself: input channels against the first
/// convolution (0 = unknown), num_classes and label count against the logits, the task
/// against the logit count. Throws Error(ErrorCode::model) naming `path` and the field.
void check_metadata(const ModelMetadata& meta, int input_channels, int num_classes, Task task,
                    const std::string& path);

}  // namespace camkit::detail
