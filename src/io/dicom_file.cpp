// Decoding one DICOM file with DCMTK's dcmdata (parsing, transfer syntaxes, codecs); the pixel
// arithmetic (bit extraction, sign, Modality LUT, VOI) is done here rather than by DicomImage so
// that every step is the documented formula in double precision, without DicomImage's output
// quantisation to 8 or 16 bits.
#include "io/dicom_file.hpp"

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "io/dicom_source.hpp"
#include "io/file_bytes.hpp"
#include "io/limits.hpp"

namespace camkit::io {

namespace {

// DCMTK keeps its codecs in a process-wide registry; registering is idempotent but not meant to
// race, so it happens once. DCMTK's loggers ("dcmtk.*") would repeat on stderr what the thrown
// error says, or warn about leniencies per file in batch runs, so they only report fatal events.
void init_dcmtk() {
  static const bool done = [] {
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation, EUC_never);
    DJLSDecoderRegistration::registerCodecs(EJLSUC_never);
    DcmRLEDecoderRegistration::registerCodecs();
    return true;
  }();
  (void)done;
}

// The attributes that say how the pixel data is laid out (PS3.3 C.7.6.3, Image Pixel module).
struct PixelFormat {
  int rows = 0, columns = 0, frames = 1, samples = 1;
  int bits_allocated = 0, bits_stored = 0, high_bit = 0;
  bool is_signed = false;
  bool planar = false;  // PlanarConfiguration 1: all reds, then greens, then blues (per frame)
  std::string photometric;
};

std::uint16_t required_us(const std::string& path, DcmItem& ds, const DcmTagKey& tag,
                          const char* name) {
  Uint16 v = 0;
  if (ds.findAndGetUint16(tag, v).bad()) throw input_error(path, std::string("no ") + name);
  return v;
}

std::uint16_t optional_us(DcmItem& ds, const DcmTagKey& tag, std::uint16_t fallback) {
  Uint16 v = 0;
  return ds.findAndGetUint16(tag, v).good() ? v : fallback;
}

PixelFormat read_format(const std::string& path, DcmItem& ds) {
  PixelFormat f;
  f.rows = required_us(path, ds, DCM_Rows, "Rows");
  f.columns = required_us(path, ds, DCM_Columns, "Columns");
  if (f.rows == 0 || f.columns == 0) {
    throw input_error(path, "empty image (" + std::to_string(f.rows) + " rows, " +
                                std::to_string(f.columns) + " columns)");
  }
  f.bits_allocated = required_us(path, ds, DCM_BitsAllocated, "BitsAllocated");
  f.bits_stored = optional_us(ds, DCM_BitsStored, static_cast<std::uint16_t>(f.bits_allocated));
  f.high_bit = optional_us(ds, DCM_HighBit, static_cast<std::uint16_t>(f.bits_stored - 1));
  f.is_signed = optional_us(ds, DCM_PixelRepresentation, 0) == 1;
  f.samples = optional_us(ds, DCM_SamplesPerPixel, 1);
  f.planar = optional_us(ds, DCM_PlanarConfiguration, 0) == 1;
  Sint32 frames = 0;  // DCMTK zeroes the result when the attribute is absent: absent means 1
  if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good()) {
    if (frames < 1) throw input_error(path, "NumberOfFrames is " + std::to_string(frames));
    f.frames = frames;
  }
  OFString photometric;
  if (ds.findAndGetOFString(DCM_PhotometricInterpretation, photometric).good()) {
    f.photometric = photometric.c_str();
  }
  if (f.photometric.empty() && f.samples == 1) f.photometric = "MONOCHROME2";

  if (f.bits_allocated != 8 && f.bits_allocated != 16) {
    throw input_error(path, "unsupported BitsAllocated " + std::to_string(f.bits_allocated) +
                                " (8 or 16 are read)");
  }
  if (f.bits_stored < 1 || f.bits_stored > f.bits_allocated || f.high_bit < f.bits_stored - 1 ||
      f.high_bit >= f.bits_allocated) {
    throw input_error(path, "inconsistent BitsStored " + std::to_string(f.bits_stored) +
                                " / HighBit " + std::to_string(f.high_bit) + " for BitsAllocated " +
                                std::to_string(f.bits_allocated));
  }
  if (f.samples != 1 && f.samples != 3) {
    throw input_error(path, "unsupported SamplesPerPixel " + std::to_string(f.samples));
  }
  return f;
}

