#include "cli/inputs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

#include "camkit/error.hpp"
#include "io/file_bytes.hpp"
#include "camkit/image.hpp"
#include "camkit/output_folder.hpp"

namespace camkit::cli {
namespace {

namespace fs = std::filesystem;

using FileId = std::pair<dev_t, ino_t>;

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool is_dicom_name(const fs::path& p) {
  const std::string ext = lower_extension(p);
  return ext == ".dcm" || ext == ".dicom";
}

// What a walk knows of an entry: its type after following a link, and whether it was one.
struct Entry {
  fs::path path;
  std::string name;
  bool link = false, exists = false;
  struct stat st {};
  bool dir() const { return exists && S_ISDIR(st.st_mode); }
  bool regular() const { return exists && S_ISREG(st.st_mode); }
};

Entry inspect(const fs::path& dir, const std::string& name) {
  Entry e;
  e.path = dir / name;
  e.name = name;
  struct stat lst {};
  if (::lstat(e.path.c_str(), &lst) != 0) return e;
  e.link = S_ISLNK(lst.st_mode);
  e.exists = e.link ? ::stat(e.path.c_str(), &e.st) == 0 : true;
  if (!e.link) e.st = lst;
  return e;
}

// The names in `dir`, sorted; `error` set when it cannot be listed (fully).
std::vector<std::string> names_in(const fs::path& dir, std::error_code* error = nullptr) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    out.push_back(it->path().filename().string());
  if (error) *error = ec;
  std::sort(out.begin(), out.end());
  return out;
}

// An input by its extension, or a regular file without one that starts like DICOM (scanners
// write "IM0001"). Only regular files are opened: a FIFO would block the walk.
bool is_input(const Entry& e) {
  if (is_supported_input(e.name)) return true;
  return e.regular() && !fs::path(e.name).has_extension() && is_dicom_file(e.path.string());
}

bool is_dicom(const Entry& e) {
  return e.regular() && (is_dicom_name(e.name) ||
                         (!fs::path(e.name).has_extension() && is_dicom_file(e.path.string())));
}

// A camkit output folder: it holds the lock file every run and merge creates.
bool holds_lock_file(const fs::path& dir) {
  struct stat st {};
  return ::lstat((dir / kLockFileName).c_str(), &st) == 0;
}

// `dir` holds class sub-folders and no input of its own (torchvision's ImageFolder layout).
bool is_image_folder(const fs::path& dir) {
  bool has_sub = false;
  for (const std::string& name : names_in(dir)) {
    const Entry e = inspect(dir, name);
    if (e.dir())
      has_sub = true;
    else if (e.exists && is_input(e))
      return false;
  }
  return has_sub;
}

// The name an argument folder's own outputs take: its last component as written
// ("scans/study/" -> "study"; "." -> the current folder's name).
std::string folder_name(const std::string& arg) {
  const fs::path a = fs::absolute(arg).lexically_normal();
  std::string s = a.filename().string();
  if (s.empty()) s = a.parent_path().filename().string();
  return s.empty() ? std::string("root") : s;
}

class Walker {
 public:
  Walker(const WalkOptions& o, std::vector<InputFile>& out) : o_(o), out_(out) {
    struct stat st {};
    if (!o.out_dir.empty() && ::stat(o.out_dir.c_str(), &st) == 0) out_id_ = {st.st_dev, st.st_ino};
  }

  // A directory argument (or listed directory) whose outputs go below `prefix`.
  void argument(const std::string& arg, const fs::path& prefix) {
    const fs::path dir(arg);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return;
    visited_.clear();
    visited_.insert({st.st_dev, st.st_ino});
    root_ = arg;
    prefix_ = prefix;
    image_folder_ = is_image_folder(dir);
    own_name_ = prefix.empty() ? folder_name(arg) : prefix.generic_string();
    found_.clear();
    links_.clear();
    walk(dir, fs::path());
    // Linked folders after the whole tree, so a link to a folder of the tree never takes that
    // folder's names; each target once.
    while (!links_.empty()) {
      const auto [path, rel] = links_.front();
      links_.erase(links_.begin());
      enter(inspect(path.parent_path(), path.filename().string()), rel);
    }
    std::sort(found_.begin(), found_.end(),
              [](const InputFile& a, const InputFile& b) { return a.relative < b.relative; });
    out_.insert(out_.end(), found_.begin(), found_.end());
  }

