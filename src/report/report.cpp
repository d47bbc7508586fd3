// write_report: finds the records, makes display copies of the inputs, writes index.html.
#include "camkit/report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "camkit/output.hpp"
#include "report/page.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;
using report::Record;

const char* const kAssets = "_report";  // display copies live here, under the report directory

bool is_json_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".json";
}

// Every *.json under root except those in root/_report, relative to root, sorted.
std::vector<fs::path> find_json(const fs::path& root) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() == 0 && it->path().filename() == kAssets) {
      it.disable_recursion_pending();
      continue;
    }
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && is_json_name(it->path()))
      found.push_back(it->path().lexically_relative(root));
  }
  if (ec) throw Error(ErrorCode::input, root.string() + ": cannot list: " + ec.message());
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return a.generic_string() < b.generic_string();
  });
  return found;
}

// The parsed file; throws Error(input) for one that cannot be read or parsed.
nlohmann::json load_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) throw Error(ErrorCode::input, "cannot read");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    const auto close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
    throw Error(ErrorCode::input, "invalid JSON: " + what);
  }
}

// The input as recorded: from the current directory, else from the report directory's parent.
std::optional<fs::path> find_input(const std::string& input, const fs::path& root) {
  std::error_code ec;
  const fs::path p(input);
  std::vector<fs::path> candidates{p};
  if (p.is_relative()) {
    fs::path dir = fs::absolute(root, ec).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();  // "out/" normalises with a trailing '/'
    candidates.push_back(dir.parent_path() / p);
  }
  for (const fs::path& c : candidates)
    if (fs::exists(c, ec)) return c;
  return std::nullopt;
}

// Writes root/_report/<record path>.png; fills input_src, or input_note on failure.
bool add_display_copy(Record& r, const fs::path& root, const ReportOptions& opt) {
  const std::optional<fs::path> input = find_input(r.input, root);
  if (!input) {
    r.input_note = "input not found: " + r.input;
    return false;
  }
  Rgb8 picture;
  try {
    const Image image = read_input(input->string());
    picture = shrink_to_fit(to_rgb8(image, opt.image_colormap), opt.max_image_side);
  } catch (const Error& e) {
    r.input_note = std::string("input not shown: ") + e.what();
    return false;
  }
  const std::string rel = std::string(kAssets) + "/" + r.path.substr(0, r.path.size() - 5) + ".png";
  write_file_atomic((root / rel).string(), encode_png(picture, 6));
  r.input_src = report::url_path(rel);
  return true;
}

// A picture the record names (relative to the record's folder) as a URL relative to
// index.html, or "" when the file is not there or not under DIR.
std::string picture_src(const std::string& name, const fs::path& record_dir, const fs::path& root) {
  const fs::path p(name);
  std::error_code ec;
  const fs::path rel =
      p.is_absolute() ? fs::relative(p, root, ec) : (record_dir / p).lexically_normal();
  // A picture outside DIR counts as missing: the page must keep working when DIR is moved.
  if (ec || rel.empty() || *rel.begin() == "..") return "";
  if (!fs::is_regular_file(root / rel, ec)) return "";
  return report::url_path(rel.generic_string());
}

// Fills the overlay, slice and heat-map URLs; returns how many named pictures are missing.
int resolve_pictures(Record& r, const fs::path& root) {
  const fs::path record_dir = fs::path(r.path).parent_path();
  int missing = 0;
  auto resolve = [&](const std::vector<std::string>& names, std::vector<std::string>& srcs) {
    for (const std::string& n : names) {
      srcs.push_back(picture_src(n, record_dir, root));
      if (srcs.back().empty()) ++missing;
    }
  };
  auto resolve_one = [&](const std::string& name, std::string& src) {
    if (name.empty()) return;
    src = picture_src(name, record_dir, root);
    if (src.empty()) ++missing;
  };
  for (report::ExplainedClass& e : r.explanations) {
    if (!e.overlay.empty()) e.overlay_src = picture_src(e.overlay, record_dir, root);
    resolve(e.cams, e.cam_srcs);
    if (r.volume3d)
      for (std::size_t a = 0; a < 3; ++a) resolve_one(e.mosaics[a], e.mosaic_srcs[a]);
  }
  if (r.volume) resolve(r.volume->slice_images, r.volume->slice_srcs);
  if (r.volume3d)
    for (report::MosaicAxis& a : r.volume3d->axes) resolve_one(a.file, a.src);
  return missing;
}

}  // namespace

ReportSummary write_report(const std::string& dir, const ReportOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorCode::usage,
                dir + (fs::exists(dir, ec) ? ": not a directory" : ": no such directory"));
  if (options.max_image_side < 16)
    throw Error(ErrorCode::usage, "report: max_image_side must be at least 16");
  const fs::path root(dir);
  ReportSummary summary;
  std::vector<Record> records;
  std::vector<report::Faithfulness> faithfulness;
  for (const fs::path& rel : find_json(root)) {
    const std::string name = rel.generic_string();
    try {
      const nlohmann::json json = load_json(root / rel);
      if (!report::is_record(json)) {
        // `camkit eval --faithfulness --json` output saved next to the maps (docs/report.md).
        if (auto f = report::parse_faithfulness(json)) {
          f->source = name;
          faithfulness.push_back(std::move(*f));
        }
        continue;
      }
      Record r = report::parse_record(json);
      r.path = name;
      records.push_back(std::move(r));
    } catch (const Error& e) {
      summary.errors.push_back((root / rel).string() + ": " + e.what());
    }
  }
  // camkit eval --sanity's result, shown above the records (or alone).
  std::string sanity;
  if (fs::is_regular_file(root / "sanity.json", ec)) {
    try {
      std::ifstream in(root / "sanity.json", std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      sanity = report::render_sanity(nlohmann::json::parse(text.str()), dir);
    } catch (const std::exception& e) {
      summary.errors.push_back((root / "sanity.json").string() + ": " + e.what());
    }
  }
  if (records.empty() && sanity.empty()) {
    std::string message = dir + ": no camkit records found";
    if (!summary.errors.empty())
      message = dir + ": no readable camkit records (" + summary.errors.front() +
                (summary.errors.size() > 1
                     ? "; and " + std::to_string(summary.errors.size() - 1) + " more"
                     : "") +
                ")";
    throw Error(ErrorCode::input, message);
  }
  for (Record& r : records) {
    summary.missing_pictures += resolve_pictures(r, root);
    // A volume's slices are already pictures; its input (a 3-D array) has no single display copy.
    if (r.volume) {
      ++summary.volumes;
      if (r.volume->case_id.empty()) r.volume->case_id = r.path.substr(0, r.path.size() - 5);
    } else if (r.volume3d) {
      ++summary.volumes;  // the 3-D viewer shows its slices from the mosaics explain wrote
    } else if (!add_display_copy(r, root, options)) {
      ++summary.missing_inputs;
    }
    summary.explanations += static_cast<int>(r.explanations.size());
  }
  summary.records = static_cast<int>(records.size());

  report::PageInfo info;
  info.title = options.title;
  info.lazy = summary.records - summary.volumes > options.lazy_after;  // only cards have <img>s
  info.skipped = summary.errors;
  info.missing_inputs = summary.missing_inputs;
  info.missing_pictures = summary.missing_pictures;
  info.faithfulness = std::move(faithfulness);
  info.sections = sanity;
  summary.index = (root / "index.html").string();
  write_file_atomic(summary.index, report::render_page(records, info));
  return summary;
}

}  // namespace camkit
