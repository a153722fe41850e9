// The corpus replay driver of the default (g++) build: feeds every file
// under the directories (or files) given to LLVMFuzzerTestOneInput once,
// as libFuzzer would, so CTest's `fuzz` label checks each harness on its
// checked-in corpus in seconds. The long runs use the libFuzzer binaries
// of scripts/fuzz.sh (clang, ASan, UBSan).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> InputsOf(const char* arg) {
  std::vector<std::filesystem::path> files;
  std::filesystem::path p(arg);
  if (std::filesystem::is_directory(p)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
  } else if (std::filesystem::is_regular_file(p)) {
    files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> files = InputsOf(argv[i]);
    if (files.empty()) {
      std::fprintf(stderr, "fuzz replay: %s: no corpus files\n", argv[i]);
      return 2;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
      if (!in.eof() && in.fail()) {
        std::fprintf(stderr, "fuzz replay: %s: cannot read\n", f.c_str());
        return 2;
      }
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++count;
    }
  }
  if (count == 0) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::printf("fuzz replay: %zu inputs, no crash\n", count);
  return 0;
}
