// camkit/preprocess.hpp — turning an Image into the model's input, exactly as torchvision does.
//
// Usage:
//   camkit::Preprocess pre = *camkit::find_preset("imagenet");  // Resize 256, crop 224, ...
//   camkit::Prepared in = camkit::prepare(camkit::read_input("cat.jpg"), pre);
//   // in.chw holds channels*height*width floats; in.geometry maps input pixels back to the image.
//
// Resizing follows torchvision's Resize on PIL images: bilinear with antialiasing when shrinking
// (PIL's triangle filter widened by the scale factor), 8-bit sources rounded to 8 bits after each
// pass as PIL does, so 8-bit results equal Pillow 9.4's bit for bit. Float sources are resized
// like PIL mode "F" (no rounding). 16-bit sources are resized as floats (value / 65535) too:
// torchvision cannot normalise PIL's 16-bit mode "I" at all, and PIL's mode "I" resize differs
// only by its per-pass rounding (at most one 16-bit level). Resize(int) sizes the longer side
// int(size * long / short) as torchvision does; CenterCrop's offsets use Python's
// round-half-to-even.
//
// Threading: all functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "camkit/image.hpp"
#include "camkit/volume.hpp"

namespace camkit {

/// How an Image becomes a model input. Zero sizes mean "not applied".
struct Preprocess {
  int channels = 3;     ///< channels the model takes: 1 or 3
  int resize = 0;       ///< torchvision Resize(int): shorter side to this length
  int crop_height = 0;  ///< CenterCrop after resize
  int crop_width = 0;
  int size_height = 0;  ///< Resize((H, W)): direct resize, used instead of resize/crop
  int size_width = 0;
  std::vector<float> mean;  ///< empty: no normalisation; one value applies to every channel
  std::vector<float> std;

  // 3-D inputs (prepare_volume; docs/volumes3d.md).
  /// Volumes: with size_height and size_width, resampled (trilinear) to D x H x W.
  int size_depth = 0;
  /// Video clips: this many frames, sampled at evenly spaced times; each frame then takes
  /// size_* (a direct resize, as torchvision's video presets) and crop_* (a centre crop).
  int frames = 0;
  /// Volumes: a window (centre, width) of the stored values mapped to [0, 1] with clipping,
  /// before mean/std (MONAI's ScaleIntensityRange with clip).
  std::optional<std::pair<double, double>> window;
  /// Volumes: each volume's own z-score (v - mean) / std over all its samples, before mean/std.
  bool zscore = false;

  /// The model input's size when fixed by this recipe (crop, or direct size), else 0.
  int input_height() const { return crop_height ? crop_height : size_height; }
  int input_width() const { return crop_width ? crop_width : size_width; }
  /// 3-D inputs: the depth when fixed (size_depth, or frames for clips), else 0.
  int input_depth() const { return size_depth ? size_depth : frames; }
  bool normalises() const { return !mean.empty() || !std.empty() || window || zscore; }
};

/// A named recipe from the table of presets ("imagenet": Resize 256, CenterCrop 224, 3 channels,
/// mean 0.485,0.456,0.406, std 0.229,0.224,0.225; "xray": 1 channel, Resize((224, 224)),
/// mean 0.49, std 0.248). Names are case-sensitive. Returns nullopt for an unknown name.
std::optional<Preprocess> find_preset(std::string_view name);

/// The names of all presets, for help texts.
std::vector<std::string> preset_names();

/// Changes to a model's recipe, as camkit's flags (--preset, --resize, --crop, --size, --mean,
/// --std, --channels) and the Python module's arguments give them. Empty or 0: unchanged.
struct PreprocessChanges {
  std::string preset;
  int resize = 0;
  std::vector<int> crop, size;  ///< N or H,W (size: D,H,W for 3-D models)
  std::vector<float> mean, std;
  int channels = 0;
};

/// `recipe` (a model's own) with `changes` applied: a preset replaces the whole recipe, except
/// its channels when `keep_channels` (the model's graph fixes them); then --resize/--crop
/// replace a direct size, --size replaces resize and crop, and mean, std and channels replace
/// theirs; a size D,H,W (3-D models only, `volume_model`) sets the volume's size. Throws
/// Error(ErrorCode::usage) for an unknown preset, a crop or size that is not N or H,W (or
/// D,H,W), or a mean/std count other than 1 or the channel count.
Preprocess apply_changes(const Preprocess& recipe, const PreprocessChanges& changes,
                         bool keep_channels, bool volume_model = false);

/// Where the model input came from: input pixel (x, y) covers the image region
/// [to_image_x(x), to_image_x(x + 1)) x [to_image_y(y), to_image_y(y + 1)).
struct InputGeometry {
  int image_height = 0, image_width = 0;      ///< the decoded image
  int resized_height = 0, resized_width = 0;  ///< after resize (== image size when not resized)
  int crop_y = 0, crop_x = 0;                 ///< top-left of the crop in the resized image
  int input_height = 0, input_width = 0;      ///< the model input
  /// The third axis of volumes and clips (depth, or frames); 1 for images, whose
  /// to_image_z(0) .. to_image_z(1) is 0 .. 1, so 2-D boxes and peaks carry a unit depth.
  int image_depth = 1, resized_depth = 1, crop_z = 0, input_depth = 1;

