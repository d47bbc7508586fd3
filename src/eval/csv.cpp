// Boxes and labels CSV files for camkit eval.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"
#include "camkit/image.hpp"
#include "io/file_bytes.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (end != begin + text.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  return v;
}

struct Line {
  std::vector<std::string> fields;
  std::string where;
};

// The file's bytes through io's bounded reader: a FIFO or a device given as a CSV fails at once
// instead of blocking or growing without end. Its errors are usage errors here: the CSV is an
// argument of the command, not one of its inputs. An empty file is an empty table.
std::string csv_text(const std::string& file) {
  try {
    const std::vector<unsigned char> bytes =
        io::read_file_bytes(file, ReadOptions().max_file_bytes);
    return std::string(bytes.begin(), bytes.end());
  } catch (const Error& e) {
    if (std::string(e.what()) == file + ": empty file") return {};
    throw Error(ErrorCode::usage, e.what());
  }
}

// Every non-blank line of a CSV file, split; a UTF-8 BOM and CR line ends are dropped.
std::vector<Line> read_csv(const std::string& file) {
  const std::string all = csv_text(file);
  std::vector<Line> lines;
  std::size_t start = 0;
  for (int number = 1; start < all.size(); ++number) {
    std::size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    std::string text = all.substr(start, end - start);
    start = end + 1;
    if (number == 1 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (trim(text).empty()) continue;
    const std::string where = file + ":" + std::to_string(number);
    lines.push_back({split_csv_line(text, where), where});
  }
  return lines;
}

std::string folder_of(const std::string& file) {
  return fs::absolute(fs::path(file)).parent_path().string();
}

}  // namespace

std::string normalize_path(const std::string& path, const std::string& base) {
  fs::path p(path);
  if (p.is_relative()) p = (base.empty() ? fs::current_path() : fs::path(base)) / p;
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(p, ec);
  if (ec) canonical = p;
  return canonical.lexically_normal().string();
}

std::vector<std::string> split_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"' && trim(field).empty()) {
      quoted = was_quoted = true;
      field.clear();
    } else if (c == ',') {
      fields.push_back(was_quoted ? field : trim(field));
      field.clear();
      was_quoted = false;
    } else if (!(was_quoted && (c == ' ' || c == '\t'))) {
      field += c;
    }
  }
  if (quoted) throw Error(ErrorCode::usage, where + ": unterminated quote");
  fields.push_back(was_quoted ? field : trim(field));
  return fields;
}

namespace {

// The coordinates of row i of a boxes CSV: n numbers after the path, then an optional class;
// nullopt for a header (a first line without any number).
std::optional<std::vector<double>> box_coordinates(const Line& line, size_t i, size_t n,
                                                   const std::string& layout) {
  const auto& f = line.fields;
  if (f.size() != n + 1 && f.size() != n + 2)
    throw Error(ErrorCode::usage, line.where + ": expected " + layout + ", got " +
                                      std::to_string(f.size()) + " fields");
  std::vector<double> v(n);
  size_t numeric = 0;
  for (size_t k = 0; k < n; ++k) {
    const std::optional<double> x = parse_number(f[k + 1]);
    numeric += x.has_value();
    v[k] = x.value_or(0);
  }
  if (i == 0 && numeric == 0) return std::nullopt;
  if (numeric != n)
    throw Error(ErrorCode::usage, line.where + ": coordinates must be finite numbers");
  if (f[0].empty()) throw Error(ErrorCode::usage, line.where + ": empty path");
  return v;
}

}  // namespace

std::vector<BoxRow> read_boxes_csv(const std::string& file) {
  const std::vector<Line> lines = read_csv(file);
  const std::string base = folder_of(file);
  std::vector<BoxRow> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const std::optional<std::vector<double>> c =
        box_coordinates(line, i, 4, "path,x0,y0,x1,y1[,class]");
    if (!c) continue;
    const std::vector<double>& v = *c;
    if (!(v[2] > v[0]) || !(v[3] > v[1]))
      throw Error(ErrorCode::usage, line.where + ": empty box (needs x0 < x1 and y0 < y1)");
    BoxRow row;
    row.path = normalize_path(line.fields[0], base);
    row.box = {v[0], v[1], v[2], v[3]};
    if (line.fields.size() == 6) row.cls = line.fields[5];
    row.where = line.where;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<BoxRow> read_boxes3d_csv(const std::string& file) {
  const std::vector<Line> lines = read_csv(file);
  const std::string base = folder_of(file);
  std::vector<BoxRow> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const std::optional<std::vector<double>> c =
        box_coordinates(line, i, 6, "path,z0,y0,x0,z1,y1,x1[,class] (a 3-D model's boxes)");
    if (!c) continue;
    const std::vector<double>& v = *c;
    if (!(v[3] > v[0]) || !(v[4] > v[1]) || !(v[5] > v[2]))
      throw Error(ErrorCode::usage,
                  line.where + ": empty box (needs z0 < z1, y0 < y1 and x0 < x1)");
    BoxRow row;
    row.path = normalize_path(line.fields[0], base);
    row.box.z0 = v[0], row.box.y0 = v[1], row.box.x0 = v[2];
    row.box.z1 = v[3], row.box.y1 = v[4], row.box.x1 = v[5];
    if (line.fields.size() == 8) row.cls = line.fields[7];
    row.where = line.where;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<MaskRow> read_masks_csv(const std::string& file) {
  const std::vector<Line> lines = read_csv(file);
  const std::string base = folder_of(file);
  std::vector<MaskRow> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const auto& f = line.fields;
    if (f.size() != 2 && f.size() != 3)
      throw Error(ErrorCode::usage, line.where + ": expected path,mask[,class], got " +
                                        std::to_string(f.size()) + " fields");
    if (i == 0 && f[0] == "path" && f[1] == "mask") continue;  // header
    if (f[0].empty() || f[1].empty()) throw Error(ErrorCode::usage, line.where + ": empty path");
    rows.push_back({normalize_path(f[0], base), normalize_path(f[1], base),
                    f.size() == 3 ? f[2] : std::string(), line.where});
  }
  return rows;
}

std::vector<LabelRow> read_labels_csv(const std::string& file) {
  const std::vector<Line> lines = read_csv(file);
  const std::string base = folder_of(file);
  std::vector<LabelRow> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const auto& f = line.fields;
    if (f.size() != 2)
      throw Error(ErrorCode::usage, line.where + ": expected path,class, got " +
                                        std::to_string(f.size()) + " fields");
    if (i == 0 && f[0] == "path" && (f[1] == "class" || f[1] == "label")) continue;
    // An empty class lists an image without any label (a multi-label image with no finding).
    if (f[0].empty()) throw Error(ErrorCode::usage, line.where + ": empty path");
    rows.push_back({normalize_path(f[0], base), f[1], line.where});
  }
  return rows;
}

}  // namespace camkit