// Checked before decoding (a decoder may change it, e.g. YBR_FULL_422 JPEG to RGB) and after.
void check_photometric(const std::string& path, const PixelFormat& f, bool decoded) {
  const bool grey = f.photometric == "MONOCHROME1" || f.photometric == "MONOCHROME2";
  if (f.samples == 1 && grey) return;
  if (f.samples == 3 && f.photometric == "RGB") {
    if (f.bits_allocated != 8) {
      throw input_error(path, "unsupported RGB with BitsAllocated " +
                                  std::to_string(f.bits_allocated) + " (8 is read)");
    }
    return;
  }
  // JPEG decoders convert YBR to RGB; anything else is only judged once decoded.
  if (!decoded && f.samples == 3 && f.photometric.rfind("YBR", 0) == 0) return;
  throw input_error(path, "unsupported PhotometricInterpretation '" + f.photometric + "' with " +
                              std::to_string(f.samples) + " samples per pixel");
}

// Transfer syntaxes whose pixel data is encapsulated need a registered decoder; DCMTK handles the
// native ones (including deflate and big-endian) while parsing.
void decode_pixel_data(const std::string& path, DcmFileFormat& file) {
  DcmDataset& ds = *file.getDataset();
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  const DcmXfer info(xfer);
  if (!info.isEncapsulated()) return;
  const OFCondition c = ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
  if (c.bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
    throw input_error(path, std::string("cannot decode ") + info.getXferName() + " pixel data (" +
                                c.text() + ")");
  }
}

void check_transfer_syntax(const std::string& path, DcmFileFormat& file) {
  OFString uid;
  file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
  if (uid.empty()) return;  // DCMTK then detects the encoding of the data set itself
  const DcmXfer info(uid.c_str());
  if (info.getXfer() == EXS_Unknown) {
    throw input_error(path, "unknown transfer syntax " + std::string(uid.c_str()));
  }
  if (info.isEncapsulated() &&
      !DcmCodecList::canChangeCoding(info.getXfer(), EXS_LittleEndianExplicit)) {
    throw input_error(path, std::string("compressed transfer syntax ") + info.getXferName() + " (" +
                                uid.c_str() + ") is not supported");
  }
}

// Bytes of the native pixel data, whatever VR DCMTK gave the element: OW words are kept in host
// order by DCMTK, so they are re-serialised little-endian, the order the sample loop reads.
std::vector<unsigned char> native_bytes(const std::string& path, DcmElement& pixels) {
  std::vector<unsigned char> out;
  const Uint32 length = pixels.getLength();
  if (pixels.getVR() == EVR_OW) {
    Uint16* words = nullptr;
    if (pixels.getUint16Array(words).bad() || (words == nullptr && length > 0)) {
      throw input_error(path, "cannot read the pixel data");
    }
    out.resize(length / 2 * 2);
    for (std::size_t i = 0; i < out.size() / 2; ++i) {
      out[2 * i] = static_cast<unsigned char>(words[i] & 0xFF);
      out[2 * i + 1] = static_cast<unsigned char>(words[i] >> 8);
    }
    return out;
  }
  Uint8* bytes = nullptr;
  if (pixels.getUint8Array(bytes).bad() || (bytes == nullptr && length > 0)) {
    throw input_error(path, "cannot read the pixel data");
  }
  out.assign(bytes, bytes + length);
  return out;
}

// PS3.3 C.7.6.3.1: the stored value sits in bits [high_bit - bits_stored + 1, high_bit]; bits
// outside may hold overlays or garbage and are masked off; signed values are two's complement.
struct SampleDecoder {
  int shift, bits;
  std::uint32_t mask;
  bool is_signed;

  explicit SampleDecoder(const PixelFormat& f)
      : shift(f.high_bit + 1 - f.bits_stored),
        bits(f.bits_stored),
        mask((1u << f.bits_stored) - 1u),
        is_signed(f.is_signed) {}

  long operator()(std::uint32_t raw) const {
    const std::uint32_t v = (raw >> shift) & mask;
    if (is_signed && (v >> (bits - 1)) != 0) return static_cast<long>(v) - (1L << bits);
    return static_cast<long>(v);
  }
};

