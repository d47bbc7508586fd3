// The printed forms of a sanity check: a table, one JSON object, the figure of maps.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "camkit/sanity.hpp"

namespace camkit {
namespace {

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::vector<const SanityScores*> rows_of(const SanityMethod& m) {
  std::vector<const SanityScores*> out;
  for (const SanityScores& s : m.cascade) out.push_back(&s);
  if (m.against) out.push_back(&*m.against);
  return out;
}

nlohmann::ordered_json scores_json(const SanityScores& s) {
  return {{"step", s.step},
          {"spearman", s.spearman},
          {"ssim", s.ssim},
          {"hog", s.hog ? nlohmann::ordered_json(*s.hog) : nlohmann::ordered_json()},
          {"maps", s.maps}};
}

}  // namespace

std::string sanity_table(const SanityResult& r) {
  std::ostringstream out;
  out << "sanity: cascading randomisation of " << r.blocks.size() << " blocks (depth "
      << r.options.depth << ", seed " << r.options.seed << ") on " << r.classes.size() << " inputs"
      << (r.against.empty() ? "" : "; against " + r.against) << "\n";
  std::vector<std::vector<std::string>> rows{
      {"method", "randomised-to", "spearman", "ssim", "hog"}};
  for (const SanityMethod& m : r.methods)
    for (const SanityScores* s : rows_of(m))
      rows.push_back({m.method, s->step, fixed(s->spearman, 4), fixed(s->ssim, 4),
                      s->hog ? fixed(*s->hog, 4) : "-"});
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      out << (c ? "  " : "") << (c < 2 ? row[c] + pad : pad + row[c]);
    }
    out << "\n";
  }
  for (const SanityMethod& m : r.methods)
    out << m.method << ": "
        << (m.flagged ? "FLAGGED: " + m.reason
                      : "passes (maps change when the weights do; threshold " +
                            fixed(r.options.threshold, 2) + ")")
        << "\n";
  out << "(similarity to the original model's maps: lower means the map depends on the "
         "weights)\n";
  return out.str();
}

std::string sanity_json(const SanityResult& r) {
  nlohmann::ordered_json j;
  j["sanity"] = "cascading model-parameter randomisation";
  j["model"] = r.model;
  j["against"] = r.against.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.against);
  j["depth"] = r.options.depth;
  j["seed"] = r.options.seed;
  j["threshold"] = r.options.threshold;
  j["blocks"] = r.blocks;
  j["classes"] = r.classes;
  j["methods"] = nlohmann::ordered_json::array();
  for (const SanityMethod& m : r.methods) {
    nlohmann::ordered_json cascade = nlohmann::ordered_json::array();
    for (const SanityScores& s : m.cascade) cascade.push_back(scores_json(s));
    j["methods"].push_back(
        {{"method", m.method},
         {"flagged", m.flagged},
         {"reason", m.reason},
         {"figure", "sanity_" + m.method + ".png"},
         {"cascade", cascade},
         {"against", m.against ? scores_json(*m.against) : nlohmann::ordered_json()}});
  }
  return j.dump(2) + "\n";
}

Rgb8 sanity_figure(const SanityResult& r, const SanityMethod& m) {
  constexpr int side = 96, gap = 4, header = 28;
  size_t columns = 0;
  for (const auto& row : m.figure) columns = std::max(columns, row.size());
  const int cols = static_cast<int>(std::max<size_t>(columns, 1));
  const int rows = static_cast<int>(m.figure.size());
  cv::Mat canvas(header + rows * (side + gap) + gap, gap + cols * (side + gap), CV_8UC3,
                 cv::Scalar(255, 255, 255));
  std::vector<std::string> names{"original"};
  for (const SanityScores& s : m.cascade) names.push_back(s.step);
  if (m.against) names.push_back("against");
  for (int c = 0; c < cols && c < static_cast<int>(names.size()); ++c) {
    std::string name = names[static_cast<size_t>(c)];
    if (name.size() > 14) name = ".." + name.substr(name.size() - 12);
    cv::putText(canvas, name, cv::Point(gap + c * (side + gap), header - 10),
                cv::FONT_HERSHEY_PLAIN, 0.8, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  for (int i = 0; i < rows; ++i)
    for (size_t c = 0; c < m.figure[static_cast<size_t>(i)].size(); ++c) {
      const Map small = upsample_bilinear(m.figure[static_cast<size_t>(i)][c], side, side);
      const int x0 = gap + static_cast<int>(c) * (side + gap), y0 = header + i * (side + gap);
      for (int y = 0; y < side; ++y)
        for (int x = 0; x < side; ++x) {
          std::uint8_t rgb[3];
          colormap_rgb(Colormap::jet, small.at(y, x), rgb);
          canvas.at<cv::Vec3b>(y0 + y, x0 + x) = cv::Vec3b(rgb[0], rgb[1], rgb[2]);
        }
    }
  (void)r;
  Rgb8 out;
  out.height = canvas.rows;
  out.width = canvas.cols;
  out.data.assign(canvas.datastart, canvas.dataend);
  return out;
}

}  // namespace camkit
