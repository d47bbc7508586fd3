// The printed forms of an EvalReport: a table for people, one JSON object for programs.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "camkit/eval.hpp"

namespace camkit {
namespace {

std::string percent(const Rate& r) {
  if (!r) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * *r);
  return buf;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string cell(const std::string& s, size_t width) {
  return std::string(width > s.size() ? width - s.size() : 0, ' ') + s;
}

nlohmann::ordered_json value(const Rate& r) {
  return r ? nlohmann::ordered_json(*r) : nlohmann::ordered_json();
}

// The threshold as written on the command line (0.2, not 0.200000003).
double exact(float t) {
  return std::stod(fixed(t, 6));
}

std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::ostringstream out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) out << (c ? "  " : "") << cell(row[c], width[c]);
    out << "\n";
  }
  return out.str();
}

double per_image(double seconds, int images) {
  return images > 0 ? seconds / images : 0;
}

nlohmann::ordered_json road_json(const FaithfulnessReport& f) {
  if (f.options.road_percentiles.empty()) return nullptr;
  return {{"imputation", "noisy linear"},
          {"noise", f.options.road_noise},
          {"seed", f.options.road_seed},
          {"percentiles", f.options.road_percentiles},
          {"morf", f.road_morf},
          {"lerf", f.road_lerf},
          {"morf_drop", f.road_morf_drop},
          {"lerf_drop", f.road_lerf_drop},
          {"morf_mean", value(f.road_morf_mean)},
          {"lerf_mean", value(f.road_lerf_mean)},
          {"lerf_minus_morf", value(f.road_gap)}};
}

std::string faithfulness_table(const FaithfulnessReport& f) {
  auto number = [](const Rate& r) { return r ? fixed(*r, 4) : std::string("-"); };
  std::ostringstream out;
  out << "faithfulness: " << f.method << ", class " << f.target << ", " << f.options.steps
      << " steps, " << f.trials << " trials on " << f.images << " images\n";
  out << aligned(
      {{"deletion-auc", "insertion-auc", "avg-drop", "increase", "map-s/img", "total-s/img"},
       {number(f.deletion_auc), number(f.insertion_auc), percent(f.average_drop),
        percent(f.increase_in_confidence), fixed(per_image(f.map_seconds, f.images), 3),
        fixed(per_image(f.total_seconds, f.images), 3)}});
  out << "(better: deletion-auc and avg-drop lower, insertion-auc and increase higher)\n";
  if (f.road_morf.empty()) return out.str();
  // ROAD: one column per percentile.
  out << "ROAD (noisy linear imputation, noise " << fixed(f.options.road_noise, 4)
      << "): class probability and drop with p% of the pixels removed\n";
  std::vector<std::vector<std::string>> rows{
      {"p%"}, {"morf"}, {"lerf"}, {"morf-drop"}, {"lerf-drop"}};
  for (size_t i = 0; i < f.road_morf.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", f.options.road_percentiles[i]);
    rows[0].push_back(buf);
    rows[1].push_back(fixed(f.road_morf[i], 4));
    rows[2].push_back(fixed(f.road_lerf[i], 4));
    rows[3].push_back(fixed(f.road_morf_drop[i], 4));
    rows[4].push_back(fixed(f.road_lerf_drop[i], 4));
  }
  out << aligned(rows);
  out << "ROAD means over percentiles: morf " << number(f.road_morf_mean) << ", lerf "
      << number(f.road_lerf_mean) << ", lerf - morf " << number(f.road_gap)
      << " (better: morf lower, lerf and lerf - morf higher)\n";
  return out.str();
}

nlohmann::ordered_json faithfulness_json(const FaithfulnessReport& f) {
  return {{"method", f.method},
          {"class", f.target},
          {"steps", f.options.steps},
          {"images", f.images},
          {"trials", f.trials},
          {"deletion_auc", value(f.deletion_auc)},
          {"insertion_auc", value(f.insertion_auc)},
          {"average_drop", value(f.average_drop)},
          {"increase_in_confidence", value(f.increase_in_confidence)},
          {"increases", f.increases},
          {"map_seconds_per_image", per_image(f.map_seconds, f.images)},
          {"seconds_per_image", per_image(f.total_seconds, f.images)},
          {"road", road_json(f)}};
}

std::string multilabel_line(const MultiLabelMetrics& m) {
  return "multi-label: mean AUROC " + (m.mean_auroc ? fixed(*m.mean_auroc, 4) : std::string("-")) +
         " over " + std::to_string(m.auroc_classes) + " of " +
         std::to_string(m.class_auroc.size()) + " classes; per image F1 " + percent(m.example_f1) +
         ", exact match " + percent(m.exact_match) + " (" + std::to_string(m.images) + " images)\n";
}

nlohmann::ordered_json multilabel_json(const MultiLabelMetrics& m) {
  nlohmann::ordered_json per = nlohmann::ordered_json::array();
  for (const Rate& a : m.class_auroc) per.push_back(value(a));
  return {{"images", m.images},
          {"mean_auroc", value(m.mean_auroc)},
          {"auroc_classes", m.auroc_classes},
          {"class_auroc", per},
          {"example_f1", value(m.example_f1)},
          {"exact_match", value(m.exact_match)}};
}

}  // namespace

