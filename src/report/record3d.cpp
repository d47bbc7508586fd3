// Reading the parts of a record that `camkit explain` writes for 3-D models (docs/volumes3d.md):
// "volume3d" with its slice mosaics, and each explanation's peak voxel and map mosaics.
#include <cmath>
#include <limits>

#include "camkit/error.hpp"
#include "report/json_fields.hpp"
#include "report/page.hpp"

namespace camkit::report {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  bad_record(where, what);
}

const json* field(const json& object, const char* key) {
  return json_field(object, key);
}

int integer(const json& v, const std::string& where, int min) {
  if (!v.is_number_integer()) bad(where, "expected an integer");
  const auto i = v.get<std::int64_t>();
  if (i < min || i > std::numeric_limits<int>::max())
    bad(where, "out of range (" + std::to_string(i) + ")");
  return static_cast<int>(i);
}

int integer_field(const json& object, const char* key, const std::string& where, int min) {
  const json* v = field(object, key);
  if (!v) bad(where + key, "missing");
  return integer(*v, where + key, min);
}

std::string text_field(const json& object, const char* key, const std::string& where) {
  const json* v = field(object, key);
  if (!v) bad(where + key, "missing");
  if (!v->is_string()) bad(where + key, "expected a string");
  return v->get<std::string>();
}

// "d", "h", "w" as 0, 1, 2.
int axis_of(const json& object, const std::string& where) {
  const std::string a = text_field(object, "axis", where);
  if (a == "d") return 0;
  if (a == "h") return 1;
  if (a == "w") return 2;
  bad(where + "axis", "expected \"d\", \"h\" or \"w\" (not \"" + a + "\")");
}

// Voxel sizes from the affine's columns (world mm per voxel step along d, h and w).
std::array<double, 3> spacing_of(const json& affine) {
  std::array<double, 3> s{1, 1, 1};
  if (!affine.is_array() || affine.size() < 3) bad("volume3d.affine", "expected a 4x4 array");
  for (int c = 0; c < 3; ++c) {
    double sum = 0;
    for (std::size_t r = 0; r < 3; ++r) {
      const json& row = affine[r];
      if (!row.is_array() || row.size() < 4 || !row[static_cast<std::size_t>(c)].is_number())
        bad("volume3d.affine", "expected a 4x4 array of numbers");
      const double v = row[static_cast<std::size_t>(c)].get<double>();
      sum += v * v;
    }
    // A degenerate column (or a non-finite one) says nothing: the viewer keeps square voxels.
    const double n = std::sqrt(sum);
    s[static_cast<std::size_t>(c)] = std::isfinite(n) && n > 0 ? n : 1;
  }
  return s;
}

}  // namespace

void parse_volume3d(const json& j, Record& r) {
  const json& v = j.at("volume3d");
  if (!v.is_object()) bad("volume3d", "expected an object");
  Volume3d out;
  const json* kind = field(v, "kind");
  if (kind && !kind->is_string()) bad("volume3d.kind", "expected a string");
  out.kind = kind ? kind->get<std::string>() : "";
  out.depth = integer_field(j.at("image"), "depth", "image.", 1);
  out.height = r.height;
  out.width = r.width;
  const int sizes[3] = {out.depth, out.height, out.width};
  if (const json* affine = field(v, "affine")) out.spacing = spacing_of(*affine);
  if (const json* frames = field(v, "frames")) {
    if (!frames->is_array()) bad("volume3d.frames", "expected an array");
    for (const json& f : *frames) out.frames.push_back(integer(f, "volume3d.frames", 0));
  }
  if (const json* fps = field(v, "fps")) {
    if (!fps->is_number()) bad("volume3d.fps", "expected a number");
    out.fps = fps->get<double>();
  }
  if (const json* mosaics = field(v, "mosaics")) {
    if (!mosaics->is_array()) bad("volume3d.mosaics", "expected an array");
    for (std::size_t i = 0; i < mosaics->size(); ++i) {
      const json& m = (*mosaics)[i];
      const std::string where = "volume3d.mosaics[" + std::to_string(i) + "].";
      if (!m.is_object()) bad(where.substr(0, where.size() - 1), "expected an object");
      const int a = axis_of(m, where);
      MosaicAxis& axis = out.axes[static_cast<std::size_t>(a)];
      if (axis.slices) bad(where + "axis", "a second mosaic of this axis");
      axis.slices = integer_field(m, "slices", where, 1);
      // Tile k must be plane k in every mosaic of the axis, so the count is the volume's size.
      if (axis.slices != sizes[a])
        bad(where + "slices", std::to_string(axis.slices) + " for a volume of " +
                                  std::to_string(sizes[a]) + " along this axis");
      axis.columns = integer_field(m, "columns", where, 1);
      axis.tile_width = integer_field(m, "tile_width", where, 1);
      axis.tile_height = integer_field(m, "tile_height", where, 1);
      axis.file = text_field(m, "file", where);
    }
  }
  const json& explanations = j.at("explanations");
  for (std::size_t i = 0; i < explanations.size() && i < r.explanations.size(); ++i) {
    const json& e = explanations[i];
    ExplainedClass& c = r.explanations[i];
    const std::string where = "explanations[" + std::to_string(i) + "].";
    if (const json* peak = field(e, "peak")) {
      const json* voxel = peak->is_object() ? field(*peak, "voxel") : nullptr;
      if (!peak->is_object() || !voxel || !voxel->is_array() || voxel->size() != 3)
        bad(where + "peak.voxel", "expected [d, h, w]");
      std::array<int, 3> p{};
      for (int a = 0; a < 3; ++a) {
        p[static_cast<std::size_t>(a)] =
            integer((*voxel)[static_cast<std::size_t>(a)], where + "peak.voxel", 0);
        if (p[static_cast<std::size_t>(a)] >= sizes[a])
          bad(where + "peak.voxel", "outside the volume of " + std::to_string(out.depth) + "x" +
                                        std::to_string(out.height) + "x" +
                                        std::to_string(out.width));
      }
      c.peak_voxel = p;
    }
    if (const json* mosaics = field(e, "mosaics")) {
      if (!mosaics->is_array()) bad(where + "mosaics", "expected an array");
      for (std::size_t k = 0; k < mosaics->size(); ++k) {
        const json& m = (*mosaics)[k];
        const std::string w = where + "mosaics[" + std::to_string(k) + "].";
        if (!m.is_object()) bad(w.substr(0, w.size() - 1), "expected an object");
        const int a = axis_of(m, w);
        if (!out.axes[static_cast<std::size_t>(a)].slices)
          bad(w + "axis", "no mosaic of the input along this axis");
        c.mosaics[static_cast<std::size_t>(a)] = text_field(m, "file", w);
      }
    }
  }
  r.volume3d = std::move(out);
}

}  // namespace camkit::report
