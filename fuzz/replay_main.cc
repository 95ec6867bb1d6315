// A main for the fuzz targets without libFuzzer (the normal gcc build):
// each argument is a file or a directory whose files, recursively and in
// name order, are passed to LLVMFuzzerTestOneInput one at a time. A target
// that finds a problem aborts, so a replay that returns 0 means every input
// passed; no input at all is an error (a mistyped corpus path).
//
//   build/fuzz/crm_event_fuzz fuzz/corpus/crm_event
//   replayed 24 inputs (31517 bytes) from fuzz/corpus/crm_event
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// The files of `path`: itself, or a directory's regular files by name.
std::vector<fs::path> Inputs(const fs::path& path, std::error_code& error) {
  std::vector<fs::path> files;
  if (!fs::is_directory(path, error)) {
    if (!error) files.push_back(path);
    return files;
  }
  for (fs::recursive_directory_iterator it(path, error), end;
       !error && it != end; it.increment(error)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <file or directory>...\n", argv[0]);
    return 2;
  }
  size_t inputs = 0;
  size_t bytes = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code error;
    std::vector<fs::path> files = Inputs(argv[i], error);
    if (error) {
      std::fprintf(stderr, "%s: %s\n", argv[i], error.message().c_str());
      return 1;
    }
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "%s: cannot read\n", file.c_str());
        return 1;
      }
      // The input alone in its own allocation, as libFuzzer passes it, so
      // a read past its end is caught by AddressSanitizer where it runs.
      std::vector<uint8_t> copy(data.begin(), data.end());
      LLVMFuzzerTestOneInput(copy.data(), copy.size());
      ++inputs;
      bytes += data.size();
    }
  }
  std::string from;
  for (int i = 1; i < argc; ++i)
    from += std::string(i > 1 ? " " : "") + argv[i];
  std::printf("replayed %zu inputs (%zu bytes) from %s\n", inputs, bytes,
              from.c_str());
  return inputs > 0 ? 0 : 1;
}
