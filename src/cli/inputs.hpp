// Expanding command-line input arguments (files, directories, @list files) into a list of inputs.
#pragma once

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
};

/// Files as given; directories walked recursively (sorted; supported extensions, and DICOM
/// files without an extension);
/// "@list.txt": one path per line, relative to the list's folder (blank lines and lines starting
/// with '#' ignored; a listed directory is walked). A directory with class sub-folders and no
/// supported file directly inside is an ImageFolder: its files carry root and class_folder.
/// Arguments that do not exist are returned as inputs too, so that reading them reports the error
/// in order with the others. Throws Error(usage) for a list file that cannot be read.
/// With `volumes`, every file is one exam and a folder that holds DICOM files (.dcm, .dicom, or
/// no extension and the DICM magic) directly is one exam too (a series): it is not walked.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& arguments,
                                     bool volumes = false);

}  // namespace camkit::cli
