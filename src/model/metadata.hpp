// Parsing the camkit metadata embedded in a TorchScript file ("camkit.json"; docs/export.md).
#pragma once

#include <string>

#include "camkit/model.hpp"

namespace camkit::detail {

/// Name of the TorchScript extra file that holds camkit's metadata.
inline constexpr const char* kMetadataFile = "camkit.json";

/// Parses the metadata text; throws Error(ErrorCode::model) naming `path` when it is invalid.
ModelMetadata parse_metadata(const std::string& text, const std::string& path);

}  // namespace camkit::detail
