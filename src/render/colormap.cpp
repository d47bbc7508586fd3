// Colormap names and lookups (see camkit/render.hpp; the tables live in colormap_data.cpp).
#include <algorithm>

#include "camkit/render.hpp"
#include "render/colormap_lut.hpp"

namespace camkit {
namespace {

struct ColormapEntry {
  Colormap map;
  const char* name;
  const std::uint8_t* lut;
};

const ColormapEntry kColormaps[] = {
    {Colormap::jet, "jet", render_detail::kJetLut},
    {Colormap::turbo, "turbo", render_detail::kTurboLut},
    {Colormap::inferno, "inferno", render_detail::kInfernoLut},
    {Colormap::viridis, "viridis", render_detail::kViridisLut},
    {Colormap::bone, "bone", render_detail::kBoneLut},
    {Colormap::gray, "gray", render_detail::kGrayLut},
};

const ColormapEntry& entry(Colormap map) {
  for (const ColormapEntry& e : kColormaps) {
    if (e.map == map) return e;
  }
  return kColormaps[0];  // unreachable for valid enumerators
}

}  // namespace

namespace render_detail {
const std::uint8_t* colormap_lut(Colormap map) {
  return entry(map).lut;
}
}  // namespace render_detail

std::optional<Colormap> parse_colormap(std::string_view name) {
  for (const ColormapEntry& e : kColormaps) {
    if (name == e.name) return e.map;
  }
  return std::nullopt;
}

std::string colormap_name(Colormap map) {
  return entry(map).name;
}

void colormap_rgb(Colormap map, float value, std::uint8_t rgb[3]) {
  const std::uint8_t* c = entry(map).lut + 3 * render_detail::colormap_index(value);
  std::copy(c, c + 3, rgb);
}

}  // namespace camkit