// Modality LUT (PS3.3 C.11.1): a LUT Sequence, else RescaleSlope/Intercept, else identity.
class ModalityLut {
 public:
  ModalityLut(const std::string& path, DcmItem& ds, bool is_signed) {
    DcmItem* item = nullptr;
    if (ds.findAndGetSequenceItem(DCM_ModalityLUTSequence, item, 0).good() && item != nullptr) {
      read_table(path, *item, is_signed);
      return;
    }
    Float64 v = 0;
    if (ds.findAndGetFloat64(DCM_RescaleSlope, v).good()) slope_ = v;
    if (ds.findAndGetFloat64(DCM_RescaleIntercept, v).good()) intercept_ = v;
    if (!std::isfinite(slope_) || !std::isfinite(intercept_)) {
      throw input_error(path, "RescaleSlope/RescaleIntercept not finite");
    }
  }

  double operator()(long stored) const {
    if (table_.empty()) return static_cast<double>(stored) * slope_ + intercept_;
    // Values outside the table map to its first or last entry (C.11.1.1.1).
    const long i = std::clamp(stored - first_, 0L, static_cast<long>(table_.size()) - 1);
    return table_[static_cast<std::size_t>(i)];
  }

 private:
  void read_table(const std::string& path, DcmItem& item, bool is_signed) {
    Uint16 entries = 0, first = 0;
    if (item.findAndGetUint16(DCM_LUTDescriptor, entries, 0).bad() ||
        item.findAndGetUint16(DCM_LUTDescriptor, first, 1).bad()) {
      throw input_error(path, "Modality LUT Sequence without a LUTDescriptor");
    }
    // The descriptor's first mapped value has the pixel data's signedness; 0 entries means 65536.
    first_ = is_signed ? static_cast<long>(static_cast<std::int16_t>(first)) : first;
    const std::size_t count = entries == 0 ? 65536 : entries;
    const Uint16* data = nullptr;
    unsigned long available = 0;
    if (item.findAndGetUint16Array(DCM_LUTData, data, &available).bad() || data == nullptr ||
        available < count) {
      throw input_error(path, "Modality LUT Sequence has " + std::to_string(available) +
                                  " LUTData values, its descriptor says " + std::to_string(count));
    }
    table_.assign(data, data + count);
  }

  double slope_ = 1, intercept_ = 0;
  long first_ = 0;
  std::vector<double> table_;
};

std::optional<VoiWindow> file_window(DcmItem& ds) {
  Float64 c = 0, w = 0;
  if (ds.findAndGetFloat64(DCM_WindowCenter, c, 0).bad() ||
      ds.findAndGetFloat64(DCM_WindowWidth, w, 0).bad() || !std::isfinite(c) || !std::isfinite(w) ||
      w <= 0) {
    return std::nullopt;  // an invalid window is ignored: min..max is used instead
  }
  VoiWindow out{c, w, VoiFunction::linear};
  OFString function;
  if (ds.findAndGetOFString(DCM_VOILUTFunction, function).good()) {
    if (function == "LINEAR_EXACT") out.function = VoiFunction::linear_exact;
    if (function == "SIGMOID") out.function = VoiFunction::sigmoid;
  }
  return out;
}

template <std::size_t N>
std::optional<std::array<double, N>> decimals(DcmItem& ds, const DcmTagKey& tag) {
  std::array<double, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    Float64 v = 0;
    if (ds.findAndGetFloat64(tag, v, static_cast<unsigned long>(i)).bad() || !std::isfinite(v)) {
      return std::nullopt;
    }
    out[i] = v;
  }
  return out;
}

void read_series_attributes(DcmItem& ds, DicomFrames& out) {
  OFString uid;
  if (ds.findAndGetOFString(DCM_SeriesInstanceUID, uid).good()) out.series_uid = uid.c_str();
  out.position = decimals<3>(ds, DCM_ImagePositionPatient);
  out.orientation = decimals<6>(ds, DCM_ImageOrientationPatient);
  Sint32 number = 0;
  if (ds.findAndGetSint32(DCM_InstanceNumber, number).good()) out.instance_number = number;
  out.pixel_spacing = decimals<2>(ds, DCM_PixelSpacing);
  if (const auto t = decimals<1>(ds, DCM_SliceThickness)) out.slice_thickness = (*t)[0];
}

// What the attributes say the pixel data decodes to is bounded before a codec allocates it
// (DCMTK's decoders size their output from Rows, Columns and NumberOfFrames).
void check_limits(const std::string& path, const PixelFormat& f, const ReadOptions& options) {
  check_slices(path, static_cast<std::uint64_t>(f.frames),
               "NumberOfFrames " + std::to_string(f.frames), options);
  check_pixels(path, "frame", static_cast<std::uint64_t>(f.columns),
               static_cast<std::uint64_t>(f.rows), options);
  const std::uint64_t samples = static_cast<std::uint64_t>(f.rows) * f.columns * f.samples *
                                static_cast<std::uint64_t>(f.frames);
  check_decoded(path,
                std::to_string(f.frames) + " frame" + (f.frames == 1 ? "" : "s") + " of " +
                    std::to_string(f.columns) + " x " + std::to_string(f.rows) + " x " +
                    std::to_string(f.samples),
                samples, options);
}