std::string format_table(const EvalReport& r) {
  if (!r.localisation) {
    std::string out = "images: " + std::to_string(r.images) + " evaluated, " +
                      std::to_string(r.skipped) + " skipped (no boxes: no localisation)\n";
    if (r.classification) {
      out += "classification: top-1 " + percent(r.top1_cls);
      if (r.options.top_k > 1)
        out += ", top-" + std::to_string(r.options.top_k) + " " + percent(r.topk_cls);
      out += "\n";
    }
    if (r.multilabel) out += multilabel_line(*r.multilabel);
    return r.faithfulness ? out + faithfulness_table(*r.faithfulness) : out;
  }
  const bool topk = r.options.top_k > 1;
  const std::string k = std::to_string(r.options.top_k);
  std::vector<std::string> head{"threshold", "n", "top1-cls", "top1-loc"};
  if (topk) head.insert(head.end(), {"top" + k + "-cls", "top" + k + "-loc"});
  head.insert(head.end(), {"gt-known-loc", "mIoU", "pointing"});
  std::vector<std::vector<std::string>> rows{head};
  for (const ThresholdMetrics& m : r.rows) {
    std::vector<std::string> row{fixed(m.threshold, 2), std::to_string(r.images),
                                 percent(r.top1_cls), percent(m.top1_loc)};
    if (topk) row.insert(row.end(), {percent(r.topk_cls), percent(m.topk_loc)});
    row.insert(row.end(), {percent(m.gt_known_loc), m.mean_iou ? fixed(*m.mean_iou, 4) : "-",
                           percent(r.pointing)});
    rows.push_back(row);
  }
  std::ostringstream out;
  out << aligned(rows);
  out << "images: " << r.images << " evaluated, " << r.skipped
      << " skipped; localisation: " << r.loc_images << " images, " << r.trials
      << " class trials; pointing: tolerance " << fixed(r.options.pointing_tolerance, 0)
      << (r.options.volume ? " voxels" : " px") << ", mean of " << r.pointing_classes
      << " per-class hit rates (overall " << percent(r.pointing_overall) << ")\n";
  out << "best threshold (gt-known-loc): "
      << (r.best ? fixed(r.rows[*r.best].threshold, 2) : std::string("-")) << "\n";
  if (r.multilabel) out << multilabel_line(*r.multilabel);
  if (r.faithfulness) out << faithfulness_table(*r.faithfulness);
  return out.str();
}

std::string format_json(const EvalReport& r) {
  nlohmann::ordered_json j;
  j["model"] = r.model;
  j["method"] = r.method;
  if (r.multilabel) j["multilabel"] = multilabel_json(*r.multilabel);
  if (!r.localisation) {
    j["counts"] = {{"inputs", r.inputs}, {"evaluated", r.images}, {"skipped", r.skipped}};
    if (r.classification) {
      j["top1_cls"] = value(r.top1_cls);
      j["topk_cls"] = value(r.topk_cls);
    }
    if (r.faithfulness) j["faithfulness"] = faithfulness_json(*r.faithfulness);
    return j.dump(2) + "\n";
  }
  j["counts"] = {{"inputs", r.inputs},   {"evaluated", r.images},
                 {"skipped", r.skipped}, {"localisation_images", r.loc_images},
                 {"trials", r.trials},   {"pointing_classes", r.pointing_classes}};
  j["settings"] = {{"iou_threshold", r.options.iou_threshold},
                   {"pointing_tolerance", r.options.pointing_tolerance},
                   {"top_k", r.options.top_k},
                   {"units", r.options.volume ? "voxels" : "pixels"}};
  j["top1_cls"] = value(r.top1_cls);
  j["top1_cls_correct"] = r.top1_cls_correct;
  j["topk_cls"] = value(r.topk_cls);
  j["topk_cls_correct"] = r.topk_cls_correct;
  j["pointing"] = value(r.pointing);
  j["pointing_overall"] = value(r.pointing_overall);
  j["pointing_hits"] = r.pointing_hits;
  j["thresholds"] = nlohmann::ordered_json::array();
  for (const ThresholdMetrics& m : r.rows)
    j["thresholds"].push_back({{"threshold", exact(m.threshold)},
                               {"n", r.images},
                               {"top1_cls", value(r.top1_cls)},
                               {"top1_loc", value(m.top1_loc)},
                               {"top1_loc_correct", m.top1_loc_correct},
                               {"topk_loc", value(m.topk_loc)},
                               {"topk_loc_correct", m.topk_loc_correct},
                               {"gt_known_loc", value(m.gt_known_loc)},
                               {"gt_known_loc_correct", m.gt_known_correct},
                               {"mean_iou", value(m.mean_iou)},
                               {"pointing", value(r.pointing)}});
  j["best_threshold"] = r.best ? nlohmann::ordered_json(exact(r.rows[*r.best].threshold)) : nullptr;
  if (r.faithfulness) j["faithfulness"] = faithfulness_json(*r.faithfulness);
  return j.dump(2) + "\n";
}

}  // namespace camkit
