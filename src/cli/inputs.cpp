#include "cli/inputs.hpp"

#include <algorithm>
#include <filesystem>

#include "camkit/image.hpp"

namespace camkit::cli {

std::vector<InputFile> expand_inputs(const std::vector<std::string>& arguments) {
  namespace fs = std::filesystem;
  std::vector<InputFile> out;
  for (const std::string& arg : arguments) {
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      out.push_back({arg, fs::path(arg).filename().string()});
      continue;
    }
    std::vector<InputFile> found;
    for (auto it = fs::recursive_directory_iterator(
             arg, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec) || !is_supported_input(it->path().string())) continue;
      found.push_back({it->path().string(), fs::relative(it->path(), arg).string()});
    }
    std::sort(found.begin(), found.end(),
              [](const InputFile& a, const InputFile& b) { return a.relative < b.relative; });
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace camkit::cli
