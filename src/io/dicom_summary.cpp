// camkit::read_dicom_summary: the header facts a directory walk groups DICOM files by, without
// decoding (or even reading) the pixel data.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/oflog/oflog.h>

#include "camkit/image.hpp"
#include "io/file_bytes.hpp"

namespace camkit {

DicomSummary read_dicom_summary(const std::string& path) {
  if (!is_dicom_file(path)) throw io::input_error(path, "not a DICOM file (no 'DICM' marker)");
  static const bool quiet = [] {
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::FATAL_LOG_LEVEL);
    return true;
  }();
  (void)quiet;
  DcmFileFormat file;
  const OFCondition ok = file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange,
                                               DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
  if (ok.bad())
    throw io::input_error(path, std::string("cannot parse the DICOM header (") + ok.text() + ")");
  DcmDataset& ds = *file.getDataset();
  DicomSummary out;
  Sint32 frames = 1;
  if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1) out.frames = frames;
  OFString uid;
  if (ds.findAndGetOFString(DCM_SeriesInstanceUID, uid).good()) out.series_uid = uid.c_str();
  return out;
}

}  // namespace camkit
