#include "cli/limit_flags.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace camkit::cli {

void add_limit_flags(CLI::App* cmd, ReadOptions& options) {
  const std::map<std::string, std::uint64_t> decimal{
      {"k", 1'000}, {"m", 1'000'000}, {"g", 1'000'000'000}};
  cmd->add_option("--max-file-size", options.max_file_bytes,
                  "Largest input file read, in bytes (suffixes K, M, G: powers of 1024)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--max-pixels", options.max_pixels,
                  "Largest picture (width x height of an image, array or DICOM frame), checked "
                  "in its header before decoding (suffixes K, M, G: powers of 1000)")
      ->transform(CLI::AsNumberWithUnit(decimal, CLI::AsNumberWithUnit::CASE_INSENSITIVE))
      ->capture_default_str();
  cmd->add_option("--max-slices", options.max_slices,
                  "Most frames of a DICOM file, slices of a .npy volume, files of a DICOM series")
      ->capture_default_str();
  cmd->add_option("--max-decoded-size", options.max_decoded_bytes,
                  "Most bytes of float32 samples one .npy array or DICOM file or series decodes "
                  "to (suffixes K, M, G: powers of 1024)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
}

}  // namespace camkit::cli
