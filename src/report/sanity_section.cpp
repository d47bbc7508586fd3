// The report's section for a sanity check (sanity.json of camkit eval --sanity): verdicts,
// the similarity table and the figure of each method.
#include <cstdio>
#include <filesystem>

#include "report/page.hpp"

namespace camkit::report {
namespace {

std::string number(const nlohmann::json& v) {
  return v.is_number() ? fixed(v.get<double>(), 4) : "-";
}

}  // namespace

std::string render_sanity(const nlohmann::json& s, const std::string& root) {
  namespace fs = std::filesystem;
  if (!s.is_object() || !s.contains("methods") || !s["methods"].is_array())
    throw Error(ErrorCode::input, "not a sanity-check result (no methods)");
  std::string out =
      "<section class=\"sanity\" id=\"sanity\"><h2>Sanity check: cascading "
      "randomisation</h2>\n<p>Maps of the model with its parameters re-initialised "
      "from the top block down, compared with the original maps (Spearman rank "
      "correlation, SSIM, HOG correlation; lower: the map depends on the weights)";
  if (s.value("against", nlohmann::json()).is_string())
    out += ", and of " + html_escape(s["against"].get<std::string>());
  out += ".</p>\n";
  for (const nlohmann::json& m : s["methods"]) {
    if (!m.is_object()) continue;
    const std::string name = m.value("method", std::string("?"));
    const bool flagged = m.value("flagged", false);
    out += "<h3>" + html_escape(name) +
           (flagged ? " — <span class=\"flag\">flagged</span>" : " — passes") + "</h3>\n";
    if (flagged) out += "<p>" + html_escape(m.value("reason", std::string())) + "</p>\n";
    out +=
        "<table><thead><tr><th>randomised to</th><th>spearman</th><th>ssim</th><th>hog</th>"
        "</tr></thead><tbody>";
    nlohmann::json rows = m.value("cascade", nlohmann::json::array());
    if (m.value("against", nlohmann::json()).is_object()) rows.push_back(m["against"]);
    for (const nlohmann::json& r : rows)
      if (r.is_object())
        out += "<tr><td>" + html_escape(r.value("step", std::string())) + "</td><td>" +
               number(r.value("spearman", nlohmann::json())) + "</td><td>" +
               number(r.value("ssim", nlohmann::json())) + "</td><td>" +
               number(r.value("hog", nlohmann::json())) + "</td></tr>";
    out += "</tbody></table>\n";
    const std::string figure = m.value("figure", std::string());
    std::error_code ec;
    // Only a figure lying in the report's folder, by its plain name.
    if (!figure.empty() && figure.find('/') == std::string::npos &&
        fs::is_regular_file(fs::path(root) / figure, ec))
      out += "<img class=\"sanity-figure\" src=\"" + url_path(figure) + "\" alt=\"" +
             html_escape(name) + " maps at each step\">\n";
  }
  return out + "</section>\n";
}

}  // namespace camkit::report
