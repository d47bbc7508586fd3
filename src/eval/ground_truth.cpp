// Class spaces, ImageFolder labels and the ground-truth table of camkit eval.
#include <algorithm>
#include <filesystem>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

void add_unique(std::vector<int>& v, int c) {
  if (std::find(v.begin(), v.end(), c) == v.end())
    v.insert(std::upper_bound(v.begin(), v.end(), c), c);
}

int resolve(const ClassSpace& classes, const std::string& text, const std::string& where) {
  const std::optional<int> c = classes.find(text);
  if (!c)
    throw Error(ErrorCode::usage,
                where + ": unknown class '" + text + "' (" +
                    (classes.binary ? std::string("a binary model: 0/1 or ") + classes.names[0] +
                                          "/" + classes.names[1]
                                    : "an index below " + std::to_string(classes.count) +
                                          (classes.names.empty() ? "" : " or a model label")) +
                    ")");
  return *c;
}

}  // namespace

ClassSpace ClassSpace::for_model(int num_logits, const std::vector<std::string>& labels) {
  ClassSpace s;
  if (num_logits == 1) {
    s.binary = true;
    s.count = 2;
    if (labels.size() == 2)
      s.names = labels;
    else
      s.names = {"negative", labels.size() == 1 ? labels[0] : "positive"};
    return s;
  }
  s.count = num_logits;
  if (static_cast<int>(labels.size()) == num_logits) s.names = labels;
  return s;
}

std::optional<int> ClassSpace::find(const std::string& text) const {
  if (!text.empty() && text.size() < 10 &&
      std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    const int c = std::stoi(text);
    if (c < count) return c;
    return std::nullopt;
  }
  const auto it = std::find(names.begin(), names.end(), text);
  if (it == names.end()) return std::nullopt;
  return static_cast<int>(it - names.begin());
}

std::string ClassSpace::name(int c) const {
  if (c >= 0 && c < static_cast<int>(names.size())) return names[static_cast<size_t>(c)];
  return std::to_string(c);
}

std::map<std::string, int> image_folder_classes(std::vector<std::string> folders,
                                                const ClassSpace& classes) {
  std::sort(folders.begin(), folders.end());
  std::map<std::string, int> out;
  const bool all_named =
      !classes.names.empty() && !folders.empty() &&
      std::all_of(folders.begin(), folders.end(), [&](const std::string& f) {
        return std::find(classes.names.begin(), classes.names.end(), f) != classes.names.end();
      });
  if (all_named) {
    for (const std::string& f : folders) out[f] = *classes.find(f);
    return out;
  }
  if (classes.binary && folders.size() == 2 &&
      (folders[0] == classes.names[1]) != (folders[1] == classes.names[1])) {
    for (const std::string& f : folders) out[f] = f == classes.names[1] ? 1 : 0;
    return out;
  }
  if (static_cast<int>(folders.size()) > classes.count)
    throw Error(ErrorCode::usage, std::to_string(folders.size()) +
                                      " class folders, but the model has " +
                                      std::to_string(classes.count) + " classes");
  for (size_t i = 0; i < folders.size(); ++i) out[folders[i]] = static_cast<int>(i);
  return out;
}

std::vector<std::string> class_folders(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Box> GroundTruth::boxes_of(int c) const {
  std::vector<Box> out;
  for (const auto& [cls, box] : boxes)
    if (cls == c || cls < 0) out.push_back(box);
  return out;
}

std::vector<std::string> GroundTruth::masks_of(int c) const {
  std::vector<std::string> out;
  for (const auto& [cls, mask] : masks)
    if (cls == c || cls < 0) out.push_back(mask);
  return out;
}

GroundTruthTable::GroundTruthTable(ClassSpace classes, const std::string& boxes_csv,
                                   const std::string& labels_csv)
    : GroundTruthTable(std::move(classes), GroundTruthFiles{boxes_csv, labels_csv, "", false}) {}

GroundTruthTable::GroundTruthTable(ClassSpace classes, const GroundTruthFiles& files)
    : classes_(std::move(classes)) {
  const std::string& boxes_csv = files.boxes;
  std::vector<BoxRow> box_rows;
  if (!boxes_csv.empty())
    box_rows = files.volume ? read_boxes3d_csv(boxes_csv) : read_boxes_csv(boxes_csv);
  for (const BoxRow& row : box_rows) {
    GroundTruth& t = boxes_[row.path];
    const int c = row.cls.empty() ? -1 : resolve(classes_, row.cls, row.where);
    t.boxes.push_back({c, row.box});
    if (c >= 0) add_unique(t.labels, c);
  }
  if (!files.masks.empty()) {
    if (!files.volume)
      throw Error(ErrorCode::usage, files.masks + ": masks are for 3-D models (volumes)");
    for (const MaskRow& row : read_masks_csv(files.masks)) {
      GroundTruth& t = boxes_[row.path];
      const int c = row.cls.empty() ? -1 : resolve(classes_, row.cls, row.where);
      t.masks.push_back({c, row.mask});
      if (c >= 0) add_unique(t.labels, c);
    }
  }
  const std::string& labels_csv = files.labels;
  if (labels_csv.empty()) return;
  for (const LabelRow& row : read_labels_csv(labels_csv)) {
    std::vector<int>& labels = labels_[row.path];
    if (!row.cls.empty()) add_unique(labels, resolve(classes_, row.cls, row.where));
  }
}

void GroundTruthTable::add_image_folder(const std::string& dir) {
  folders_.emplace_back(normalize_path(dir), image_folder_classes(class_folders(dir), classes_));
}

GroundTruth GroundTruthTable::lookup(const std::string& path, bool need_boxes) const {
  const std::string key = normalize_path(path);
  used_.insert(key);
  GroundTruth truth;
  const auto boxed = boxes_.find(key);
  if (boxed != boxes_.end()) truth = boxed->second;  // labels: the boxes' tags
  const auto listed = labels_.find(key);
  const bool listed_without_class = listed != labels_.end() && listed->second.empty();
  if (listed != labels_.end()) {
    truth.labels = listed->second;
  } else {
    for (const auto& [dir, mapping] : folders_) {
      const fs::path rel = fs::path(key).lexically_relative(dir);
      if (rel.empty() || std::distance(rel.begin(), rel.end()) < 2) continue;
      const auto cls = mapping.find(rel.begin()->string());
      if (cls == mapping.end()) continue;
      truth.labels = {cls->second};
      break;
    }
  }
  if (truth.labels.empty() && !listed_without_class)
    throw Error(ErrorCode::input, path + ": no label");
  // Binary negatives need no boxes; positives may lack them.
  if (classes_.binary || !need_boxes) return truth;
  if (truth.boxes.empty() && truth.masks.empty())
    throw Error(ErrorCode::input, path + ": no boxes");
  for (int c : truth.labels)
    if (truth.boxes_of(c).empty() && truth.masks_of(c).empty())
      throw Error(ErrorCode::input, path + ": no boxes for class '" + classes_.name(c) + "'");
  return truth;
}

std::vector<std::string> GroundTruthTable::unused_paths() const {
  std::set<std::string> out;
  for (const auto& entry : boxes_)
    if (!used_.count(entry.first)) out.insert(entry.first);
  for (const auto& entry : labels_)
    if (!used_.count(entry.first)) out.insert(entry.first);
  return {out.begin(), out.end()};
}

}  // namespace camkit
