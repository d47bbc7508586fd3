// encode_nifti: a map over a scan as a NIfTI-1 single file, with the scan's own geometry.
#include <nifti2_io.h>
#include <zlib.h>

#include <cstring>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace camkit {
namespace {

std::string gzip_bytes(const std::string& raw) {
  z_stream z{};
  // 15 + 16: a gzip wrapper, what .nii.gz readers expect.
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error(ErrorCode::input, "encode_nifti: cannot compress");
  std::string out(deflateBound(&z, raw.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (status != Z_STREAM_END) throw Error(ErrorCode::input, "encode_nifti: cannot compress");
  return out;
}

}  // namespace

std::string encode_nifti(const Map& map, const VolumeSpace& space, bool gzip) {
  if (map.depth < 1 || map.height < 1 || map.width < 1 ||
      map.data.size() != static_cast<std::size_t>(map.depth) * map.height * map.width)
    throw Error(ErrorCode::usage, "encode_nifti: map data size does not match its shape");
  nifti_1_header h;
  std::memset(&h, 0, sizeof h);
  h.sizeof_hdr = 348;
  h.dim[0] = 3;
  h.dim[1] = static_cast<short>(map.depth);
  h.dim[2] = static_cast<short>(map.height);
  h.dim[3] = static_cast<short>(map.width);
  if (map.depth > 32767 || map.height > 32767 || map.width > 32767)
    throw Error(ErrorCode::usage, "encode_nifti: a NIfTI-1 dimension is at most 32767");
  for (int i = 4; i < 8; ++i) h.dim[i] = 1;
  h.datatype = DT_FLOAT32;
  h.bitpix = 32;
  h.pixdim[0] = static_cast<float>(space.quatern[6] < 0 ? -1 : 1);
  for (int i = 0; i < 3; ++i) h.pixdim[i + 1] = static_cast<float>(space.spacing[i]);
  for (int i = 4; i < 8; ++i) h.pixdim[i] = 1;
  h.vox_offset = 352;
  h.scl_slope = 1;
  h.scl_inter = 0;
  h.xyzt_units = static_cast<char>(space.xyzt_units);
  h.qform_code = static_cast<short>(space.qform_code);
  h.sform_code = static_cast<short>(space.sform_code);
  h.quatern_b = static_cast<float>(space.quatern[0]);
  h.quatern_c = static_cast<float>(space.quatern[1]);
  h.quatern_d = static_cast<float>(space.quatern[2]);
  h.qoffset_x = static_cast<float>(space.quatern[3]);
  h.qoffset_y = static_cast<float>(space.quatern[4]);
  h.qoffset_z = static_cast<float>(space.quatern[5]);
  for (int c = 0; c < 4; ++c) {
    h.srow_x[c] = static_cast<float>(space.sform[0][c]);
    h.srow_y[c] = static_cast<float>(space.sform[1][c]);
    h.srow_z[c] = static_cast<float>(space.sform[2][c]);
  }
  std::strncpy(h.descrip, "camkit display map", sizeof h.descrip - 1);
  std::memcpy(h.magic, "n+1", 4);

  std::string out(352 + map.data.size() * sizeof(float), '\0');
  std::memcpy(out.data(), &h, sizeof h);  // then 4 zero bytes: no extensions
  // NIfTI stores i fastest; the map is (d, h, w) = (i, j, k) with w fastest.
  char* data = out.data() + 352;
  std::size_t n = 0;
  for (int k = 0; k < map.width; ++k)
    for (int j = 0; j < map.height; ++j)
      for (int i = 0; i < map.depth; ++i, ++n) {
        const float v = map.at(i, j, k);
        std::memcpy(data + n * sizeof(float), &v, sizeof v);  // hosts are little-endian
      }
  return gzip ? gzip_bytes(out) : out;
}

}  // namespace camkit
