// Expanding command-line input arguments (files and directories) into a list of inputs.
#pragma once

#include <string>
#include <vector>

namespace camkit::cli {

struct InputFile {
  std::string path;      ///< as found (argument, or argument joined with the walked path)
  std::string relative;  ///< output location: path relative to the directory argument, or the
                         ///< file name for a file argument
};

/// Files as given; directories walked recursively (sorted, supported extensions only).
/// Arguments that do not exist are returned as inputs too, so that reading them reports the error
/// in order with the others.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& arguments);

}  // namespace camkit::cli
