// The comparison view (docs/report.md, "Comparing methods"): per input, one row per explained
// class and one column per method, each column headed by the method's faithfulness figures
// when `camkit eval --faithfulness` results were saved under the report directory.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "camkit/error.hpp"
#include "report/page.hpp"

namespace camkit::report {
namespace {

using nlohmann::json;

double figure_of(const json& f, const char* key) {
  const auto it = f.find(key);
  if (it == f.end() || it->is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!it->is_number())
    throw Error(ErrorCode::input, std::string("faithfulness.") + key + ": expected a number");
  return it->get<double>();
}

int count_of(const json& f, const char* key) {
  const auto it = f.find(key);
  return it != f.end() && it->is_number_integer() ? it->get<int>() : 0;
}

std::string column_key(const Record& r) {
  return r.method + "\n" + r.feature_layer;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string faith_cell(const Faithfulness& f) {
  auto pct = [](double v) { return std::isfinite(v) ? fixed(100 * v, 1) + "%" : "n/a"; };
  return "<div class=\"faith\" title=\"camkit eval --faithfulness: " + html_escape(f.source) +
         "\">deletion AUC <b data-metric=\"deletion_auc\">" + fixed(f.deletion_auc, 4) +
         "</b> \xE2\x86\x93<br>insertion AUC <b data-metric=\"insertion_auc\">" +
         fixed(f.insertion_auc, 4) + "</b> \xE2\x86\x91<br>average drop <b>" + pct(f.average_drop) +
         "</b> \xE2\x86\x93<br>increase in confidence <b>" + pct(f.increase) +
         "</b> \xE2\x86\x91<br>" + std::to_string(f.images) + " images, " +
         std::to_string(f.steps) + " steps, class " + html_escape(f.cls) + "</div>";
}

}  // namespace

std::optional<Faithfulness> parse_faithfulness(const json& j) {
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find("faithfulness");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  const json& f = *it;
  const auto m = f.find("method");
  if (m == f.end() || !m->is_string()) return std::nullopt;
  Faithfulness out;
  out.method = m->get<std::string>();
  if (const auto c = f.find("class"); c != f.end() && c->is_string())
    out.cls = c->get<std::string>();
  out.images = count_of(f, "images");
  out.steps = count_of(f, "steps");
  out.trials = count_of(f, "trials");
  out.deletion_auc = figure_of(f, "deletion_auc");
  out.insertion_auc = figure_of(f, "insertion_auc");
  out.average_drop = figure_of(f, "average_drop");
  out.increase = figure_of(f, "increase_in_confidence");
  return out;
}

std::vector<Comparison> find_comparisons(const std::vector<Record>& records) {
  std::vector<Comparison> out;
  // One comparison per input and model: two models' maps of one input are two cards, not one
  // model's methods side by side. Volumes have their own viewers.
  std::map<std::pair<std::string, std::string>, size_t> by_input;
  for (const Record& r : records) {
    if (r.volume || r.volume3d) continue;
    const auto [it, fresh] = by_input.emplace(std::make_pair(r.input, r.model), out.size());
    if (fresh) out.push_back({r.input, {}});
    std::vector<const Record*>& cols = out[it->second].columns;
    // The same method and layer twice (a record copied elsewhere) is one column: the first.
    if (std::none_of(cols.begin(), cols.end(),
                     [&](const Record* c) { return column_key(*c) == column_key(r); }))
      cols.push_back(&r);
  }
  out.erase(std::remove_if(out.begin(), out.end(),
                           [](const Comparison& c) { return c.columns.size() < 2; }),
            out.end());
  for (Comparison& c : out)
    std::stable_sort(c.columns.begin(), c.columns.end(), [](const Record* a, const Record* b) {
      return column_key(*a) < column_key(*b);
    });
  return out;
}

std::string render_comparisons(const std::vector<Comparison>& comparisons,
                               const std::vector<Faithfulness>& faithfulness, bool lazy) {
  std::map<std::string, const Faithfulness*> figures;
  for (const Faithfulness& f : faithfulness) figures.emplace(f.method, &f);  // first wins
  std::string out = "<section class=\"comparisons\" aria-label=\"methods side by side\">\n";
  for (const Comparison& c : comparisons) {
    const Record& first = *c.columns.front();
    std::map<std::string, int> per_method;
    for (const Record* r : c.columns) ++per_method[r->method];
    // Rows: every class any method explained, in the order the methods list them.
    std::vector<ClassEntry> rows;
    for (const Record* r : c.columns)
      for (const ExplainedClass& e : r->explanations)
        if (std::none_of(rows.begin(), rows.end(),
                         [&](const ClassEntry& k) { return k.class_index == e.entry.class_index; }))
          rows.push_back(e.entry);
    std::string search = c.input;
    for (const Record* r : c.columns) search += " " + r->path + " " + r->method;
    for (const ClassEntry& k : rows) search += " " + k.label + " #" + std::to_string(k.class_index);
    out += "<article class=\"card compare\" data-input=\"" + html_escape(c.input) +
           "\" data-search=\"" + html_escape(lower(search)) + "\"><div class=\"head\"><h2>" +
           html_escape(c.input) + "</h2><span class=\"meta\">" + std::to_string(first.width) +
           "\xC3\x97" + std::to_string(first.height) + " \xC2\xB7 " +
           std::to_string(c.columns.size()) + " methods</span></div><div class=\"scroll\">" +
           "<table><thead><tr><th scope=\"col\">" + input_figure(first, lazy) + "</th>";
    for (const Record* r : c.columns) {
      std::string name = r->method.empty() ? "?" : r->method;
      if (per_method[r->method] > 1) name += " \xC2\xB7 " + r->feature_layer;
      out += "<th scope=\"col\" class=\"method\" data-method=\"" + html_escape(r->method) + "\">" +
             html_escape(name) + "<div class=\"meta\">" + html_escape(r->feature_layer) + "</div>";
      if (const auto f = figures.find(r->method); f != figures.end()) out += faith_cell(*f->second);
      out += "</th>";
    }
    out += "</tr></thead><tbody>";
    for (const ClassEntry& k : rows) {
      out += "<tr data-class=\"" + std::to_string(k.class_index) + "\"><th scope=\"row\">" +
             html_escape(label_or_class(k)) + "<br><span class=\"cls\">#" +
             std::to_string(k.class_index) + "</span></th>";
      for (const Record* r : c.columns) {
        const auto e = std::find_if(
            r->explanations.begin(), r->explanations.end(),
            [&](const ExplainedClass& x) { return x.entry.class_index == k.class_index; });
        out += e == r->explanations.end() ? "<td class=\"none\">not explained by this method</td>"
                                          : "<td>" + figure(*r, *e, lazy) + "</td>";
      }
      out += "</tr>";
    }
    out += "</tbody></table></div></article>\n";
  }
  return out + "</section>\n";
}

}  // namespace camkit::report