  double to_image_x(double x) const {
    return (x + crop_x) * static_cast<double>(image_width) / resized_width;
  }
  double to_image_y(double y) const {
    return (y + crop_y) * static_cast<double>(image_height) / resized_height;
  }
  double to_image_z(double z) const {
    return (z + crop_z) * static_cast<double>(image_depth) / resized_depth;
  }
};

/// A model input: planar (C, H, W) float samples after resize, crop and normalisation; for
/// 3-D models (C, D, H, W), with depth D (prepare_volume).
struct Prepared {
  int channels = 0, height = 0, width = 0;
  std::vector<float> chw;  ///< channels * depth * height * width samples, planar
  InputGeometry geometry;
  int depth = 1;  ///< D of a 3-D input; 1 for images
};

/// Applies the recipe: channels, Resize (size_* when set, else resize), CenterCrop, then
/// (x - mean[c]) / std[c]. Images with 3 channels feeding a 1-channel model are converted to grey
/// (PIL's convert("L") integer arithmetic, 299/587/114, also applied to 16-bit levels); grey
/// images (any sample type) feeding a 3-channel model are replicated. Floating-point RGB
/// sources (.npy, windowed DICOM) are not converted to grey.
/// Unlike torchvision: an image already at the recipe's input size is neither resized nor
/// cropped (so a 224x224 image skips "imagenet"'s Resize(256)), and an image smaller than the
/// crop is refused rather than zero-padded.
/// Throws Error(ErrorCode::input) naming `source` ("image" when empty) when the image is empty,
/// the channels cannot be matched ("<source>: has N channels, the model takes M") or the image is
/// smaller than the crop ("<source>: image WxH is smaller than the crop WxH"); throws
/// Error(ErrorCode::usage) "preprocess: ..." for an invalid recipe (channels not 1 or 3, negative
/// sizes, crop or size with one side only, mean/std counts other than 0, 1 or channels, std 0).
Prepared prepare(const Image& image, const Preprocess& recipe, const std::string& source = "");

/// A scan or clip as the input of a 3-D model, planar (C, D, H, W) (docs/volumes3d.md):
///  - scans: the window (recipe.window, then clipped to [0, 1]) or the volume's z-score
///    (recipe.zscore), then trilinear resampling (align_corners=False) to size_depth x
///    size_height x size_width where set (an axis not set keeps its size), then (x - mean) / std;
///  - clips (recipe.frames > 0): every frame resized to size_height x size_width by bilinear
///    interpolation without antialiasing, rounded to 8-bit levels (torchvision's resize of uint8
///    tensors), centre-cropped to crop_height x crop_width, then (x - mean) / std, as
///    torchvision's VideoClassification preset; a volume that is not a video must already have
///    recipe.frames frames.
/// Grey volumes are replicated into 3-channel models; other channel mismatches are refused.
/// geometry maps input voxels back to the volume (depth: to_image_z). Throws
/// Error(ErrorCode::input) naming `source` for an empty volume, channels that do not match
/// ("<source>: has 4 channels (the 4th NIfTI dimension), the model takes 1"), a clip of the wrong
/// length or frames smaller than the crop; Error(ErrorCode::usage) for an invalid recipe.
Prepared prepare_volume(const Volume& volume, const Preprocess& recipe,
                        const std::string& source = "");

/// torchvision/PIL bilinear resize (antialiased when shrinking) of an interleaved HWC image.
/// When round_to_8bit is set, samples are treated as value/255 and each pass is rounded to
/// whole grey levels, as PIL does for 8-bit images (the result has bit_depth 8); otherwise the
/// filter runs in double and keeps the source's bit_depth. A pass whose size is unchanged is
/// skipped, as in PIL. Throws Error(ErrorCode::usage) for a non-positive target size and
/// Error(ErrorCode::input) for an empty or inconsistent image.
Image resize_bilinear_antialias(const Image& image, int height, int width, bool round_to_8bit);

}  // namespace camkit
