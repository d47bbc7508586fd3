// The volume viewer: controls rendered here, the records embedded as JSON, a script that turns
// the slider, keys and selects into the two stacked pictures (slice, heat map) and the strip.
//
// Why the records are embedded rather than fetched: a page opened from file:// may not fetch()
// its neighbours, and the report must open straight from disk.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "report/json_fields.hpp"
#include "report/page.hpp"

namespace camkit::report {
namespace {

using nlohmann::json;

// One record as the script reads it: URLs ("" for a missing file) next to the recorded names,
// which the placeholder of a missing picture shows.
json record_json(const Record& r, const std::string& view) {
  const Volume& v = *r.volume;
  json j{{"name", name_of(r)},
         {"view", view},
         {"input", r.input},
         {"model", r.model},
         {"method", r.method},
         {"mode", v.mode},
         {"slices", v.slices},
         {"width", r.width},
         {"height", r.height},
         {"images", v.slice_srcs},
         {"image_names", v.slice_images},
         {"decision", r.decision ? json(*r.decision) : json()},
         {"true_class", r.true_class ? json(*r.true_class) : json()},
         {"true_label", r.true_label},
         {"predictions", json::array()},
         {"classes", json::array()}};
  for (const ClassEntry& p : r.predictions) j["predictions"].push_back(class_json(p));
  for (const ExplainedClass& e : r.explanations) {
    json c = class_json(e.entry);
    c["cams"] = e.cam_srcs;
    c["cam_names"] = e.cams;
    c["peaks"] = e.slice_peaks;
    c["peak"] = e.peak_slice;
    j["classes"].push_back(std::move(c));
  }
  return j;
}

// "positive 0.930" for binary models, else the top class: what the case list shows.
std::string verdict(const Record& r) {
  if (r.predictions.empty()) return "no predictions";
  const ClassEntry& top = r.predictions.front();
  return (r.decision ? *r.decision : label_or_class(top)) + " " + fixed(top.score, 3);
}

struct Case {
  std::string id;
  std::vector<const Record*> records;
};

// Records grouped by case id, cases in id order, each case's records in path order (the order
// `volumes` comes in): axial, coronal, sagittal for the MRNet layout.
std::vector<Case> group(const std::vector<const Record*>& volumes) {
  std::map<std::string, std::size_t> index;
  std::vector<Case> cases;
  for (const Record* r : volumes) {
    auto [it, added] = index.emplace(r->volume->case_id, cases.size());
    if (added) cases.push_back({r->volume->case_id, {}});
    cases[it->second].records.push_back(r);
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.id < b.id; });
  return cases;
}

// What the plane select shows for each record of a case: the plane, or the record's name where
// the plane is missing or shared (two models run on one plane into one folder).
std::vector<std::string> views(const Case& c) {
  std::map<std::string, int> count;
  for (const Record* r : c.records) ++count[r->volume->plane];
  std::vector<std::string> out;
  for (const Record* r : c.records) {
    const std::string& plane = r->volume->plane;
    out.push_back(plane.empty() || count[plane] > 1 ? name_of(*r) : plane);
  }
  return out;
}

}  // namespace

// JSON inside <script>: '<' only occurs in strings, where \u003c means the same, and without
// it "</script>" or "<!--" in a label would end or confuse the script element.
std::string script_safe(const std::string& json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (char c : json_text) out += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return out;
}

