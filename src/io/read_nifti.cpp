// camkit::read_nifti: single-file NIfTI-1 and NIfTI-2 (.nii, .nii.gz). Debian's libnifti2
// interprets the header (byte swapping, dimensions, qform and sform); camkit reads the bytes,
// through io's bounded reader, and judges every size the header declares against the file and
// the limits before it reads or inflates the data.
#include <nifti2_io.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>

#include "camkit/volume.hpp"
#include "io/file_bytes.hpp"
#include "io/gzip_stream.hpp"
#include "io/limits.hpp"
#include "io/nifti_bytes.hpp"

namespace camkit {
namespace io {
namespace {

constexpr std::size_t kHeader1 = 348, kHeader2 = 540;

std::uint32_t swap32(std::uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

// libnifti2 reports problems on stderr when its debug level is above 0; camkit reports them in
// its one line instead. Set once, before the first header is interpreted.
void quiet_library() {
  static std::once_flag once;
  std::call_once(once, [] { nifti_set_debug_level(0); });
}

struct NimDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};
using Nim = std::unique_ptr<nifti_image, NimDeleter>;

std::array<std::array<double, 4>, 3> rows_of(const nifti_dmat44& m) {
  std::array<std::array<double, 4>, 3> a{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) a[r][c] = m.m[r][c];
  return a;
}

struct Sample {
  int nbyper;
  bool rgb;
};

// Bytes per voxel of the data types camkit reads; 0 for the others.
Sample sample_of(int datatype) {
  switch (datatype) {
    case DT_UINT8:
    case DT_INT8:
      return {1, false};
    case DT_INT16:
    case DT_UINT16:
      return {2, false};
    case DT_INT32:
    case DT_UINT32:
    case DT_FLOAT32:
      return {4, false};
    case DT_FLOAT64:
      return {8, false};
    case DT_RGB24:
      return {3, true};
    default:
      return {0, false};
  }
}

double load(const unsigned char* p, int datatype, bool swap) {
  unsigned char b[8];
  const int n = datatype == DT_FLOAT64                          ? 8
                : datatype == DT_INT16 || datatype == DT_UINT16 ? 2
                : datatype == DT_UINT8 || datatype == DT_INT8   ? 1
                                                                : 4;
  for (int i = 0; i < n; ++i) b[i] = p[swap ? n - 1 - i : i];
  switch (datatype) {
    case DT_UINT8:
      return b[0];
    case DT_INT8:
      return static_cast<std::int8_t>(b[0]);
    case DT_INT16: {
      std::int16_t v;
      std::memcpy(&v, b, 2);
      return v;
    }
    case DT_UINT16: {
      std::uint16_t v;
      std::memcpy(&v, b, 2);
      return v;
    }
    case DT_INT32: {
      std::int32_t v;
      std::memcpy(&v, b, 4);
      return v;
    }
    case DT_UINT32: {
      std::uint32_t v;
      std::memcpy(&v, b, 4);
      return v;
    }
    case DT_FLOAT32: {
      float v;
      std::memcpy(&v, b, 4);
      return v;
    }
    default: {
      double v;
      std::memcpy(&v, b, 8);
      return v;
    }
  }
}

// The dimensions as stored, judged before libnifti2 multiplies them (it would overflow on
// lying values): 1..7 of them, each at least 1, at most 4 that are not 1, and a product that
// fits comfortably in 64 bits.
void check_dims(const std::string& path, const std::int64_t dim[8]) {
  if (dim[0] < 1 || dim[0] > 7)
    throw input_error(path, "NIfTI dim[0] is " + std::to_string(dim[0]) + " (must be 1..7)");
  std::uint64_t product = 1;
  for (int i = 1; i <= dim[0]; ++i) {
    if (dim[i] < 1)
      throw input_error(path, "NIfTI dim[" + std::to_string(i) + "] is " + std::to_string(dim[i]));
    product = saturating_mul(product, static_cast<std::uint64_t>(dim[i]));
    if (i >= 5 && dim[i] != 1)
      throw input_error(path, "a " + std::to_string(dim[0]) +
                                  "-D NIfTI image; camkit reads 3-D volumes and 4-D stacks "
                                  "(the 4th dimension as channels)");
  }
  if (product > (std::uint64_t{1} << 48))
    throw input_error(path, "NIfTI dimensions too large (" + std::to_string(product) + " voxels)");
}

// The header, version and byte order of the first bytes, as libnifti2 interprets them.
struct Header {
  Nim nim;
  bool swapped = false;
  int version = 1;
  std::uint64_t data_offset = 0;
};

Header parse_header(const std::string& path, const std::vector<unsigned char>& bytes) {
  if (bytes.size() < 4) throw input_error(path, "not a NIfTI file (too short for a header)");
  std::uint32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, bytes.data(), 4);
  Header h;
  if (sizeof_hdr == kHeader1 || swap32(sizeof_hdr) == kHeader1) {
    h.version = 1;
  } else if (sizeof_hdr == kHeader2 || swap32(sizeof_hdr) == kHeader2) {
    h.version = 2;
  } else {
    throw input_error(path, "not a NIfTI file (sizeof_hdr is neither 348 nor 540)");
  }
  h.swapped = sizeof_hdr != (h.version == 1 ? kHeader1 : kHeader2);
  const std::size_t need = h.version == 1 ? kHeader1 : kHeader2;
  if (bytes.size() < need)
    throw input_error(path, "truncated NIfTI header (" + std::to_string(bytes.size()) + " of " +
                                std::to_string(need) + " bytes)");
  quiet_library();
  // Dimensions are judged here, on the header as stored, before libnifti2 multiplies them.
  std::int64_t dim[8];
  double vox_offset = 0;
  std::string magic;
  if (h.version == 1) {
    nifti_1_header hdr;
    std::memcpy(&hdr, bytes.data(), kHeader1);
    if (h.swapped) nifti_swap_as_nifti1(&hdr);
    magic.assign(hdr.magic, strnlen(hdr.magic, sizeof hdr.magic));
    for (int i = 0; i < 8; ++i) dim[i] = hdr.dim[i];
    vox_offset = hdr.vox_offset;
    if (magic == "ni1")
      throw input_error(path,
                        "a NIfTI-1 header of a .hdr/.img pair; camkit reads single-file "
                        ".nii (convert it, e.g. with nibabel)");
    if (magic != "n+1") throw input_error(path, "not a NIfTI-1 file (magic is not \"n+1\")");
    check_dims(path, dim);
    if (!nifti_hdr1_looks_good(&hdr)) throw input_error(path, "libnifti2 rejects the header");
    h.nim.reset(nifti_convert_n1hdr2nim(hdr, path.c_str()));
  } else {
    nifti_2_header hdr;
    std::memcpy(&hdr, bytes.data(), kHeader2);
    if (h.swapped) nifti_swap_as_nifti2(&hdr);
    magic.assign(hdr.magic, strnlen(hdr.magic, 4));
    for (int i = 0; i < 8; ++i) dim[i] = hdr.dim[i];
    vox_offset = static_cast<double>(hdr.vox_offset);
    if (magic == "ni2")
      throw input_error(path,
                        "a NIfTI-2 header of a .hdr/.img pair; camkit reads single-file "
                        ".nii (convert it, e.g. with nibabel)");
    if (magic != "n+2") throw input_error(path, "not a NIfTI-2 file (magic is not \"n+2\")");
    check_dims(path, dim);
    if (!nifti_hdr2_looks_good(&hdr)) throw input_error(path, "libnifti2 rejects the header");
    h.nim.reset(nifti_convert_n2hdr2nim(hdr, path.c_str()));
  }
  if (!h.nim) throw input_error(path, "libnifti2 cannot interpret the header");
  const std::size_t header = h.version == 1 ? kHeader1 : kHeader2;
  // vox_offset is a float in NIfTI-1: an integral byte offset past the header (and the 4 bytes
  // of the extension flag that single files carry).
  if (!(vox_offset >= static_cast<double>(header)) || vox_offset != std::floor(vox_offset) ||
      vox_offset > 1e15)
    throw input_error(path, "NIfTI vox_offset " + std::to_string(vox_offset) +
                                " does not point past the " + std::to_string(header) +
                                "-byte header");
  h.data_offset = static_cast<std::uint64_t>(vox_offset);
  return h;
}

}  // namespace

Volume nifti_volume(const std::string& path, NiftiBytes& source, const ReadOptions& options) {
  std::vector<unsigned char> bytes;
  source.fill(bytes, kHeader2);
  Header h = parse_header(path, bytes);
  const nifti_image& nim = *h.nim;
  const Sample sample = sample_of(nim.datatype);
  if (sample.nbyper == 0)
    throw input_error(path, std::string("unsupported NIfTI data type ") +
                                nifti_datatype_string(nim.datatype) + " (" +
                                std::to_string(nim.datatype) + ")");
  const std::uint64_t nx = static_cast<std::uint64_t>(nim.dim[1]);
  const std::uint64_t ny = nim.dim[0] >= 2 ? static_cast<std::uint64_t>(nim.dim[2]) : 1;
  const std::uint64_t nz = nim.dim[0] >= 3 ? static_cast<std::uint64_t>(nim.dim[3]) : 1;
  const std::uint64_t nt = nim.dim[0] >= 4 ? static_cast<std::uint64_t>(nim.dim[4]) : 1;
  const std::uint64_t channels = sample.rgb ? 3 * nt : nt;
  check_slices(path, nx, "NIfTI volume of " + std::to_string(nx) + " slices (i)", options);
  check_pixels(path, "NIfTI slice (j x k)", nz, ny, options);
  const std::uint64_t voxels = saturating_mul(saturating_mul(nx, ny), saturating_mul(nz, nt));
  const std::uint64_t samples = saturating_mul(voxels, sample.rgb ? 3 : 1);
  check_decoded(path,
                "NIfTI image of " + std::to_string(nx) + " x " + std::to_string(ny) + " x " +
                    std::to_string(nz) + " x " + std::to_string(nt) + " voxels",
                samples, options);
  const std::uint64_t data_bytes =
      saturating_mul(voxels, static_cast<std::uint64_t>(sample.nbyper));
  if (h.data_offset > options.max_file_bytes || data_bytes > options.max_file_bytes)
    throw input_error(path, over_limit("NIfTI data of " + std::to_string(data_bytes) +
                                           " bytes at offset " + std::to_string(h.data_offset),
                                       options.max_file_bytes, kFileSizeFlag));
  const std::uint64_t end = h.data_offset + data_bytes;
  source.fill(bytes, static_cast<std::size_t>(end));
  if (bytes.size() < end)
    throw input_error(path, "truncated NIfTI data: vox_offset " + std::to_string(h.data_offset) +
                                " + " + std::to_string(data_bytes) + " bytes of data, the " +
                                (source.compressed() ? "inflated file has " : "file has ") +
                                std::to_string(bytes.size()));

  // nibabel's rule: a slope of 0 or NaN means unscaled; a valid slope needs a finite intercept.
  double slope = 1, inter = 0;
  if (std::isfinite(nim.scl_slope) && nim.scl_slope != 0) {
    if (!std::isfinite(nim.scl_inter))
      throw input_error(path, "NIfTI scl_inter is not finite (with scl_slope " +
                                  std::to_string(nim.scl_slope) + ")");
    slope = nim.scl_slope;
    inter = nim.scl_inter;
  }
  Volume v;
  v.kind = "nifti";
  v.depth = static_cast<int>(nx);
  v.height = static_cast<int>(ny);
  v.width = static_cast<int>(nz);
  v.channels = static_cast<int>(channels);
  v.bit_depth = 0;
  v.data.resize(static_cast<std::size_t>(samples));
  const unsigned char* src = bytes.data() + h.data_offset;
  // File order: i fastest, then j, k, t; the volume's: channels fastest, then k (w), j, i.
  const std::size_t C = v.channels;
  std::size_t n = 0;
  for (std::uint64_t t = 0; t < nt; ++t)
    for (std::uint64_t k = 0; k < nz; ++k)
      for (std::uint64_t j = 0; j < ny; ++j)
        for (std::uint64_t i = 0; i < nx; ++i, ++n) {
          const std::size_t at = ((i * ny + j) * nz + k) * C;
          if (sample.rgb) {
            for (int c = 0; c < 3; ++c)
              v.data[at + t * 3 + static_cast<std::size_t>(c)] = src[n * 3 + c] / 255.0f;
            continue;
          }
          const double value =
              load(src + n * sample.nbyper, nim.datatype, h.swapped) * slope + inter;
          if (!std::isfinite(value) || std::fabs(value) > 3.4e38)
            throw input_error(path, "contains NaN or Inf values (or values outside float32)");
          v.data[at + t] = static_cast<float>(value);
        }
  if (sample.rgb) v.bit_depth = 8;

  VolumeSpace& s = v.space;
  s.qform_code = nim.qform_code;
  s.sform_code = nim.sform_code;
  s.qform = rows_of(nim.qto_xyz);
  s.sform = rows_of(nim.sto_xyz);
  s.spacing = {nim.dx, nim.dy, nim.dz};
  s.quatern = {nim.quatern_b, nim.quatern_c, nim.quatern_d, nim.qoffset_x,
               nim.qoffset_y, nim.qoffset_z, nim.qfac};
  s.xyzt_units = nim.xyz_units | nim.time_units;
  if (nim.sform_code > 0) {
    s.affine = s.sform;
    s.source = "sform";
  } else if (nim.qform_code > 0) {
    s.affine = s.qform;
    s.source = "qform";
  } else {
    // libnifti2's "method 1": the grid spacings alone (qto_xyz without a qform code).
    s.affine = s.qform;
    s.source = "pixdim";
  }
  return v;
}

}  // namespace io

Volume read_nifti(const std::string& path, const ReadOptions& options) {
  io::NiftiBytes source(path, options);
  return io::nifti_volume(path, source, options);
}

}  // namespace camkit
