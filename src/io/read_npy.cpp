#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "io/file_bytes.hpp"
#include "io/limits.hpp"
#include "io/npy_array.hpp"
#include "io/npy_header.hpp"

namespace camkit {

namespace {

enum class Kind { f4, f8, u1, u2 };

struct Dtype {
  Kind kind;
  std::size_t itemsize;
  bool swap;  // stored in the other byte order than this machine's
};

bool host_is_big_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 0;
}

Dtype parse_dtype(const std::string& path, const std::string& descr) {
  const auto unsupported = [&] {
    return io::input_error(path, "unsupported dtype '" + descr + "'");
  };
  if (descr.size() != 3) throw unsupported();
  const char order = descr[0];
  const std::string code = descr.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=') throw unsupported();
  Dtype d{};
  if (code == "u1") {
    d = {Kind::u1, 1, false};  // byte order is meaningless for one byte; NumPy writes '|'
    return d;
  }
  if (code == "f4") {
    d = {Kind::f4, 4, false};
  } else if (code == "f8") {
    d = {Kind::f8, 8, false};
  } else if (code == "u2") {
    d = {Kind::u2, 2, false};
  } else {
    throw unsupported();
  }
  if (order == '|') throw unsupported();  // NumPy never writes '|' for multi-byte types
  const bool big = order == '>' || (order == '=' && host_is_big_endian());
  d.swap = big != host_is_big_endian();
  return d;
}

// Reads one element from possibly unaligned bytes, undoing a foreign byte order.
template <typename Bits>
Bits load_bits(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(Bits)];
  for (std::size_t i = 0; i < sizeof(Bits); ++i) b[i] = p[swap ? sizeof(Bits) - 1 - i : i];
  Bits v;
  std::memcpy(&v, b, sizeof(Bits));
  return v;
}

// Where the row-major element order of the file puts each sample in the HWC output.
struct Layout {
  int height = 0, width = 0, channels = 0;
  bool planar = false;  // file is [C, H, W]
};

Layout choose_layout(const std::string& path, const std::vector<std::uint64_t>& full_shape) {
  const std::string shape_text = io::shape_string(full_shape);
  std::vector<std::uint64_t> s = full_shape;
  if (s.size() == 4 && s[0] == 1) s.erase(s.begin());  // a batch of one, as torch.save'd inputs

  const auto is_channel_count = [](std::uint64_t n) { return n == 1 || n == 3; };
  Layout l;
  std::uint64_t h = 0, w = 0, c = 0;
  if (s.size() == 2) {
    h = s[0];
    w = s[1];
    c = 1;
  } else if (s.size() == 3 && is_channel_count(s[0])) {
    // Leading channels win when both ends could be channels, e.g. (3, 5, 3): CHW is what a
    // PyTorch tensor saved with .numpy() has, and that is this tool's main source of arrays.
    c = s[0];
    h = s[1];
    w = s[2];
    l.planar = true;
  } else if (s.size() == 3 && is_channel_count(s[2])) {
    h = s[0];
    w = s[1];
    c = s[2];
  } else {
    throw io::input_error(path, "unsupported shape " + shape_text +
                                    " (expected (H, W), (C, H, W) or (H, W, C) with C 1 or 3, "
                                    "optionally after a leading batch dimension of 1)");
  }
  if (h > INT_MAX || w > INT_MAX) throw io::input_error(path, "shape " + shape_text + " too large");
  l.height = static_cast<int>(h);
  l.width = static_cast<int>(w);
  l.channels = static_cast<int>(c);
  return l;
}

[[noreturn]] void throw_non_finite(const std::string& path) {
  throw io::input_error(path, "contains NaN or Inf values");
}

}  // namespace

