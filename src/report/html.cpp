// index.html: inline CSS, one card per record, a few lines of JavaScript (filter, box toggle,
// image load counters that headless tests read from <body data-images-*>).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "report/page.hpp"

namespace camkit::report {
namespace {

const char* const kStyle = R"css(
:root{--bg:#f3f4f6;--card:#fff;--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--accent:#2563eb;
--box:#00e5ff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:#fff;border-bottom:1px solid var(--line);padding:18px 28px 14px}
h1{margin:0 0 12px;font-size:22px;font-weight:650}
.facts{display:flex;flex-wrap:wrap;gap:10px 32px;margin:0}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere;max-width:60ch}
.problems{margin-top:12px;color:#b42318}
.problems ul{margin:6px 0 0;padding-left:20px;font-family:ui-monospace,monospace;font-size:12px}
.toolbar{display:flex;flex-wrap:wrap;gap:10px 18px;align-items:center;margin-top:14px}
#filter{width:min(420px,100%);padding:7px 10px;border:1px solid #d1d5db;border-radius:6px;
font:inherit}
#shown{color:var(--muted);font-size:13px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr));gap:18px;
padding:20px 28px 28px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;
box-shadow:0 1px 2px rgba(0,0,0,.05);min-width:0}
.card.hidden{display:none}
.head{display:flex;flex-wrap:wrap;align-items:baseline;gap:2px 12px;margin-bottom:10px}
.head h2{margin:0;font-size:15px;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.decision{font-size:12px;font-weight:600;padding:1px 9px;border-radius:999px;background:#e0e7ff;
color:#3730a3}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(125px,1fr));gap:12px}
figure{margin:0;min-width:0}
.frame{position:relative;background:#111827;border-radius:4px;overflow:hidden}
.frame img{display:block;width:100%;height:auto}
.frame img.broken{min-height:60px;background:#fee2e2}
.box{position:absolute;border:2px solid var(--box);box-shadow:0 0 0 1px rgba(0,0,0,.55);
pointer-events:none}
body.nobox .box{display:none}
.missing{display:flex;align-items:center;justify-content:center;text-align:center;padding:8px;
color:#6b7280;font-size:12px;overflow-wrap:anywhere;
background:repeating-linear-gradient(45deg,#f3f4f6 0 10px,#e5e7eb 10px 20px)}
figcaption{margin-top:5px;font-size:12px;line-height:1.35;overflow-wrap:anywhere}
figcaption .lbl{font-weight:600}
.cls{color:var(--muted);font-variant-numeric:tabular-nums}
.score{font-variant-numeric:tabular-nums;font-weight:600}
.note{color:#b45309;font-size:12px}
.preds{list-style:none;margin:12px 0 0;padding:10px 0 0;border-top:1px solid var(--line);
font-size:12px}
.preds li{display:grid;grid-template-columns:minmax(0,1fr) auto 110px 46px;gap:8px;
align-items:center;padding:1px 0}
.preds .lbl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.preds .score{text-align:right;font-weight:400}
.bar{height:7px;background:#eef0f3;border-radius:4px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--accent)}
.sanity{padding:18px 28px}.sanity table{border-collapse:collapse;font-size:13px}
.sanity td,.sanity th{border:1px solid var(--line);padding:2px 8px;text-align:right}
.sanity .flag{color:#b91c1c}.sanity-figure{max-width:100%;margin-top:8px}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px}
.comparisons{padding:20px 28px 0;display:flex;flex-direction:column;gap:18px}
.compare .scroll{overflow-x:auto}
.compare table{border-collapse:collapse;margin-top:10px}
.compare th,.compare td{border-top:1px solid var(--line);padding:8px;vertical-align:top;
text-align:left}
.compare thead th{border-top:0;font-size:13px}
.compare td figure,.compare th figure{width:200px}
.compare .faith{font-weight:400;font-size:11px;color:var(--muted);margin-top:3px;
font-variant-numeric:tabular-nums}
.compare .faith b{color:var(--ink);font-weight:600}
.compare td.none{color:var(--muted);font-size:12px}
)css";

const char* const kScript = R"js(
(function(){
var body=document.body,imgs=document.images,loaded=0,failed=0;
function show(){body.setAttribute('data-images-loaded',loaded);
body.setAttribute('data-images-failed',failed);}
function ok(){loaded++;show();}
function ko(e){failed++;e.target.classList.add('broken');show();}
for(var i=0;i<imgs.length;i++){var im=imgs[i];
if(im.hasAttribute('data-viewer'))continue;  /* the viewer counts its own pictures */
if(im.complete){if(im.naturalWidth>0)loaded++;else{failed++;im.classList.add('broken');}}
else{im.addEventListener('load',ok);im.addEventListener('error',ko);}}
show();
var filter=document.getElementById('filter'),shown=document.getElementById('shown'),
cards=document.querySelectorAll('.card');
if(filter){
function apply(){var words=filter.value.toLowerCase().split(/\s+/).filter(Boolean),n=0;
for(var i=0;i<cards.length;i++){var t=cards[i].getAttribute('data-search'),
hit=words.every(function(w){return t.indexOf(w)>=0;});
cards[i].classList.toggle('hidden',!hit);if(hit)n++;}
shown.textContent=n+' of '+cards.length+' shown';}
filter.addEventListener('input',apply);
/* The address's fragment holds key=value pairs joined by '&' (the viewer reads more). */
location.hash.slice(1).split('&').forEach(function(kv){
if(kv.indexOf('q=')===0)filter.value=decodeURIComponent(kv.slice(2));});
apply();
document.getElementById('boxes').addEventListener('change',function(e){
body.classList.toggle('nobox',!e.target.checked);});}
body.setAttribute('data-ready','1');
})();
)js";

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// One value when every record agrees, else the distinct values joined.
std::string distinct(const std::vector<Record>& records, std::string Record::*field) {
  std::set<std::string> values;
  for (const Record& r : records) values.insert(r.*field);
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : "; ") + (v.empty() ? "?" : v);
  return out;
}

// The picture, linked to its file so that a click shows it at full size.
std::string img(const std::string& src, const Record& r, const std::string& alt, bool lazy) {
  return "<a href=\"" + html_escape(src) + "\"><img src=\"" + html_escape(src) + "\" width=\"" +
         std::to_string(r.width) + "\" height=\"" + std::to_string(r.height) + "\" alt=\"" +
         html_escape(alt) + "\"" + (lazy ? " loading=\"lazy\"" : "") + "></a>";
}

std::string placeholder(const Record& r, const std::string& note) {
  return "<div class=\"frame missing\" style=\"aspect-ratio:" + std::to_string(r.width) + "/" +
         std::to_string(r.height) + "\"><span>" + html_escape(note) + "</span></div>";
}

// The box as CSS percentages of the image, clipped to it.
std::string box_div(const std::array<double, 4>& b, const Record& r) {
  const double w = r.width, h = r.height;
  const double x0 = std::clamp(b[0], 0.0, w), x1 = std::clamp(b[2], 0.0, w);
  const double y0 = std::clamp(b[1], 0.0, h), y1 = std::clamp(b[3], 0.0, h);
  const std::string coords =
      fixed(b[0], 0) + "," + fixed(b[1], 0) + "," + fixed(b[2], 0) + "," + fixed(b[3], 0);
  return "<div class=\"box\" data-box=\"" + coords + "\" style=\"left:" + fixed(100 * x0 / w, 3) +
         "%;top:" + fixed(100 * y0 / h, 3) + "%;width:" + fixed(100 * (x1 - x0) / w, 3) +
         "%;height:" + fixed(100 * (y1 - y0) / h, 3) + "%\" title=\"box x " + fixed(b[0], 0) +
         "\xE2\x80\x93" + fixed(b[2], 0) + ", y " + fixed(b[1], 0) + "\xE2\x80\x93" +
         fixed(b[3], 0) + " px\"></div>";
}

std::string overlay_figure(const Record& r, const ExplainedClass& e, bool lazy) {
  const ClassEntry& c = e.entry;
  std::string out =
      "<figure class=\"overlay\" data-class=\"" + std::to_string(c.class_index) + "\">";
  if (e.overlay_src.empty()) {
    out += placeholder(r, "overlay not found: " + e.overlay);
  } else {
    out += "<div class=\"frame\">" +
           img(e.overlay_src, r, name_of(r) + ": " + label_or_class(c), lazy);
    if (e.box) out += box_div(*e.box, r);
    out += "</div>";
  }
  out += "<figcaption><span class=\"lbl\">" + html_escape(label_or_class(c)) + "</span>";
  if (!c.label.empty()) out += " <span class=\"cls\">#" + std::to_string(c.class_index) + "</span>";
  out += "<br>";
  if (r.decision) out += html_escape(*r.decision) + " \xC2\xB7 p = ";  // middle dot
  out += "<span class=\"score\">" + fixed(c.score, 3) + "</span>";
  out += " <span class=\"cls\">logit " + fixed(c.logit, 3) + "</span>";
  if (!e.box) out += "<br><span class=\"cls\">no box</span>";
  return out + "</figcaption></figure>";
}

std::string input_picture(const Record& r, bool lazy) {
  std::string out = "<figure class=\"input\">";
  out += r.input_src.empty()
             ? placeholder(r, r.input_note)
             : "<div class=\"frame\">" + img(r.input_src, r, name_of(r), lazy) + "</div>";
  return out + "<figcaption><span class=\"lbl\">input</span><br><span class=\"cls\">" +
         html_escape(r.input) + "</span></figcaption></figure>";
}

std::string card(const Record& r, bool lazy, bool show_model) {
  std::string search = r.path + " " + r.input;
  for (const ClassEntry& p : r.predictions)
    search += " " + p.label + " #" + std::to_string(p.class_index);
  if (r.decision) search += " " + *r.decision;
  std::string out = "<article class=\"card\" data-search=\"" + html_escape(lower(search)) + "\">";
  out += "<div class=\"head\"><h2 title=\"" + html_escape(r.input) + "\">" +
         html_escape(name_of(r)) + "</h2><span class=\"meta\">" + std::to_string(r.width) +
         "\xC3\x97" + std::to_string(r.height) + " \xC2\xB7 " + std::to_string(r.channels) +
         (r.channels == 1 ? " channel" : " channels") + "</span>";
  if (show_model) out += "<span class=\"meta\">" + html_escape(r.model) + "</span>";
  if (r.decision && !r.predictions.empty())
    out += "<span class=\"decision\">" + html_escape(*r.decision) +
           " \xC2\xB7 p = " + fixed(r.predictions[0].score, 3) + "</span>";
  // At most 240 px per figure, so that a card with one or two overlays does not blow them up.
  const std::size_t figures = r.explanations.size() + 1;
  out += "</div><div class=\"figures\" style=\"max-width:" + std::to_string(figures * 252 - 12) +
         "px\">" + input_picture(r, lazy);
  for (const ExplainedClass& e : r.explanations) out += overlay_figure(r, e, lazy);
  out += "</div>";
  if (!r.predictions.empty()) {
    out += "<ol class=\"preds\" title=\"top predictions\">";
    for (const ClassEntry& p : r.predictions) {
      const double width = std::isfinite(p.score) ? std::clamp(p.score, 0.0, 1.0) * 100 : 0;
      out += "<li><span class=\"lbl\">" + html_escape(label_or_class(p)) +
             "</span><span class=\"cls\">#" + std::to_string(p.class_index) +
             "</span><span class=\"bar\"><i style=\"width:" + fixed(width, 1) +
             "%\"></i></span><span class=\"score\">" + fixed(p.score, 3) + "</span></li>";
    }
    out += "</ol>";
  }
  return out + "</article>\n";
}

std::string fact(const std::string& name, const std::string& value) {
  return "<div><dt>" + name + "</dt><dd>" + html_escape(value) + "</dd></div>";
}

}  // namespace

std::string figure(const Record& r, const ExplainedClass& e, bool lazy) {
  return overlay_figure(r, e, lazy);
}

std::string input_figure(const Record& r, bool lazy) {
  return input_picture(r, lazy);
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string name_of(const Record& r) {
  return r.path.substr(0, r.path.size() - 5);
}

std::string label_or_class(const ClassEntry& e) {
  return e.label.empty() ? "class " + std::to_string(e.class_index) : e.label;
}

std::string render_page(const std::vector<Record>& records, const PageInfo& info) {
  int overlays = 0;
  std::set<std::string> shapes;
  std::vector<const Record*> volumes, volumes3d;
  std::size_t images = 0;
  for (const Record& r : records) {
    shapes.insert(r.feature_shape);
    if (r.volume) {
      volumes.push_back(&r);
    } else if (r.volume3d) {
      volumes3d.push_back(&r);
    } else {
      overlays += static_cast<int>(r.explanations.size());
      ++images;
    }
  }
  const std::string models = distinct(records, &Record::model);
  std::string layer = distinct(records, &Record::feature_layer);
  if (shapes.size() == 1 && !shapes.begin()->empty()) layer += " (" + *shapes.begin() + ")";
  const bool many_models = models.find("; ") != std::string::npos;

  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"camkit report\">\n<title>" +
      html_escape(info.title) + "</title>\n<style>" + kStyle +
      (volumes.empty() && volumes3d.empty() ? "" : kViewerStyle) +
      (volumes3d.empty() ? "" : kViewer3dStyle) + "</style>\n</head>\n";
  out += "<body data-images-loaded=\"0\" data-images-failed=\"0\">\n<header>\n<h1>" +
         html_escape(info.title) + "</h1>\n<dl class=\"facts\">";
  out += fact("Model", models) + fact("Method", distinct(records, &Record::method)) +
         fact("Feature layer", layer);
  const std::vector<Comparison> comparisons = find_comparisons(records);
  std::set<const Record*> compared;
  for (const Comparison& c : comparisons) compared.insert(c.columns.begin(), c.columns.end());
  // Compared records share their input: each input counts once.
  const std::size_t inputs = images - compared.size() + comparisons.size();
  if (images || (volumes.empty() && volumes3d.empty()))
    out += fact("Inputs", std::to_string(inputs)) + fact("Overlays", std::to_string(overlays));
  if (!volumes.empty()) {
    std::set<std::string> cases;
    for (const Record* v : volumes) cases.insert(v->volume->case_id);
    out += fact("Volumes", std::to_string(volumes.size()) + " in " + std::to_string(cases.size()) +
                               (cases.size() == 1 ? " case" : " cases"));
  }
  if (!volumes3d.empty()) out += fact("3-D inputs", std::to_string(volumes3d.size()));
  if (info.missing_inputs) out += fact("Inputs not shown", std::to_string(info.missing_inputs));
  if (info.missing_pictures)
    out += fact("Slice pictures missing", std::to_string(info.missing_pictures));
  out += "</dl>\n";
  if (!info.skipped.empty()) {
    out += "<details class=\"problems\"><summary>" + std::to_string(info.skipped.size()) +
           (info.skipped.size() == 1 ? " record" : " records") +
           " could not be read (not shown)</summary><ul>";
    for (const std::string& s : info.skipped) out += "<li>" + html_escape(s) + "</li>";
    out += "</ul></details>\n";
  }
  // The filter and box toggle act on the image cards only; a volume-only page has none.
  if (images)
    out +=
        "<div class=\"toolbar\"><input id=\"filter\" type=\"search\" placeholder=\"Filter by "
        "file, label or #class\" aria-label=\"filter\"><label><input type=\"checkbox\" "
        "id=\"boxes\" checked> boxes</label><span id=\"shown\">" +
        std::to_string(images) + " of " + std::to_string(images) + " shown</span></div>\n";
  out += "</header>\n" + info.sections;
  if (!volumes.empty()) out += render_viewer(volumes);
  if (!volumes3d.empty()) out += render_viewer3d(volumes3d);
  if (!comparisons.empty()) out += render_comparisons(comparisons, info.faithfulness, info.lazy);
  if (images > compared.size()) {
    out += "<main>\n";
    for (const Record& r : records)
      if (!r.volume && !compared.count(&r)) out += card(r, info.lazy, many_models);
    out += "</main>\n";
  }
  out += "<footer>";
  if (images)
    out +=
        "Overlays: the class activation map blended over the input; outlined: the box around "
        "the largest region above the box threshold. ";
  if (!volumes.empty())
    out +=
        "Volumes: each slice with its class activation map over it; the strip shows the "
        "map's peak on each slice. ";
  if (!volumes3d.empty())
    out +=
        "3-D inputs: three orthogonal planes through the crosshair, each with the class "
        "activation map over it. ";
  out +=
      "Scores are softmax probabilities (sigmoid for single-logit models).</footer>\n"
      "<script>";
  out += kScript;
  if (!volumes.empty()) out += kViewerScript;
  if (!volumes3d.empty()) out += kViewer3dScript;
  return out + "</script>\n</body>\n</html>\n";
}

}  // namespace camkit::report
