// The stages of an input of a 3-D model (docs/volumes3d.md): a scan or a clip in, raw maps
// (d, h, w), a NIfTI display map over the scan, three plane overlays and a 3-D box out.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "pipeline/mosaic3d.hpp"
#include "pipeline/stages.hpp"

namespace camkit::pipeline {
namespace {

namespace fs = std::filesystem;

// A clip's frame count: the recipe's, else the model's fixed depth.
int clip_frames(const Model& model, const Preprocess& pre, const std::string& path) {
  if (pre.frames > 0) return pre.frames;
  if (model.input_spec().depth > 0) return model.input_spec().depth;
  throw Error(ErrorCode::input, path +
                                    ": a video needs the model's frame count (metadata "
                                    "preprocess.frames or input.depth)");
}

// The index of the voxel holding coordinate `v` (pixel-edge units), clamped to [0, n).
int voxel_index(double v, int n) {
  return std::clamp(static_cast<int>(std::floor(v)), 0, n - 1);
}

const char* const kAxisName[3] = {"d", "h", "w"};

// Slice mosaics (docs/report.md): tiles of at most 256 pixels a side, and at most 16 M pixels
// a picture, which keeps a 128^3 volume at full resolution and a 512x512x300 CT decodable.
constexpr int kTileSide = 256;
constexpr long long kMosaicPixels = 1LL << 24;

// The region plane `axis` of the model input covers in the volume's plane, and the box's
// projection on that plane: plane axes (rows, columns) are (h, w), (d, w) or (d, h).
Region plane_region(const InputGeometry& g, int in_d, int in_h, int in_w, int axis) {
  const double x0 = g.to_image_x(0), x1 = g.to_image_x(in_w);
  const double y0 = g.to_image_y(0), y1 = g.to_image_y(in_h);
  const double z0 = g.to_image_z(0), z1 = g.to_image_z(in_d);
  if (axis == 0) return {x0, y0, x1, y1};
  if (axis == 1) return {x0, z0, x1, z1};
  return {y0, z0, y1, z1};
}

Box plane_box(const Box& b, int axis) {
  if (axis == 0) return {b.x0, b.y0, b.x1, b.y1};
  if (axis == 1) return {b.x0, b.z0, b.x1, b.z1};
  return {b.y0, b.z0, b.y1, b.z1};
}

nlohmann::json world_json(const VolumeSpace& s, double d, double h, double w) {
  const std::array<double, 3> p = s.world(d, h, w);
  return nlohmann::json{p[0], p[1], p[2]};
}

nlohmann::json affine_json(const VolumeSpace& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : s.affine) rows.push_back(nlohmann::json{r[0], r[1], r[2], r[3]});
  rows.push_back(nlohmann::json{0, 0, 0, 1});
  return rows;
}

}  // namespace

void decode_volume_item(Item& item, const Model& model, const PipelineOptions& o) {
  const PipelineInput& in = *item.in;
  item.classes = classes_for(in, model, o);
  check_input_type(in.path, !in.series.empty());
  Volume v = !in.series.empty() ? read_dicom_series(in.path, in.series, o.read)
             : is_video_file(in.path)
                 ? read_video(in.path, clip_frames(model, o.preprocess, in.path), o.read)
                 : read_volume_3d(in.path, o.read);
  item.prepared = prepare_volume(v, o.preprocess, in.path);
  const InputSpec spec = model.input_spec();
  if (spec.depth > 0 && item.prepared.depth != spec.depth)
    throw Error(ErrorCode::input, in.path + ": prepared to depth " +
                                      std::to_string(item.prepared.depth) + ", the model takes " +
                                      std::to_string(spec.depth) +
                                      " (metadata preprocess.size [D, H, W] resamples)");
  item.image_height = v.height;
  item.image_width = v.width;
  item.image_channels = v.channels;
  item.volume = std::make_shared<const Volume>(std::move(v));
  item.state = State::decoded;
}

