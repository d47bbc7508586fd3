// Expanding command-line input arguments (files, directories, @list files) into a list of inputs.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace camkit::cli {

struct InputFile {
  std::string path;      ///< as found (argument, or argument joined with the walked path)
  std::string relative;  ///< output location: path relative to the directory argument, the
                         ///< path as written in a list file, or the file name for a file argument
  /// ImageFolder layout: the directory argument and the class folder (first level below it)
  /// the file lies in; both empty otherwise.
  std::string root, class_folder;
  /// Volumes: the single-frame DICOM files of a folder, read as one series exam (`path` is then
  /// the folder and `relative` its name, kept whole).
  std::vector<std::string> series;
};

struct WalkOptions {
  /// Every input is an exam (docs/volumes.md): .npy files and multi-frame DICOM files one each,
  /// a folder's single-frame DICOM files one series exam.
  bool volumes = false;
  /// Inputs of a 3-D model: NIfTI (.nii, .nii.gz) and video files are inputs too.
  bool volumes3d = false;
  /// The output folder: never walked into (nor is any folder holding a .camkit.lock).
  std::string out_dir;
  /// Notes for stderr: folders skipped, links not followed.
  std::function<void(const std::string&)> note;
};

/// Files as given; directories walked recursively (sorted by relative path; supported
/// extensions, and DICOM files without an extension). Output names are lexical: relative to the
/// argument as written, never through a resolved link. A symbolic link to a folder is followed
/// unless that folder (by device and inode) was already walked for this argument: a loop or a
/// second link is noted and not followed. The output folder and camkit output folders are
/// skipped (noted). Only regular files are opened while walking; a FIFO, socket or device with
/// an input's name is still listed, so that it fails as an input of its own.
/// "@list.txt": one path per line, relative to the list's folder (blank lines and lines starting
/// with '#' ignored; a listed directory is walked). A directory with class sub-folders and no
/// supported file directly inside is an ImageFolder: its files carry root and class_folder.
/// Arguments that do not exist are returned as inputs too, so that reading them reports the error
/// in order with the others. Throws Error(usage) for a list file that cannot be read.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& arguments,
                                     const WalkOptions& options = {});

}  // namespace camkit::cli