 private:
  void note(const std::string& text) const {
    if (o_.note) o_.note("note: " + text);
  }

  void enter(const Entry& e, const fs::path& rel) {
    if (!e.dir()) return;
    const FileId id{e.st.st_dev, e.st.st_ino};
    if (out_id_ && id == *out_id_) {
      note(e.path.string() + ": skipped: it is the output folder");
    } else if (holds_lock_file(e.path)) {
      note(e.path.string() + ": skipped: a camkit output folder (" + kLockFileName + ")");
    } else if (!visited_.insert(id).second) {
      note(e.path.string() + (e.link ? ": symbolic link to a folder already walked (a loop or "
                                       "a second link): not followed"
                                     : ": folder already walked: skipped"));
    } else {
      walk(e.path, rel);
    }
  }

  // `sub`: the folder's path relative to the argument.
  void walk(const fs::path& dir, const fs::path& sub) {
    std::vector<std::string> series;
    std::error_code listed;
    const std::vector<std::string> names = names_in(dir, &listed);
    if (listed)  // an unreadable folder's files cannot be inputs; say so rather than drop them
      note(dir.string() + ": cannot list the folder (" + listed.message() + "): not walked");
    for (const std::string& name : names) {
      const Entry e = inspect(dir, name);
      const fs::path rel = sub / name;
      if (e.dir()) {
        if (e.link)
          links_.emplace_back(e.path, rel);
        else
          enter(e, rel);
        continue;
      }
      if (o_.volumes && is_dicom(e)) {
        // Multi-frame files are exams of their own; single-frame files make the folder's
        // series. A file whose header cannot be read fails alone, named.
        bool alone = true;
        try {
          alone = read_dicom_summary(e.path.string()).frames > 1;
        } catch (const Error&) {
        }
        if (!alone) {
          series.push_back(e.path.string());
          continue;
        }
      }
      // A dangling link with an input's name is listed, so that it fails with its reason.
      if ((!e.link || e.exists) ? is_input(e) : is_supported_input(name)) add(e.path, rel);
    }
    if (!series.empty()) {
      InputFile in{dir.string(), sub.empty() ? own_name_ : (prefix_ / sub).generic_string(), "", "",
                   std::move(series)};
      found_.push_back(std::move(in));
    }
  }

  void add(const fs::path& path, const fs::path& rel) {
    InputFile in{path.string(), (prefix_ / rel).generic_string(), "", "", {}};
    if (image_folder_) {
      in.root = root_;
      in.class_folder = rel.begin()->string();
    }
    found_.push_back(std::move(in));
  }

  const WalkOptions& o_;
  std::vector<InputFile>& out_;
  std::optional<FileId> out_id_;
  std::set<FileId> visited_;
  std::vector<std::pair<fs::path, fs::path>> links_;  // linked folders still to enter
  std::string root_, own_name_;
  fs::path prefix_;
  bool image_folder_ = false;
  std::vector<InputFile> found_;
};

// A list file larger than this is not a list of inputs (a million paths fit in 256 MiB).
constexpr std::uint64_t kMaxListBytes = 256ULL << 20;

void add_list(const std::string& list, Walker& walker, std::vector<InputFile>& out) {
  // Read like any input: a FIFO or /dev/zero given as a list fails at once instead of hanging.
  std::vector<unsigned char> bytes;
  try {
    bytes = io::read_file_bytes(list, kMaxListBytes);
  } catch (const Error& e) {
    throw Error(ErrorCode::usage, "@" + std::string(e.what()));
  }
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
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
      if (!(rel.empty() && part == "..") && part != ".") rel /= part;
    std::error_code ec;
    if (fs::is_directory(full, ec))
      walker.argument(full.string(), rel);
    else
      out.push_back({full.string(), rel.generic_string(), "", "", {}});
  }
}

}  // namespace

std::vector<InputFile> expand_inputs(const std::vector<std::string>& arguments,
                                     const WalkOptions& options) {
  std::vector<InputFile> out;
  Walker walker(options, out);
  for (const std::string& arg : arguments) {
    std::error_code ec;
    if (arg.size() > 1 && arg[0] == '@' && !fs::exists(arg, ec)) {
      add_list(arg.substr(1), walker, out);
    } else if (fs::is_directory(arg, ec)) {
      walker.argument(arg, "");
    } else {
      out.push_back({arg, fs::path(arg).filename().string(), "", "", {}});
    }
  }
  return out;
}

}  // namespace camkit::cli