const char* const kViewerStyle = R"css(
.viewer{margin:20px 28px 0;background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.05)}
.vbar{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center;margin-bottom:12px}
.vbar label{display:flex;gap:6px;align-items:center;font-size:13px;color:var(--muted)}
.vbar select{font:inherit;color:var(--ink);padding:4px 6px;border:1px solid #d1d5db;
border-radius:6px;max-width:min(460px,90vw)}
.vbar label.off{display:none}
.vgrid{display:grid;grid-template-columns:minmax(0,560px) minmax(260px,1fr);gap:18px}
@media (max-width:900px){.vgrid{grid-template-columns:minmax(0,1fr)}}
.stage{position:relative;background:#000;border-radius:4px;overflow:hidden}
.stage img{display:block;width:100%;height:auto}
.stage #cam-image{position:absolute;left:0;top:0;width:100%;height:100%}
.stage img.broken{background:#fee2e2;min-height:60px}
.stage .missing{position:absolute;inset:0}
.stage .missing[hidden]{display:none}
.slicebar{display:flex;gap:8px;align-items:center;margin-top:8px;font-size:13px}
.slicebar input{flex:1;min-width:80px}
.slicebar button{font:inherit;padding:2px 9px;border:1px solid #d1d5db;border-radius:6px;
background:#fff;cursor:pointer}
#slice-label{font-variant-numeric:tabular-nums;min-width:5.5em;text-align:right;font-weight:600}
.strip{display:flex;align-items:flex-end;gap:1px;height:54px;margin-top:10px;padding-bottom:8px;
cursor:pointer;position:relative}
.strip span{flex:1;height:100%;display:flex;align-items:flex-end;position:relative;
border-radius:2px 2px 0 0}
.strip span:hover{background:#eef2ff}
.strip i{display:block;width:100%;background:#93c5fd;min-height:2px;border-radius:2px 2px 0 0}
.strip span.peak i{background:#f97316}
.strip span.peak::after{content:"";position:absolute;left:50%;bottom:-8px;margin-left:-4px;
border:4px solid transparent;border-bottom:5px solid #f97316;border-top:0}
.strip span.cur{outline:2px solid var(--accent);outline-offset:0}
.vinfo h2{margin:0 0 4px;font-size:16px;overflow-wrap:anywhere}
.vinfo .meta{display:block;margin-bottom:2px}
.vinfo table{border-collapse:collapse;width:100%;margin-top:10px;font-size:12px}
.vinfo td,.vinfo th{padding:2px 6px;text-align:left;border-bottom:1px solid var(--line)}
.vinfo th{color:var(--muted);font-weight:500}
.vinfo td.num{text-align:right;font-variant-numeric:tabular-nums}
.vinfo tr.sel td{background:#eff6ff;font-weight:600}
.vinfo .note{margin-top:6px}
.keys{color:var(--muted);font-size:12px;margin-top:12px}
kbd{font:11px ui-monospace,monospace;border:1px solid #d1d5db;border-bottom-width:2px;
border-radius:4px;padding:0 4px;background:#f9fafb}
)css";

std::string render_viewer(const std::vector<const Record*>& volumes) {
  const std::vector<Case> cases = group(volumes);
  json data{{"cases", json::array()}};
  std::string options;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::vector<std::string> names = views(c);
    json records = json::array();
    std::string summary;
    for (std::size_t j = 0; j < c.records.size(); ++j) {
      records.push_back(record_json(*c.records[j], names[j]));
      summary += (summary.empty() ? "" : " \xC2\xB7 ") +
                 (c.records.size() > 1 ? names[j] + ": " : "") + verdict(*c.records[j]);
    }
    const Record& first = *c.records.front();
    if (!first.true_label.empty()) summary += " (true: " + first.true_label + ")";
    data["cases"].push_back({{"id", c.id}, {"records", std::move(records)}});
    options += "<option value=\"" + std::to_string(i) + "\">" +
               html_escape(c.id + " \xE2\x80\x94 " + summary) + "</option>";
  }
  std::string out =
      "<section id=\"viewer\" class=\"viewer\" aria-label=\"volume viewer\">\n"
      "<div class=\"vbar\"><label>case <select id=\"case-select\">" +
      options +
      "</select></label><label id=\"plane-field\">plane <select id=\"plane-select\"></select>"
      "</label><label>class <select id=\"class-select\"></select></label>"
      "<label><input type=\"checkbox\" id=\"overlay-toggle\" checked> show overlay</label>"
      "<label>alpha <input type=\"range\" id=\"alpha-slider\" min=\"0\" max=\"1\" step=\"0.05\" "
      "value=\"0.5\"> <span id=\"alpha-label\">0.50</span></label></div>\n"
      "<div class=\"vgrid\"><div>"
      "<div class=\"stage\" id=\"stage\"><img id=\"slice-image\" data-viewer alt=\"slice\">"
      "<img id=\"cam-image\" data-viewer alt=\"heat map\">"
      "<div class=\"frame missing\" id=\"slice-missing\" hidden></div></div>"
      "<div class=\"slicebar\"><button type=\"button\" id=\"prev-slice\" title=\"previous slice "
      "(\xE2\x86\x90)\">\xE2\x80\xB9</button><input type=\"range\" id=\"slice-slider\" min=\"0\" "
      "max=\"0\" value=\"0\" aria-label=\"slice\"><button type=\"button\" id=\"next-slice\" "
      "title=\"next slice (\xE2\x86\x92)\">\xE2\x80\xBA</button><span id=\"slice-label\">"
      "</span><button type=\"button\" id=\"peak-button\" title=\"P\">jump to peak slice</button>"
      "</div><div class=\"strip\" id=\"peak-strip\" title=\"peak of the raw map on each slice "
      "(orange: the highest); click a bar to show its slice\"></div>"
      "<div class=\"note\" id=\"cam-note\"></div></div>\n"
      "<aside class=\"vinfo\"><h2 id=\"record-title\"></h2><div id=\"record-meta\"></div>"
      "<table id=\"predictions\"><thead><tr><th>prediction</th><th>#</th><th>score</th>"
      "<th>logit</th></tr></thead><tbody></tbody></table>"
      "<p class=\"keys\"><kbd>\xE2\x86\x90</kbd> <kbd>\xE2\x86\x92</kbd> previous / next slice "
      "(with <kbd>Shift</kbd>: 5), <kbd>Home</kbd> <kbd>End</kbd> first / last, <kbd>P</kbd> "
      "peak slice, <kbd>O</kbd> overlay on / off. Heat maps are normalised over the whole "
      "volume, so their colours compare across slices.</p></aside></div>\n"
      "<script type=\"application/json\" id=\"volume-data\">" +
      script_safe(data.dump()) + "</script>\n</section>\n";
  return out;
}

}  // namespace camkit::report
