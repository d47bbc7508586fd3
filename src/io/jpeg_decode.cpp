// JPEG through libjpeg(-turbo) with camkit's own error manager (io/image_codecs.hpp).
//
// libjpeg reports errors through error_exit, which must not return; it longjmps back to the
// setjmp in run_jpeg. Everything that outlives the jump lives in JpegState, owned by the
// caller's frame, so no object with a destructor is skipped and no local of the setjmp frame is
// read after it.
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <csetjmp>
#include <cstring>

#include "io/file_bytes.hpp"
#include "io/image_codecs.hpp"
#include "io/limits.hpp"

namespace camkit::io {

namespace {

// libjpeg-turbo's TurboJPEG API refuses more scans than this (TJFLAG_LIMITSCANS): a crafted
// progressive file can hold thousands of tiny scans, each costing a pass over the image.
constexpr int kMaxScans = 500;

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct JpegState {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  jpeg_progress_mgr progress{};
  bool created = false;

  JpegState() = default;
  JpegState(const JpegState&) = delete;
  JpegState& operator=(const JpegState&) = delete;
  ~JpegState() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

ErrorManager& errors_of(j_common_ptr c) {
  return *reinterpret_cast<ErrorManager*>(c->err);
}

[[noreturn]] void on_error(j_common_ptr c) {
  ErrorManager& e = errors_of(c);
  (*c->err->format_message)(c, e.message);
  std::longjmp(e.jump, 1);
}

// Warnings that say nothing about the pixels; every other warning means damaged data.
bool harmless(int code) {
  return code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM ||
         code == JWRN_BOGUS_ICC;
}

void on_message(j_common_ptr c, int level) {
  if (level >= 0 || harmless(c->err->msg_code)) return;  // >= 0: trace messages
  on_error(c);
}

void on_output(j_common_ptr) {}  // nothing is ever printed

void on_progress(j_common_ptr c) {
  if (!c->is_decompressor) return;
  if (reinterpret_cast<j_decompress_ptr>(c)->input_scan_number <= kMaxScans) return;
  ErrorManager& e = errors_of(c);
  std::snprintf(e.message, sizeof e.message, "more than %d progressive scans", kMaxScans);
  std::longjmp(e.jump, 1);
}

// OpenCV's CMYK -> BGR (icvCvt_CMYK2BGR_8u_C4C3R), kept so that results do not change: Adobe
// writes CMYK inverted, and this is the product of each channel with K.
void cmyk_to_rgb(const JSAMPLE* cmyk, std::uint8_t* rgb, JDIMENSION width) {
  for (JDIMENSION x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<std::uint8_t>(k - ((255 - cmyk[c]) * k >> 8));
  }
}

// Returns false when libjpeg reported an error (its text in s.err.message); throws for limits.
bool run_jpeg(JpegState& s, Pixels& out, std::vector<JSAMPLE>& row, const unsigned char* data,
              std::size_t size, const std::string& path, const ReadOptions& options) {
  s.cinfo.err = jpeg_std_error(&s.err.pub);
  s.err.pub.error_exit = on_error;
  s.err.pub.emit_message = on_message;
  s.err.pub.output_message = on_output;
  if (setjmp(s.err.jump)) return false;
  jpeg_create_decompress(&s.cinfo);
  s.created = true;
  s.progress.progress_monitor = on_progress;
  s.cinfo.progress = &s.progress;
  jpeg_mem_src(&s.cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s.cinfo, TRUE);
  check_pixels(path, "image", s.cinfo.image_width, s.cinfo.image_height, options);

  const bool cmyk = s.cinfo.num_components == 4;
  if (s.cinfo.num_components == 1) {
    s.cinfo.out_color_space = JCS_GRAYSCALE;
  } else {
    s.cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  }
  jpeg_start_decompress(&s.cinfo);
  const JDIMENSION width = s.cinfo.output_width;
  out.height = static_cast<int>(s.cinfo.output_height);
  out.width = static_cast<int>(width);
  out.channels = s.cinfo.num_components == 1 ? 1 : 3;
  out.bit_depth = 8;
  const std::size_t row_samples = static_cast<std::size_t>(width) * out.channels;
  if (s.cinfo.output_components != (cmyk ? 4 : out.channels)) {
    std::snprintf(s.err.message, sizeof s.err.message, "unexpected %d output components",
                  s.cinfo.output_components);
    return false;
  }
  out.narrow.resize(row_samples * out.height);
  if (cmyk) row.resize(static_cast<std::size_t>(width) * 4);
  while (s.cinfo.output_scanline < s.cinfo.output_height) {
    std::uint8_t* dst = out.narrow.data() + s.cinfo.output_scanline * row_samples;
    JSAMPROW target = cmyk ? row.data() : dst;
    if (jpeg_read_scanlines(&s.cinfo, &target, 1) != 1) {
      std::snprintf(s.err.message, sizeof s.err.message, "no scanline returned");
      return false;
    }
    if (cmyk) cmyk_to_rgb(row.data(), dst, width);
  }
  jpeg_finish_decompress(&s.cinfo);
  return true;
}

}  // namespace

Pixels decode_jpeg(const std::string& path, const unsigned char* data, std::size_t size,
                   const ReadOptions& options) {
  JpegState s;
  Pixels out;
  std::vector<JSAMPLE> row;
  if (!run_jpeg(s, out, row, data, size, path, options)) {
    throw input_error(path, std::string("cannot decode JPEG (") + s.err.message + ")");
  }
  return out;
}

}  // namespace camkit::io
