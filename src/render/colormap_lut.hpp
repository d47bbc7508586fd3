// render/colormap_lut.hpp — private: the 256-entry 8-bit tables behind camkit::Colormap.
#pragma once

#include <cstdint>

#include "camkit/render.hpp"

namespace camkit::render_detail {

// matplotlib's tables rounded to 8 bits (colormap_data.cpp, generated): entry i is the colour
// of value i / 255, as RGB triples.
extern const std::uint8_t kJetLut[768];
extern const std::uint8_t kTurboLut[768];
extern const std::uint8_t kInfernoLut[768];
extern const std::uint8_t kViridisLut[768];
extern const std::uint8_t kBoneLut[768];
extern const std::uint8_t kGrayLut[768];

/// The 768-byte table (256 RGB triples) of `map`; static storage, never null.
const std::uint8_t* colormap_lut(Colormap map);

/// Table index of a value: round(clamp(v, 0, 1) * 255); NaN maps to 0.
inline int colormap_index(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 1.0f) return 255;
  return static_cast<int>(v * 255.0f + 0.5f);
}

}  // namespace camkit::render_detail
