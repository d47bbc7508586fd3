// Test helper: DICOM files written with DCMTK's own C++ API from a small description, so each test
// states the pixel values and attributes it checks; plus a temporary directory and a shell-tool
// runner for DCMTK's command-line codecs (img2dcm, dcmcjpeg, ...).
#pragma once

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"

namespace dicom_test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "camkit_dcm_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// What to write; attributes left empty/unset are not written at all.
struct Spec {
  int rows = 2, columns = 3;
  int frames = 0;  ///< NumberOfFrames, written when > 0
  int samples = 1;
  std::string photometric = "MONOCHROME2";
  int bits_allocated = 16, bits_stored = 16, high_bit = -1;  ///< high_bit -1: bits_stored - 1
  bool is_signed = false;
  int planar = -1;                   ///< PlanarConfiguration, written when >= 0
  std::vector<std::uint16_t> words;  ///< 16-bit pixel data (OW), as stored (two's complement)
  std::vector<std::uint8_t> bytes;   ///< 8-bit pixel data (OB)
  bool pixel_data = true;
  std::string slope, intercept;  ///< RescaleSlope / RescaleIntercept (DS text)
  std::string center, width;     ///< WindowCenter / WindowWidth (DS text, "\\" separates)
  std::string voi_function;      ///< VOILUTFunction
  std::string series = "1.2.826.0.1.3680043.10.1.1";
  std::string position;     ///< ImagePositionPatient, e.g. "0\\0\\5"
  std::string orientation;  ///< ImageOrientationPatient, e.g. "1\\0\\0\\0\\1\\0"
  std::optional<int> instance;
  /// Modality LUT Sequence: descriptor (entries, first value, bits) and data.
  std::vector<std::uint16_t> lut_descriptor, lut_data;
};

inline void check(const OFCondition& c, const char* what) {
  if (c.bad()) throw std::runtime_error(std::string(what) + ": " + c.text());
}

inline void fill_dataset(DcmDataset& ds, const Spec& s) {
  check(ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage), "sop class");
  check(ds.putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.10.1.2"), "sop");
  if (!s.series.empty()) check(ds.putAndInsertString(DCM_SeriesInstanceUID, s.series.c_str()), "s");
  check(ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows)), "rows");
  check(ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.columns)), "columns");
  check(ds.putAndInsertUint16(DCM_SamplesPerPixel, static_cast<Uint16>(s.samples)), "samples");
  if (!s.photometric.empty()) {
    check(ds.putAndInsertString(DCM_PhotometricInterpretation, s.photometric.c_str()), "pi");
  }
  check(ds.putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(s.bits_allocated)), "ba");
  check(ds.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(s.bits_stored)), "bs");
  const int high = s.high_bit < 0 ? s.bits_stored - 1 : s.high_bit;
  check(ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(high)), "hb");
  check(ds.putAndInsertUint16(DCM_PixelRepresentation, s.is_signed ? 1 : 0), "pr");
  if (s.planar >= 0) {
    check(ds.putAndInsertUint16(DCM_PlanarConfiguration, static_cast<Uint16>(s.planar)), "pc");
  }
  if (s.frames > 0) {
    check(ds.putAndInsertString(DCM_NumberOfFrames, std::to_string(s.frames).c_str()), "nf");
  }
  const auto text = [&](const DcmTagKey& tag, const std::string& v) {
    if (!v.empty()) check(ds.putAndInsertString(tag, v.c_str()), "string attribute");
  };
  text(DCM_RescaleSlope, s.slope);
  text(DCM_RescaleIntercept, s.intercept);
  text(DCM_WindowCenter, s.center);
  text(DCM_WindowWidth, s.width);
  text(DCM_VOILUTFunction, s.voi_function);
  text(DCM_ImagePositionPatient, s.position);
  text(DCM_ImageOrientationPatient, s.orientation);
  if (s.instance) text(DCM_InstanceNumber, std::to_string(*s.instance));
  if (!s.lut_descriptor.empty()) {
    DcmItem* item = nullptr;
    check(ds.findOrCreateSequenceItem(DCM_ModalityLUTSequence, item, -2), "lut item");
    check(item->putAndInsertUint16Array(DCM_LUTDescriptor, s.lut_descriptor.data(), 3), "desc");
    check(item->putAndInsertUint16Array(DCM_LUTData, s.lut_data.data(),
                                        static_cast<unsigned long>(s.lut_data.size())),
          "lut data");
    check(item->putAndInsertString(DCM_ModalityLUTType, "HU"), "lut type");
  }
  if (!s.pixel_data) return;
  if (s.bits_allocated == 8) {
    check(ds.putAndInsertUint8Array(DCM_PixelData, s.bytes.data(),
                                    static_cast<unsigned long>(s.bytes.size())),
          "pixel bytes");
  } else {
    check(ds.putAndInsertUint16Array(DCM_PixelData, s.words.data(),
                                     static_cast<unsigned long>(s.words.size())),
          "pixel words");
  }
}

/// Writes `s` as a Part 10 file (preamble, "DICM", meta header) in transfer syntax `xfer`.
inline void write(const std::string& path, const Spec& s,
                  E_TransferSyntax xfer = EXS_LittleEndianExplicit) {
  DcmFileFormat file;
  fill_dataset(*file.getDataset(), s);
  check(file.saveFile(path.c_str(), xfer), "saveFile");
}

/// A file whose pixel data is one encapsulated fragment in transfer syntax `xfer` (e.g. JPEG 2000)
/// holding `fragment` as its compressed bytes.
inline void write_encapsulated(const std::string& path, const Spec& s, E_TransferSyntax xfer,
                               std::vector<std::uint8_t> fragment) {
  Spec header = s;
  header.pixel_data = false;
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  fill_dataset(ds, header);
  if (fragment.size() % 2 != 0) fragment.push_back(0);
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  sequence->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty basic offset table
  DcmOffsetList offsets;
  check(sequence->storeCompressedFrame(offsets, fragment.data(),
                                       static_cast<Uint32>(fragment.size()), 0),
        "fragment");
  auto* pixels = new DcmPixelData(DCM_PixelData);
  pixels->putOriginalRepresentation(xfer, nullptr, sequence);
  check(ds.insert(pixels, true), "insert pixel data");
  check(file.saveFile(path.c_str(), xfer), "saveFile encapsulated");
}

/// The exact message read(path) throws (ErrorCode::input), or "" and a test failure.
template <typename Read>
std::string input_error(Read read) {
  try {
    read();
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::input);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

inline std::string dicom_error(const std::string& path, const camkit::ReadOptions& o = {}) {
  return input_error([&] { camkit::read_dicom(path, o); });
}

/// True when the DCMTK command-line tool is installed (package dcmtk).
inline bool have_tool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

/// Runs a shell command quietly; true on exit status 0.
inline bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

inline std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
}

}  // namespace dicom_test
