// Reading camkit records (the JSON that `camkit explain` writes) for the report.
#include <cmath>
#include <limits>

#include "camkit/error.hpp"
#include "report/json_fields.hpp"
#include "report/page.hpp"

namespace camkit {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace report {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  bad_record(where, what);
}

const json* field(const json& object, const char* key) {
  return json_field(object, key);
}

std::string text(const json& object, const char* key, const std::string& where, bool required) {
  const json* v = field(object, key);
  if (!v) {
    if (required) bad(where + key, "missing");
    return "";
  }
  if (!v->is_string()) bad(where + key, "expected a string");
  return v->get<std::string>();
}

int integer(const json& object, const char* key, const std::string& where, int min) {
  const json* v = field(object, key);
  if (!v) bad(where + key, "missing");
  if (!v->is_number_integer()) bad(where + key, "expected an integer");
  const auto i = v->get<std::int64_t>();
  if (i < min || i > std::numeric_limits<int>::max())
    bad(where + key, "out of range (" + std::to_string(i) + ")");
  return static_cast<int>(i);
}

// Scores and logits: a number, or null/absent (NaN in the model's output is stored as null).
double number(const json& object, const char* key, const std::string& where) {
  const json* v = field(object, key);
  if (!v) return std::numeric_limits<double>::quiet_NaN();
  if (!v->is_number()) bad(where + key, "expected a number");
  return v->get<double>();
}

ClassEntry class_entry(const json& v, const std::string& where) {
  if (!v.is_object()) bad(where.substr(0, where.size() - 1), "expected an object");
  ClassEntry e;
  e.class_index = integer(v, "class", where, 0);
  e.label = text(v, "label", where, false);
  e.score = number(v, "score", where);
  e.logit = number(v, "logit", where);
  return e;
}

const json& array(const json& record, const char* key) {
  const json* v = field(record, key);
  if (!v || !v->is_array()) bad(key, "expected an array");
  return *v;
}

// A per-slice list of file names: absent (explain ran without pictures) or exactly one per slice,
// so that slider position k always means the same slice in every list.
std::vector<std::string> slice_files(const json& object, const char* key, const std::string& where,
                                     int slices) {
  const json* v = field(object, key);
  if (!v) return {};
  if (!v->is_array()) bad(where + key, "expected an array");
  if (v->size() != static_cast<std::size_t>(slices))
    bad(where + key,
        std::to_string(v->size()) + " entries for " + std::to_string(slices) + " slices");
  std::vector<std::string> out;
  for (const json& name : *v) {
    if (!name.is_string()) bad(where + key, "expected strings");
    out.push_back(name.get<std::string>());
  }
  return out;
}

Volume volume(const json& v) {
  if (!v.is_object()) bad("volume", "expected an object");
  Volume out;
  out.slices = integer(v, "slices", "volume.", 1);
  out.mode = text(v, "mode", "volume.", false);
  out.case_id = text(v, "case", "volume.", false);
  out.plane = text(v, "plane", "volume.", false);
  out.slice_images = slice_files(v, "slice_images", "volume.", out.slices);
  return out;
}

// cams, slice_peaks and peak_slice of one explanation of a volume record.
void volume_class(const json& v, const std::string& where, int slices, ExplainedClass& e) {
  e.cams = slice_files(v, "cams", where, slices);
  if (const json* peaks = field(v, "slice_peaks")) {
    if (!peaks->is_array()) bad(where + "slice_peaks", "expected an array");
    if (peaks->size() != static_cast<std::size_t>(slices))
      bad(where + "slice_peaks",
          std::to_string(peaks->size()) + " entries for " + std::to_string(slices) + " slices");
    for (const json& p : *peaks) {
      if (!p.is_null() && !p.is_number()) bad(where + "slice_peaks", "expected numbers");
      e.slice_peaks.push_back(p.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                          : p.get<double>());
    }
  }
  if (field(v, "peak_slice")) {
    e.peak_slice = integer(v, "peak_slice", where, 0);
    if (e.peak_slice >= slices)
      bad(where + "peak_slice",
          std::to_string(e.peak_slice) + " is not below " + std::to_string(slices) + " slices");
  } else {
    // An older writer may leave it out; the strip's highest bar is what it would have said.
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < e.slice_peaks.size(); ++k)
      if (e.slice_peaks[k] > best) best = e.slice_peaks[k], e.peak_slice = static_cast<int>(k);
  }
}

}  // namespace

bool is_record(const json& j) {
  return j.is_object() && j.contains("explanations") && j.contains("predictions");
}

Record parse_record(const json& j) {
  if (!is_record(j)) throw Error(ErrorCode::input, "not a camkit record");
  Record r;
  r.input = text(j, "input", "", true);
  const json* image = field(j, "image");
  if (!image || !image->is_object()) bad("image", "expected an object");
  r.width = integer(*image, "width", "image.", 1);
  r.height = integer(*image, "height", "image.", 1);
  r.channels = integer(*image, "channels", "image.", 1);
  r.model = text(j, "model", "", false);
  r.method = text(j, "method", "", false);
  r.feature_layer = text(j, "feature_layer", "", false);
  if (const json* shape = field(j, "feature_shape")) {
    if (!shape->is_array()) bad("feature_shape", "expected an array");
    for (const json& d : *shape) {
      if (!d.is_number_integer()) bad("feature_shape", "expected integers");
      r.feature_shape += (r.feature_shape.empty() ? "" : "\xC3\x97") + d.dump();  // U+00D7
    }
  }
  if (field(j, "decision")) r.decision = text(j, "decision", "", true);
  if (field(j, "true_class")) r.true_class = integer(j, "true_class", "", 0);
  r.true_label = text(j, "true_label", "", false);
  if (const json* v = field(j, "volume")) r.volume = volume(*v);
  const json& predictions = array(j, "predictions");
  for (std::size_t i = 0; i < predictions.size(); ++i)
    r.predictions.push_back(class_entry(predictions[i], "predictions[" + std::to_string(i) + "]."));
  const json& explanations = array(j, "explanations");
  for (std::size_t i = 0; i < explanations.size(); ++i) {
    const std::string where = "explanations[" + std::to_string(i) + "].";
    ExplainedClass e;
    e.entry = class_entry(explanations[i], where);
    // Volume records carry per-slice heat maps, 3-D records mosaics: neither needs "overlay".
    e.overlay = text(explanations[i], "overlay", where, !r.volume && !j.contains("volume3d"));
    e.raw = text(explanations[i], "raw", where, false);
    if (r.volume) volume_class(explanations[i], where, r.volume->slices, e);
    if (const json* box = field(explanations[i], "box")) {
      if (!box->is_array() || box->size() != 4) bad(where + "box", "expected [x0, y0, x1, y1]");
      std::array<double, 4> b{};
      for (std::size_t k = 0; k < 4; ++k) {
        if (!(*box)[k].is_number()) bad(where + "box", "expected numbers");
        b[k] = (*box)[k].get<double>();
      }
      if (!(b[0] <= b[2] && b[1] <= b[3])) bad(where + "box", "x1 < x0 or y1 < y0");
      e.box = b;
    }
    r.explanations.push_back(std::move(e));
  }
  if (field(j, "volume3d")) parse_volume3d(j, r);
  return r;
}

std::string url_path(const std::string& relative) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : relative) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace report
}  // namespace camkit
