// What the report's record readers and viewers share about JSON: a field that may be absent or
// null, the one-line error of a malformed record, and a class entry as the viewers' scripts
// read it.
//
//   if (const nlohmann::json* v = json_field(record, "volume3d")) ...
//   if (!v->is_object()) bad_record(where, "expected an object");
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "camkit/error.hpp"
#include "report/page.hpp"

namespace camkit::report {

[[noreturn]] inline void bad_record(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::input, where + ": " + what);
}

/// object[key], or nullptr when the key is absent or null.
inline const nlohmann::json* json_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

/// One class of a record for the viewers' embedded data. NaN scores (a model that produced
/// NaN) become null in JSON, which the scripts print as n/a.
inline nlohmann::json class_json(const ClassEntry& e) {
  return {{"class", e.class_index},
          {"label", label_or_class(e)},
          {"score", e.score},
          {"logit", e.logit}};
}

}  // namespace camkit::report
