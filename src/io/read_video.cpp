// camkit::read_video: a clip of a model's frame count, sampled at evenly spaced times and
// decoded by OpenCV's videoio (FFmpeg) from the regular file io has checked and opened.
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "camkit/volume.hpp"
#include "io/file_bytes.hpp"
#include "io/limits.hpp"

namespace camkit {
namespace {

// FFmpeg prints decoder complaints on stderr; camkit reports failures in its one line. OpenCV
// reads this variable when it first loads its FFmpeg backend; a value the user set is kept.
void quiet_ffmpeg() {
  static std::once_flag once;
  std::call_once(once, [] { ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0); });
}

cv::VideoCapture open_capture(const std::string& path, const io::RegularFile& file) {
  // Through the descriptor io opened: the file read is the one whose type and size were checked.
  const std::string by_fd = "/proc/self/fd/" + std::to_string(file.descriptor());
  cv::VideoCapture cap;
  try {
    cap.open(by_fd, cv::CAP_FFMPEG);
  } catch (const cv::Exception& e) {
    throw io::input_error(path, "cannot open the video (" + e.msg + ")");
  }
  if (!cap.isOpened())
    throw io::input_error(path,
                          "cannot open the video (not a container and codec that "
                          "OpenCV's FFmpeg backend decodes)");
  return cap;
}

}  // namespace

Volume read_video(const std::string& path, int frames, const ReadOptions& options) {
  if (frames < 1) throw Error(ErrorCode::usage, "read_video: frames must be at least 1");
  quiet_ffmpeg();
  const io::RegularFile file(path, options.max_file_bytes);
  cv::VideoCapture cap = open_capture(path, file);
  const double fps = cap.get(cv::CAP_PROP_FPS);
  const double w = cap.get(cv::CAP_PROP_FRAME_WIDTH), h = cap.get(cv::CAP_PROP_FRAME_HEIGHT);
  if (!(w >= 1 && h >= 1 && w < 1e9 && h < 1e9))
    throw io::input_error(path, "the video declares no frame size");
  const auto width = static_cast<std::uint64_t>(w), height = static_cast<std::uint64_t>(h);
  io::check_pixels(path, "video frame", width, height, options);
  io::check_decoded(
      path,
      "a clip of " + std::to_string(frames) + " frames of " + std::to_string(width) + " x " +
          std::to_string(height),
      io::saturating_mul(io::saturating_mul(width * height, 3), static_cast<std::uint64_t>(frames)),
      options);
  // The true frame count is what decodes: containers' counts are estimates. Counting decodes
  // the whole video once, so its length is bounded like a volume's slices.
  std::uint64_t count = 0;
  while (cap.grab()) {
    if (++count > options.max_slices)
      throw io::input_error(path, io::over_limit("video of more than " +
                                                     std::to_string(options.max_slices) + " frames",
                                                 options.max_slices, io::kSlicesFlag));
  }
  if (count == 0) throw io::input_error(path, "the video has no frames that decode");
  std::vector<int> wanted(static_cast<std::size_t>(frames));
  for (int t = 0; t < frames; ++t)
    wanted[static_cast<std::size_t>(t)] =
        static_cast<int>(std::floor((t + 0.5) * static_cast<double>(count) / frames));

  Volume v;
  v.kind = "video";
  v.depth = frames;
  v.height = static_cast<int>(height);
  v.width = static_cast<int>(width);
  v.channels = 3;
  v.bit_depth = 8;
  v.fps = std::isfinite(fps) && fps > 0 ? fps : 0;
  v.source_frames = static_cast<int>(count);
  v.frame_indices = wanted;
  for (int i : wanted) v.frame_times.push_back(v.fps > 0 ? i / v.fps : 0.0);
  const std::size_t frame_samples = static_cast<std::size_t>(width * height * 3);
  v.data.resize(frame_samples * static_cast<std::size_t>(frames));

  cap = open_capture(path, file);
  cv::Mat bgr, rgb;
  int next = 0;  // the index of the frame the next grab() returns
  for (int t = 0; t < frames; ++t) {
    const int target = wanted[static_cast<std::size_t>(t)];
    if (t == 0 || target != wanted[static_cast<std::size_t>(t - 1)]) {
      while (next <= target) {
        if (!cap.grab())
          throw io::input_error(path, "the video ends at frame " + std::to_string(next) +
                                          " on the second pass (it decoded " +
                                          std::to_string(count) + " the first time)");
        ++next;
      }
      if (!cap.retrieve(bgr) || bgr.empty())
        throw io::input_error(path, "cannot decode frame " + std::to_string(target));
      if (bgr.cols != v.width || bgr.rows != v.height || bgr.type() != CV_8UC3)
        throw io::input_error(path, "frame " + std::to_string(target) + " is " +
                                        std::to_string(bgr.cols) + " x " +
                                        std::to_string(bgr.rows) + ", not the declared size");
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    }
    float* out = v.data.data() + static_cast<std::size_t>(t) * frame_samples;
    for (int r = 0; r < rgb.rows; ++r) {
      const std::uint8_t* row = rgb.ptr<std::uint8_t>(r);
      for (int i = 0; i < rgb.cols * 3; ++i) *out++ = row[i] / 255.0f;
    }
  }
  return v;
}

}  // namespace camkit