// Never trust the header: the pixel data must hold exactly the samples it describes (plus the
// one padding byte DICOM adds to odd lengths). Each factor is small (16 bits, or the frame count
// bounded by the data length first), so the product cannot overflow 64 bits.
std::size_t check_length(const std::string& path, const PixelFormat& f, std::size_t length) {
  const std::uint64_t frame = static_cast<std::uint64_t>(f.rows) * f.columns * f.samples *
                              static_cast<std::uint64_t>(f.bits_allocated / 8);
  if (static_cast<std::uint64_t>(f.frames) > length / frame + 1) {
    throw input_error(path, "pixel data too short: " + std::to_string(length) + " bytes for " +
                                std::to_string(f.frames) + " frames of " + std::to_string(frame) +
                                " bytes");
  }
  const std::uint64_t needed = frame * static_cast<std::uint64_t>(f.frames);
  if (length < needed || length > needed + (needed % 2)) {
    throw input_error(
        path, std::string(length < needed ? "pixel data too short" : "unexpected pixel data size") +
                  ": " + std::to_string(length) + " bytes, Rows x Columns x " +
                  "NumberOfFrames x SamplesPerPixel x BitsAllocated/8 = " + std::to_string(f.rows) +
                  " x " + std::to_string(f.columns) + " x " + std::to_string(f.frames) + " x " +
                  std::to_string(f.samples) + " x " + std::to_string(f.bits_allocated / 8) + " = " +
                  std::to_string(needed));
  }
  return static_cast<std::size_t>(needed);
}

void convert(const std::string& path, DcmDataset& ds, const PixelFormat& f,
             const std::vector<unsigned char>& bytes, DicomFrames& out) {
  const SampleDecoder sample(f);
  const std::size_t pixels = static_cast<std::size_t>(f.rows) * f.columns;
  const std::size_t total = pixels * f.samples * static_cast<std::size_t>(f.frames);
  out.values.resize(total);
  const auto raw = [&](std::size_t i) -> std::uint32_t {
    if (f.bits_allocated == 8) return bytes[i];
    return static_cast<std::uint32_t>(bytes[2 * i]) | static_cast<std::uint32_t>(bytes[2 * i + 1])
                                                          << 8;
  };
  if (out.rgb) {
    for (std::size_t i = 0; i < total; ++i) {
      std::size_t dst = i;
      if (f.planar) {  // frame-wise R plane, G plane, B plane -> interleaved
        const std::size_t frame = i / (3 * pixels), in_frame = i % (3 * pixels);
        dst = frame * 3 * pixels + (in_frame % pixels) * 3 + in_frame / pixels;
      }
      out.values[dst] = static_cast<float>(sample(raw(i)));
    }
    return;
  }
  const ModalityLut lut(path, ds, f.is_signed);
  for (std::size_t i = 0; i < total; ++i) {
    out.values[i] = static_cast<float>(lut(sample(raw(i))));
  }
}

}  // namespace

bool has_dicom_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".dcm" || ext == ".dicom";
}

// Values longer than this are read when first accessed rather than while parsing; for them
// DCMTK refuses a declared length beyond the end of the file before allocating it
// (io/dicom_source.hpp). Shorter values are read at once.
constexpr Uint32 kDeferredValueBytes = 4096;

// A damaged file can still leave elements in the tree whose declared length exceeds the file;
// reading such a value would allocate that length. Every value is checked before any is read.
void check_value_lengths(const std::string& path, DcmFileFormat& file, std::uint64_t file_size) {
  DcmStack stack;
  while (file.nextObject(stack, OFTrue).good()) {
    DcmObject* object = stack.top();
    if (object == nullptr || !object->isLeaf()) continue;
    const Uint32 length = object->getLengthField();
    if (length != DCM_UndefinedLength && length > file_size) {
      const DcmTag& tag = object->getTag();
      char name[16];
      std::snprintf(name, sizeof name, "(%04X,%04X)", tag.getGTag(), tag.getETag());
      throw input_error(path, std::string("truncated or corrupt DICOM data (element ") + name +
                                  " claims " + std::to_string(length) + " bytes, the file has " +
                                  std::to_string(file_size) + ")");
    }
  }
}

