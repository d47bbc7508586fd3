// The parser of the metadata a model carries (camkit.json inside the TorchScript file;
// src/model/metadata.cpp, which is free of LibTorch and compiled into this harness directly) on
// arbitrary text. Any camkit::Error is an expected outcome.
#include <cstddef>
#include <cstdint>
#include <string>

#include "camkit/error.hpp"
#include "model/metadata.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    camkit::detail::parse_metadata(text, "fuzz.pt");
  } catch (const camkit::Error&) {
  }
  return 0;
}
