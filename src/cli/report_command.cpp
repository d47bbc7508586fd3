// camkit report DIR: a static HTML page of an explain output directory.
#include <iostream>
#include <memory>

#include "camkit/error.hpp"
#include "camkit/report.hpp"
#include "cli/commands.hpp"
#include "cli/printable.hpp"

namespace camkit::cli {
namespace {

struct ReportArgs {
  std::string dir;
  std::string title;
  std::string image_colormap = "gray";
  int image_size = ReportOptions().max_image_side;
};

int run_report(const ReportArgs& a) {
  ReportOptions opt;
  opt.title = a.title.empty() ? "camkit report: " + a.dir : a.title;
  opt.image_colormap = *parse_colormap(a.image_colormap);  // checked by CLI11
  opt.max_image_side = a.image_size;
  const ReportSummary s = write_report(a.dir, opt);
  for (const std::string& e : s.errors) diagnose(e);
  if (s.missing_inputs)
    diagnose("note: " + std::to_string(s.missing_inputs) +
             " input(s) not found or unreadable, shown as placeholders");
  if (s.missing_pictures)
    diagnose("note: " + std::to_string(s.missing_pictures) +
             " slice or heat-map picture(s) of volume records not found, shown as placeholders");
  std::cout << printable(s.index) << std::endl;
  return s.errors.empty() ? 0 : static_cast<int>(ErrorCode::input);
}

}  // namespace

Runner add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write DIR/index.html: a static page of the overlays, boxes and scores that "
      "`camkit explain -o DIR` wrote, with a slice viewer for MRI/CT volumes (open it in a "
      "browser)");
  cmd->add_option("dir", a->dir, "Output directory of camkit explain")->required();
  cmd->add_option("--title", a->title, "Page title (default: \"camkit report: DIR\")");
  cmd->add_option("--image-colormap", a->image_colormap, "How grey inputs are shown: gray, bone")
      ->check(CLI::IsMember({"gray", "bone"}))
      ->capture_default_str();
  cmd->add_option("--image-size", a->image_size,
                  "Longest side of the input copies the report shows, pixels")
      ->check(CLI::Range(16, 1 << 16))
      ->capture_default_str();
  return [a] { return run_report(*a); };
}

}  // namespace camkit::cli
