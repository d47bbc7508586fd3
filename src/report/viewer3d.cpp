// The three-plane viewer of records of 3-D models (NIfTI and .npy volumes, video clips): the
// controls rendered here, the records embedded as JSON, a script (viewer3d_script.cpp) that
// draws the planes through the crosshair from the slice mosaics `camkit explain` wrote.
//
// Why mosaics: one picture per axis holds every plane across it, so moving the crosshair is a
// drawImage of a picture already decoded: no request per slice, nothing to fetch (a page
// opened from file:// may not fetch), a handful of files for a 128^3 volume.
#include <nlohmann/json.hpp>

#include "report/json_fields.hpp"
#include "report/page.hpp"

namespace camkit::report {
namespace {

using nlohmann::json;

json record_json(const Record& r) {
  const Volume3d& v = *r.volume3d;
  json axes = json::array();
  for (const MosaicAxis& a : v.axes)
    axes.push_back(a.slices ? json{{"slices", a.slices},
                                   {"columns", a.columns},
                                   {"tw", a.tile_width},
                                   {"th", a.tile_height},
                                   {"src", a.src},
                                   {"file", a.file}}
                            : json());
  json j{{"name", name_of(r)},
         {"input", r.input},
         {"model", r.model},
         {"method", r.method},
         {"kind", v.kind},
         {"dims", {v.depth, v.height, v.width}},
         {"spacing", {v.spacing[0], v.spacing[1], v.spacing[2]}},
         {"frames", v.frames},
         {"fps", v.fps},
         {"channels", r.channels},
         {"decision", r.decision ? json(*r.decision) : json()},
         {"true_label", r.true_label},
         {"axes", axes},
         {"predictions", json::array()},
         {"classes", json::array()}};
  for (const ClassEntry& p : r.predictions) j["predictions"].push_back(class_json(p));
  for (const ExplainedClass& e : r.explanations) {
    json c = class_json(e.entry);
    // Without a recorded peak the crosshair starts at the centre.
    const std::array<int, 3> centre{v.depth / 2, v.height / 2, v.width / 2};
    const std::array<int, 3> peak = e.peak_voxel.value_or(centre);
    c["peak"] = {peak[0], peak[1], peak[2]};
    c["has_peak"] = e.peak_voxel.has_value();
    c["maps"] = {e.mosaic_srcs[0], e.mosaic_srcs[1], e.mosaic_srcs[2]};
    c["map_files"] = {e.mosaics[0], e.mosaics[1], e.mosaics[2]};
    j["classes"].push_back(std::move(c));
  }
  return j;
}

std::string verdict(const Record& r) {
  if (r.predictions.empty()) return "no predictions";
  const ClassEntry& top = r.predictions.front();
  return (r.decision ? *r.decision : label_or_class(top)) + " " + fixed(top.score, 3);
}

// One plane's panel: the canvas the script draws on, its placeholder, slider and label.
std::string panel(const char* axis, const char* title) {
  const std::string a = axis;
  return "<figure class=\"v3plane\" id=\"v3-plane-" + a + "\"><figcaption id=\"v3-title-" + a +
         "\">" + title + "</figcaption><div class=\"v3stage\" id=\"v3-stage-" + a +
         "\"><canvas id=\"v3-canvas-" + a +
         "\" title=\"click to move the crosshair\"></canvas><div class=\"missing\" "
         "id=\"v3-missing-" +
         a +
         "\" hidden></div></div><div class=\"slicebar\"><input "
         "type=\"range\" id=\"v3-slider-" +
         a +
         "\" min=\"0\" max=\"0\" value=\"0\" "
         "aria-label=\"plane " +
         a + "\"><span class=\"v3label\" id=\"v3-label-" + a +
         "\"></span></div><div class=\"note\" id=\"v3-note-" + a + "\"></div></figure>";
}

}  // namespace

std::string render_viewer3d(const std::vector<const Record*>& volumes) {
  json data{{"cases", json::array()}};
  std::string options;
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const Record& r = *volumes[i];
    data["cases"].push_back(record_json(r));
    std::string summary = name_of(r) + " \xE2\x80\x94 " + verdict(r);
    if (!r.true_label.empty()) summary += " (true: " + r.true_label + ")";
    options += "<option value=\"" + std::to_string(i) + "\">" + html_escape(summary) + "</option>";
  }
  return "<section id=\"viewer3d\" class=\"viewer\" aria-label=\"3-D viewer\">\n"
         "<div class=\"vbar\"><label>3-D input <select id=\"v3-case\">" +
         options +
         "</select></label><label>class <select id=\"v3-class\"></select></label>"
         "<label><input type=\"checkbox\" id=\"v3-overlay\" checked> show overlay</label>"
         "<label>alpha <input type=\"range\" id=\"v3-alpha\" min=\"0\" max=\"1\" step=\"0.05\" "
         "value=\"0.5\"> <span id=\"v3-alpha-label\">0.50</span></label>"
         "<button type=\"button\" id=\"v3-peak\" title=\"P\">jump to peak</button>"
         "<span id=\"v3-voxel\" class=\"v3voxel\"></span></div>\n<div class=\"v3planes\">" +
         panel("d", "plane d") + panel("h", "plane h") + panel("w", "plane w") +
         "</div>\n<div class=\"v3info vinfo\"><h2 id=\"v3-record-title\"></h2>"
         "<div id=\"v3-record-meta\"></div><table id=\"v3-predictions\"><thead><tr>"
         "<th>prediction</th><th>#</th><th>score</th><th>logit</th></tr></thead><tbody>"
         "</tbody></table><p class=\"keys\">Click a plane to move the crosshair there; the "
         "other planes follow. <kbd>P</kbd> peak voxel, <kbd>O</kbd> overlay on / off. Heat "
         "maps are normalised over the whole volume, so their colours compare across planes."
         "</p></div>\n<script type=\"application/json\" id=\"volume3d-data\">" +
         script_safe(data.dump()) + "</script>\n</section>\n";
}

}  // namespace camkit::report
