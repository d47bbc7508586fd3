#include "cli/inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "camkit/error.hpp"
#include "camkit/image.hpp"

namespace camkit::cli {
namespace {

namespace fs = std::filesystem;

// An input by its extension, or a DICOM file without one (scanners often write "IM0001").
bool is_input_file(const fs::path& p) {
  return is_supported_input(p.string()) || (!p.has_extension() && is_dicom_file(p.string()));
}

// `dir` holds class sub-folders and no input of its own (torchvision's ImageFolder layout).
bool is_image_folder(const fs::path& dir) {
  std::error_code ec;
  bool has_sub = false;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec))
      has_sub = true;
    else if (it->is_regular_file(ec) && is_input_file(it->path()))
      return false;
  }
  return has_sub;
}

bool is_dicom_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".dcm" || ext == ".dicom";
}

// A folder holding DICOM files directly: one series, read as one volume.
bool is_series_folder(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (is_dicom_name(it->path()) ||
        (!it->path().has_extension() && is_dicom_file(it->path().string())))
      return true;
  }
  return false;
}

void add_directory(const fs::path& dir, const fs::path& prefix, std::vector<InputFile>& out,
                   bool volumes) {
  std::error_code ec;
  if (volumes && is_series_folder(dir)) {
    out.push_back({dir.string(), (prefix.empty() ? dir.filename() : prefix).string(), "", ""});
    return;
  }
  const bool folder = is_image_folder(dir);
  std::vector<InputFile> found;
  for (auto it = fs::recursive_directory_iterator(
           dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (volumes && it->is_directory(ec) && is_series_folder(it->path())) {
      const fs::path rel = fs::relative(it->path(), dir);
      found.push_back({it->path().string(), (prefix / rel).string(), "", ""});
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || !is_input_file(it->path())) continue;
    const fs::path rel = fs::relative(it->path(), dir);
    InputFile in{it->path().string(), (prefix / rel).string(), "", ""};
    if (folder) {
      in.root = dir.string();
      in.class_folder = rel.begin()->string();
    }
    found.push_back(std::move(in));
  }
  std::sort(found.begin(), found.end(),
            [](const InputFile& a, const InputFile& b) { return a.relative < b.relative; });
  out.insert(out.end(), found.begin(), found.end());
}

void add_list(const std::string& list, std::vector<InputFile>& out, bool volumes) {
  std::ifstream in(list);
  if (!in) throw Error(ErrorCode::usage, "@" + list + ": cannot read the list file");
  const fs::path base = fs::path(list).parent_path();
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find_first_not_of(" \t\r");
    if (a == std::string::npos || line[a] == '#') continue;
    const std::string entry = line.substr(a, line.find_last_not_of(" \t\r") + 1 - a);
    const fs::path p(entry);
    const fs::path full = p.is_absolute() ? p : base / p;
    // Outputs stay inside the output folder: leading ".." components are dropped.
    fs::path rel;
    for (const fs::path& part : p.is_absolute() ? p.filename() : p.lexically_normal())
      if (!(rel.empty() && part == "..")) rel /= part;
    std::error_code ec;
    if (fs::is_directory(full, ec))
      add_directory(full, rel, out, volumes);
    else
      out.push_back({full.string(), rel.string(), "", ""});
  }
}

}  // namespace

std::vector<InputFile> expand_inputs(const std::vector<std::string>& arguments, bool volumes) {
  std::vector<InputFile> out;
  for (const std::string& arg : arguments) {
    std::error_code ec;
    if (arg.size() > 1 && arg[0] == '@' && !fs::exists(arg, ec)) {
      add_list(arg.substr(1), out, volumes);
    } else if (fs::is_directory(arg, ec)) {
      add_directory(arg, "", out, volumes);
    } else {
      out.push_back({arg, fs::path(arg).filename().string(), "", ""});
    }
  }
  return out;
}

}  // namespace camkit::cli
