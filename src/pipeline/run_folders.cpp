#include "pipeline/run_folders.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "pipeline/stages.hpp"

namespace camkit::pipeline {
namespace {

namespace fs = std::filesystem;

// The picture folders inside a case folder: slices, cams, cams.<class>.
void add_case_folders(const OutputFolder& out, const std::string& case_dir,
                      std::set<std::string>& dirs) {
  int fd = -1;
  try {
    fd = out.open_folder(case_dir, false);
  } catch (const std::exception&) {
    return;  // a name that leaves the folder fails when written, not here
  }
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "slices" || name == "cams" || name.rfind("cams.", 0) == 0)
      dirs.insert((fs::path(case_dir) / name).generic_string());
  }
  ::closedir(d);
}

}  // namespace

std::size_t remove_run_temporaries(const OutputFolder& out,
                                   const std::vector<PipelineInput>& inputs, bool volumes) {
  std::set<std::string> dirs{""};
  for (const PipelineInput& in : inputs) {
    const fs::path record(record_relative(in));
    dirs.insert(record.parent_path().generic_string());
    if (!volumes) continue;
    const std::string case_dir = (record.parent_path() / record.stem()).generic_string();
    if (dirs.insert(case_dir).second) add_case_folders(out, case_dir, dirs);
  }
  std::size_t removed = 0;
  for (const std::string& dir : dirs) removed += out.remove_stale_temporaries(dir);
  return removed;
}

}  // namespace camkit::pipeline