DicomFrames load_dicom(const std::string& path, const ReadOptions& options) {
  init_dcmtk();
  const DicomSource source(path, options);  // open until every value has been read
  DcmFileFormat file;
  const OFCondition parsed = file.loadFile(source.name().c_str(), EXS_Unknown, EGL_noChange,
                                           kDeferredValueBytes, ERM_fileOnly);
  check_value_lengths(path, file, source.size());
  // The meta header is read first, so an unsupported codec is reported even when DCMTK could not
  // make sense of the data set that follows.
  check_transfer_syntax(path, file);
  if (parsed.bad()) {
    throw input_error(path, std::string("truncated or corrupt DICOM data (") + parsed.text() + ")");
  }
  DcmDataset& ds = *file.getDataset();
  if (!ds.tagExists(DCM_PixelData)) throw input_error(path, "no pixel data (7FE0,0010)");

  PixelFormat f = read_format(path, ds);
  check_photometric(path, f, false);
  // Native pixel data is in memory already: a length that contradicts the attributes is the
  // more useful report than a limit. Encapsulated data is bounded before a codec expands it.
  if (!DcmXfer(ds.getOriginalXfer()).isEncapsulated()) {
    DcmElement* native = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, native).good() && native != nullptr) {
      check_length(path, f, native->getLength());
    }
  }
  check_limits(path, f, options);
  decode_pixel_data(path, file);
  // Decoders rewrite these (JPEG: YBR_FULL_422 -> RGB, planar configuration).
  OFString photometric;
  if (ds.findAndGetOFString(DCM_PhotometricInterpretation, photometric).good()) {
    f.photometric = photometric.c_str();
  }
  f.planar = optional_us(ds, DCM_PlanarConfiguration, 0) == 1;
  check_photometric(path, f, true);

  DcmElement* pixels = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixels).bad() || pixels == nullptr) {
    throw input_error(path, "no pixel data (7FE0,0010)");
  }
  const std::vector<unsigned char> data = native_bytes(path, *pixels);
  check_length(path, f, data.size());

  DicomFrames out;
  out.rows = f.rows;
  out.columns = f.columns;
  out.frames = f.frames;
  out.rgb = f.samples == 3;
  out.monochrome1 = f.photometric == "MONOCHROME1";
  convert(path, ds, f, data, out);
  if (!out.rgb) out.window = file_window(ds);
  read_series_attributes(ds, out);
  return out;
}

VoiWindow range_window(double lo, double hi) {
  return VoiWindow{(lo + hi + 1.0) / 2.0, hi - lo + 1.0, VoiFunction::linear};
}

double apply_voi(double x, const VoiWindow& w) {
  const double c = w.center, width = w.width;
  switch (w.function) {
    case VoiFunction::linear:
      // C.11.2.1.2.1; with width < 1 the two tests leave no middle: a step at c - width / 2.
      if (x <= c - 0.5 - (width - 1) / 2) return 0.0;
      if (x > c - 0.5 + (width - 1) / 2) return 1.0;
      return (x - (c - 0.5)) / (width - 1) + 0.5;
    case VoiFunction::linear_exact:  // C.11.2.1.3.2
      if (x <= c - width / 2) return 0.0;
      if (x > c + width / 2) return 1.0;
      return (x - c) / width + 0.5;
    case VoiFunction::sigmoid:  // C.11.2.1.3.1
      return 1.0 / (1.0 + std::exp(-4.0 * (x - c) / width));
  }
  return 0.0;
}

VoiWindow choose_window(const ReadOptions& options, const std::optional<VoiWindow>& from_file,
                        double lo, double hi) {
  if (options.window) return VoiWindow{options.window->first, options.window->second};
  if (from_file) return *from_file;
  return range_window(lo, hi);
}

Image frame_image(const DicomFrames& f, int frame, const VoiWindow& w) {
  Image im;
  im.height = f.rows;
  im.width = f.columns;
  im.channels = f.rgb ? 3 : 1;
  im.bit_depth = f.rgb ? 8 : 0;
  const std::size_t n = f.frame_size();
  const auto first = f.values.begin() + static_cast<std::ptrdiff_t>(n * frame);
  im.data.assign(first, first + static_cast<std::ptrdiff_t>(n));
  for (float& v : im.data) {
    if (f.rgb) {
      v /= 255.0f;
    } else {
      const double y = apply_voi(v, w);
      v = static_cast<float>(f.monochrome1 ? 1.0 - y : y);
    }
  }
  return im;
}

}  // namespace camkit::io