namespace io {

namespace {

NpyFile checked(NpyFile f) {
  f.header = parse_npy_header(f.path, f.bytes.data(), f.bytes.size());
  const Dtype dtype = parse_dtype(f.path, f.header.descr);
  if (f.header.fortran_order) {
    throw input_error(f.path, "Fortran order not supported (save np.ascontiguousarray(a))");
  }
  f.bit_depth = dtype.kind == Kind::u1 ? 8 : dtype.kind == Kind::u2 ? 16 : 0;
  return f;
}

}  // namespace

NpyFile open_npy(const std::string& path, const ReadOptions& options) {
  NpyFile f;
  f.path = path;
  f.file.emplace(path, options.max_file_bytes);
  f.size = f.file->size();
  f.file->read_more(f.bytes, kNpyPreambleMax + kNpyHeaderMax);
  return checked(std::move(f));
}

NpyFile npy_from_bytes(const std::string& path, std::vector<unsigned char> bytes) {
  NpyFile f;
  f.path = path;
  f.size = bytes.size();
  f.bytes = std::move(bytes);
  return checked(std::move(f));
}

void check_not_empty(const NpyFile& file) {
  for (const std::uint64_t dim : file.header.shape) {
    if (dim == 0) {
      throw input_error(file.path, "empty array, shape " + shape_string(file.header.shape));
    }
  }
}

std::size_t check_npy_size(const NpyFile& file) {
  const std::string& path = file.path;
  const NpyHeader& h = file.header;
  const Dtype dtype = parse_dtype(path, h.descr);

  // Never trust the header: the data must be exactly shape-product * itemsize bytes, judged on
  // the file's size before anything is read. Each factor is bounded here before the next
  // multiplication so the product cannot wrap.
  const std::string shape_text = shape_string(h.shape);
  const std::uint64_t available = file.size - h.data_offset;
  std::uint64_t needed = dtype.itemsize;
  for (const std::uint64_t dim : h.shape) {
    if (dim != 0 && needed > SIZE_MAX / dim) {
      throw input_error(path, "shape " + shape_text + " too large (size overflows)");
    }
    needed *= dim;
  }
  if (needed != available) {
    throw input_error(
        path,
        std::string(needed > available ? "truncated .npy data" : "unexpected .npy data size") +
            ": shape " + shape_text + " of '" + h.descr + "' needs " + std::to_string(needed) +
            " bytes, file has " + std::to_string(available));
  }
  return static_cast<std::size_t>(needed / dtype.itemsize);
}

std::vector<float> npy_samples(NpyFile& file, const ReadOptions& options) {
  const std::string& path = file.path;
  const NpyHeader& h = file.header;
  const Dtype dtype = parse_dtype(path, h.descr);
  const std::size_t count = check_npy_size(file);
  check_decoded(path, "array of shape " + shape_string(h.shape) + " of '" + h.descr + "'", count,
                options);
  if (file.file) {
    file.file->read_rest(file.bytes);
    file.file.reset();
  }
  // The file may have changed since its size was taken; what was read is what counts.
  if (file.bytes.size() != file.size) {
    throw input_error(path, "file changed while being read (" + std::to_string(file.size) +
                                " bytes, then " + std::to_string(file.bytes.size()) + ")");
  }

  std::vector<float> out(count);
  const unsigned char* src = file.bytes.data() + h.data_offset;
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned char* p = src + i * dtype.itemsize;
    float v = 0.0f;
    switch (dtype.kind) {
      case Kind::u1:
        v = static_cast<float>(*p) / 255.0f;
        break;
      case Kind::u2:
        v = static_cast<float>(load_bits<std::uint16_t>(p, dtype.swap)) / 65535.0f;
        break;
      case Kind::f4: {
        float f;
        const std::uint32_t bits = load_bits<std::uint32_t>(p, dtype.swap);
        std::memcpy(&f, &bits, sizeof f);
        if (!std::isfinite(f)) throw_non_finite(path);
        v = f;
        break;
      }
      case Kind::f8: {
        double d;
        const std::uint64_t bits = load_bits<std::uint64_t>(p, dtype.swap);
        std::memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d)) throw_non_finite(path);
        if (std::fabs(d) > FLT_MAX) {
          std::ostringstream text;
          text << "value " << d << " outside the float32 range";
          throw input_error(path, text.str());
        }
        v = static_cast<float>(d);
        break;
      }
    }
    out[i] = v;
  }
  // The file's bytes are not needed once converted.
  std::vector<unsigned char>().swap(file.bytes);
  return out;
}

}  // namespace io

Image read_npy(const std::string& path, const ReadOptions& options) {
  return io::decode_npy(io::open_npy(path, options), options);
}

namespace io {

Image decode_npy(NpyFile file, const ReadOptions& options) {
  check_not_empty(file);
  const Layout l = choose_layout(file.path, file.header.shape);
  check_npy_size(file);
  check_pixels(file.path, "array image", static_cast<std::uint64_t>(l.width),
               static_cast<std::uint64_t>(l.height), options);
  std::vector<float> samples = npy_samples(file, options);

  Image im;
  im.height = l.height;
  im.width = l.width;
  im.channels = l.channels;
  im.bit_depth = file.bit_depth;
  if (!l.planar) {
    im.data = std::move(samples);  // file order is already HWC
    return im;
  }
  const std::size_t plane = static_cast<std::size_t>(l.height) * l.width;
  im.data.resize(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    // Planar files hold channel c's plane at c * H * W; the output interleaves channels.
    im.data[(i % plane) * l.channels + i / plane] = samples[i];
  }
  return im;
}

}  // namespace io

}  // namespace camkit
