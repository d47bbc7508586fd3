// camkit/preprocess.hpp — turning an Image into the model's input, exactly as torchvision does.
//
// Usage:
//   camkit::Preprocess pre = *camkit::find_preset("imagenet");  // Resize(256), CenterCrop(224), ...
//   camkit::Prepared in = camkit::prepare(camkit::read_input("cat.jpg"), pre);
//   // in.chw holds channels*height*width floats; in.geometry maps input pixels back to the image.
//
// Resizing follows torchvision's Resize on PIL images: bilinear with antialiasing when shrinking
// (PIL's triangle filter widened by the scale factor), 8-bit sources rounded to 8 bits after each
// pass as PIL does. CenterCrop's offsets use Python's round-half-to-even.
//
// Threading: all functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "camkit/image.hpp"

namespace camkit {

/// How an Image becomes a model input. Zero sizes mean "not applied".
struct Preprocess {
  int channels = 3;        ///< channels the model takes: 1 or 3
  int resize = 0;          ///< torchvision Resize(int): shorter side to this length
  int crop_height = 0;     ///< CenterCrop after resize
  int crop_width = 0;
  int size_height = 0;     ///< Resize((H, W)): direct resize, used instead of resize/crop
  int size_width = 0;
  std::vector<float> mean;  ///< empty: no normalisation; one value applies to every channel
  std::vector<float> std;

  /// The model input's size when fixed by this recipe (crop, or direct size), else 0.
  int input_height() const { return size_height ? size_height : crop_height; }
  int input_width() const { return size_width ? size_width : crop_width; }
  bool normalises() const { return !mean.empty() || !std.empty(); }
};

/// A named recipe from the table of presets ("imagenet": Resize 256, CenterCrop 224, 3 channels,
/// mean 0.485,0.456,0.406, std 0.229,0.224,0.225). Returns nullopt for an unknown name.
std::optional<Preprocess> find_preset(std::string_view name);

/// The names of all presets, for help texts.
std::vector<std::string> preset_names();

/// Where the model input came from: input pixel (x, y) covers the image region
/// [to_image_x(x), to_image_x(x + 1)) x [to_image_y(y), to_image_y(y + 1)).
struct InputGeometry {
  int image_height = 0, image_width = 0;      ///< the decoded image
  int resized_height = 0, resized_width = 0;  ///< after resize (== image size when not resized)
  int crop_y = 0, crop_x = 0;                 ///< top-left of the crop in the resized image
  int input_height = 0, input_width = 0;      ///< the model input

  double to_image_x(double x) const {
    return (x + crop_x) * static_cast<double>(image_width) / resized_width;
  }
  double to_image_y(double y) const {
    return (y + crop_y) * static_cast<double>(image_height) / resized_height;
  }
};

/// A model input: planar (C, H, W) float samples after resize, crop and normalisation.
struct Prepared {
  int channels = 0, height = 0, width = 0;
  std::vector<float> chw;
  InputGeometry geometry;
};

/// Applies the recipe. Images with 3 channels feeding a 1-channel model are converted to grey
/// (PIL's convert("L") weights, 299/587/114); grey images feeding a 3-channel model are
/// replicated. Floating-point (.npy) sources must already have the model's channel count.
/// An image already at the recipe's input size is neither resized nor cropped.
/// Throws Error(ErrorCode::input) naming `source` when the channels cannot be matched or the
/// image is smaller than the crop.
Prepared prepare(const Image& image, const Preprocess& recipe, const std::string& source = "");

/// torchvision/PIL bilinear resize (antialiased when shrinking) of an interleaved HWC image.
/// When round_to_8bit is set, samples are treated as value/255 and each pass is rounded to
/// whole grey levels, as PIL does for 8-bit images.
Image resize_bilinear_antialias(const Image& image, int height, int width, bool round_to_8bit);

}  // namespace camkit