void render_volume_item(Item& item, const Model& model, const PipelineOptions& o,
                        const std::string& hash, const OutputFolder& out) {
  const PipelineInput& in = *item.in;
  const Explanation& ex = item.ex;
  const Volume& vol = *item.volume;
  const InputGeometry& g = item.prepared.geometry;
  const fs::path dir = fs::path(in.relative).parent_path();
  const std::string stem = fs::path(in.relative).stem().string();
  nlohmann::json rec = record_header(item, model, hash);
  rec["image"]["depth"] = vol.depth;
  const bool nifti = vol.kind == "nifti";
  // World coordinates wherever the scan has an affine: NIfTI, and DICOM series with positions.
  const bool placed = !vol.space.source.empty();
  nlohmann::json volume{{"kind", vol.kind}};
  if (placed) {
    volume["affine"] = affine_json(vol.space);
    volume["affine_source"] = vol.space.source;
  }
  if (vol.kind == "video") {
    volume["frames"] = vol.frame_indices;
    volume["fps"] = vol.fps;
  }
  // The input's slice mosaics, one per axis (a clip only across its frames: its h and w
  // planes cut through time, which no viewer shows).
  const int mosaic_axes = o.overlay ? (vol.kind == "video" ? 1 : 3) : 0;
  std::vector<MosaicGrid> grids;
  std::vector<std::vector<Rgb8>> tiles;
  const PictureFormat format = overlay_format(*item.in, o);  // scans and clips: PNG unless asked
  const std::string ext = picture_extension(format);
  auto encode = [&](const Rgb8& picture) { return encode_picture(picture, format, o); };
  for (int axis = 0; axis < mosaic_axes; ++axis) {
    grids.push_back(mosaic_grid(vol.depth, vol.height, vol.width, axis,
                                std::min(kTileSide, o.max_overlay_side), kMosaicPixels));
    const MosaicGrid& mg = grids.back();
    tiles.push_back(volume_tiles(vol, mg, o.image_colormap));
    const std::string file = stem + ".slices." + kAxisName[axis] + ext;
    out.write((dir / file).string(), encode(assemble_mosaic(tiles.back(), mg)));
    volume["mosaics"].push_back({{"axis", kAxisName[axis]},
                                 {"slices", mg.slices},
                                 {"columns", mg.columns},
                                 {"tile_width", mg.tile_width},
                                 {"tile_height", mg.tile_height},
                                 {"file", file}});
  }
  rec["volume3d"] = volume;
  describe_explanation(rec, ex.method, ex.task, ex.layer, ex.layout, ex.feature_shape,
                       ex.predictions, ex.positives, model);
  if (const nlohmann::json mo = method_options_json(o.explain); !mo.is_null())
    rec["method_options"] = mo;
  const bool raw = o.raw || !o.overlay;
  const bool relu = method_uses_relu(ex.method);
  rec["explanations"] = nlohmann::json::array();
  for (const ClassMap& cm : ex.maps) {
    nlohmann::json e = prediction_record(cm.prediction, ex.task);
    const std::string name = stem + "." + std::to_string(cm.prediction.class_index);
    const Localization loc = localize(cm.raw, item.prepared, o.box_threshold, relu);
    // The peak voxel: in the volume, and in the model input (where the display map lies).
    const int peak[3] = {voxel_index(loc.peak_z, vol.depth), voxel_index(loc.peak_y, vol.height),
                         voxel_index(loc.peak_x, vol.width)};
    const auto& dd = loc.display.data;
    const std::size_t at =
        static_cast<std::size_t>(std::max_element(dd.begin(), dd.end()) - dd.begin());
    const std::size_t w = static_cast<std::size_t>(loc.display.width);
    const std::size_t h = static_cast<std::size_t>(loc.display.height);
    const int input_peak[3] = {static_cast<int>(at / (w * h)), static_cast<int>(at / w % h),
                               static_cast<int>(at % w)};
    nlohmann::json p{{"voxel", {peak[0], peak[1], peak[2]}},
                     {"coordinates", {loc.peak_z, loc.peak_y, loc.peak_x}}};
    // Voxel centres lie at integer coordinates in NIfTI; camkit's pixel edges are 0.5 lower.
    if (placed)
      p["world"] = world_json(vol.space, loc.peak_z - 0.5, loc.peak_y - 0.5, loc.peak_x - 0.5);
    e["peak"] = p;
    e["box"] = nullptr;  // the 2-D field: [x0, y0, x1, y1]
    if (loc.box) {
      const Box& b = *loc.box;
      nlohmann::json b3{{"voxels", {b.z0, b.y0, b.x0, b.z1, b.y1, b.x1}}};
      if (placed)
        b3["world"] = {world_json(vol.space, b.z0 - 0.5, b.y0 - 0.5, b.x0 - 0.5),
                       world_json(vol.space, b.z1 - 0.5, b.y1 - 0.5, b.x1 - 0.5)};
      e["box_3d"] = b3;
    } else {
      e["box_3d"] = nullptr;
    }
    if (o.overlay) {
      nlohmann::json planes = nlohmann::json::array();
      for (int axis = 0; axis < 3; ++axis) {
        const Image plane = volume_plane(vol, axis, peak[axis]);
        const Rgb8 base =
            shrink_to_fit(to_rgb8(plane, plane.channels == 1 ? o.image_colormap : std::nullopt),
                          o.max_overlay_side);
        const double sx = static_cast<double>(base.width) / plane.width;
        const double sy = static_cast<double>(base.height) / plane.height;
        const Region r =
            plane_region(g, item.prepared.depth, item.prepared.height, item.prepared.width, axis);
        Rgb8 picture = overlay(base, map_plane(loc.display, axis, input_peak[axis]),
                               {r.x0 * sx, r.y0 * sy, r.x1 * sx, r.y1 * sy}, o.colormap, o.alpha);
        const double box_lo[3] = {loc.box ? loc.box->z0 : 0, loc.box ? loc.box->y0 : 0,
                                  loc.box ? loc.box->x0 : 0};
        const double box_hi[3] = {loc.box ? loc.box->z1 : 0, loc.box ? loc.box->y1 : 0,
                                  loc.box ? loc.box->x1 : 0};
        if (o.draw_box && loc.box && peak[axis] >= box_lo[axis] && peak[axis] < box_hi[axis]) {
          const std::uint8_t white[3] = {255, 255, 255};
          const Box pb = plane_box(*loc.box, axis);
          draw_box(picture, {pb.x0 * sx, pb.y0 * sy, pb.x1 * sx, pb.y1 * sy}, white,
                   std::max(1, std::min(base.width, base.height) / 150));
        }
        const std::string file = name + "." + kAxisName[axis] + std::to_string(peak[axis]) + ext;
        out.write((dir / file).string(), encode(picture));
        planes.push_back({{"axis", kAxisName[axis]}, {"index", peak[axis]}, {"overlay", file}});
      }
      e["planes"] = planes;
      e["overlay"] = planes[0]["overlay"];
    }
    if (raw) {
      out.write((dir / (name + ".npy")).string(), encode_npy_volume(cm.raw));
      e["raw"] = name + ".npy";
    }
    // The display map over the whole scan (scans are resampled, never cropped), on the scan's
    // own grid: what the NIfTI map and the map's mosaics show.
    Map full;
    if (nifti || (mosaic_axes && vol.kind != "video"))
      full = display_map(cm.raw, vol.depth, vol.height, vol.width, relu);
    for (int axis = 0; axis < mosaic_axes; ++axis) {
      const MosaicGrid& mg = grids[static_cast<std::size_t>(axis)];
      std::function<Map(int)> plane;
      Region region{0, 0, static_cast<double>(mg.tile_width), static_cast<double>(mg.tile_height)};
      if (vol.kind == "video") {
        // A clip is cropped: the display map (model input) covers the crop of each frame.
        const Map& disp = loc.display;
        plane = [&disp, &vol](int k) {
          const int t = std::min(disp.depth - 1, (2 * k + 1) * disp.depth / (2 * vol.depth));
          return map_plane(disp, 0, t);
        };
        const Region r =
            plane_region(g, item.prepared.depth, item.prepared.height, item.prepared.width, 0);
        const double sx = static_cast<double>(mg.tile_width) / vol.width;
        const double sy = static_cast<double>(mg.tile_height) / vol.height;
        region = {r.x0 * sx, r.y0 * sy, r.x1 * sx, r.y1 * sy};
      } else {
        plane = [&full, axis](int k) { return map_plane(full, axis, k); };
      }
      const std::string file = name + ".slices." + kAxisName[axis] + ext;
      out.write(
          (dir / file).string(),
          encode(assemble_mosaic(
              heat_tiles(tiles[static_cast<std::size_t>(axis)], plane, region, o.colormap), mg)));
      e["mosaics"].push_back({{"axis", kAxisName[axis]}, {"file", file}});
    }
    if (nifti) {
      // On the scan's affine: it lies on the scan in 3D Slicer, ITK-SNAP or nibabel.
      out.write((dir / (name + ".nii.gz")).string(), encode_nifti(full, vol.space));
      e["nifti"] = name + ".nii.gz";
    }
    rec["explanations"].push_back(e);
  }
  item.record_text = dump_json(rec, 2) + "\n";
  item.record = nlohmann::json::parse(item.record_text);
  item.volume.reset();
  item.prepared.chw.clear();
  item.prepared.chw.shrink_to_fit();
  item.ex = Explanation();
}

}  // namespace camkit::pipeline
