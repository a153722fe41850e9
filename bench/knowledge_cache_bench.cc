// Kernel knowledge read from the kernel against read from the build-id
// cache (introspect/knowledge_cache.h), in one run:
//   build/bench/knowledge_cache_bench KERNEL [ROUNDS]
// KERNEL is a vmlinux or a bzImage (its payload is extracted first, not
// timed). Prints the mean wall time of each and their ratio.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "introspect/knowledge_cache.h"
#include "vmm/boot/bzimage.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tlbscope;
  if (argc < 2) {
    std::fprintf(stderr, "usage: knowledge_cache_bench KERNEL [ROUNDS]\n");
    return 2;
  }
  std::string path = argv[1];
  int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.empty()) {
    std::fprintf(stderr, "knowledge_cache_bench: %s: cannot be read\n", path.c_str());
    return 2;
  }
  double extract = -1;
  if (absl::StatusOr<BzImage> bz = ParseBzImage(bytes, path); bz.ok()) {
    auto t = Clock::now();
    absl::StatusOr<std::vector<uint8_t>> v = ExtractVmlinux(*bz, path);
    extract = Seconds(t, Clock::now());
    if (!v.ok()) {
      std::fprintf(stderr, "knowledge_cache_bench: %s\n",
                   std::string(v.status().message()).c_str());
      return 2;
    }
    bytes = *std::move(v);
  }
  std::string dir = std::filesystem::temp_directory_path() /
                    ("knowledge-cache-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  double uncached = 0, cached = 0, first = 0;
  size_t symbols = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    absl::StatusOr<introspect::KernelKnowledge> k = introspect::LoadKernelKnowledge(bytes, {});
    auto t1 = Clock::now();
    if (!k.ok()) {
      std::fprintf(stderr, "knowledge_cache_bench: %s\n",
                   std::string(k.status().message()).c_str());
      return 1;
    }
    uncached += Seconds(t0, t1);
    symbols = k->symbols.size();
  }
  introspect::CacheNote note;
  auto t0 = Clock::now();
  (void)introspect::LoadKernelKnowledgeCached(bytes, {}, dir, &note);  // miss: read + write
  first = Seconds(t0, Clock::now());
  for (int r = 0; r < rounds; ++r) {
    auto t1 = Clock::now();
    absl::StatusOr<introspect::KernelKnowledge> k =
        introspect::LoadKernelKnowledgeCached(bytes, {}, dir, &note);
    cached += Seconds(t1, Clock::now());
    if (!k.ok() || !note.hit) {
      std::fprintf(stderr, "knowledge_cache_bench: the cache was not used: %s\n",
                   note.line.c_str());
      return 1;
    }
  }
  uintmax_t size = std::filesystem::file_size(note.path);
  if (extract >= 0) {
    std::printf("bzImage payload decompressed in %.3f s (before either load; not cached)\n",
                extract);
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "%s: %zu symbols; cache file %ju bytes\n"
      "read from the kernel: %.3f s (mean of %d)\n"
      "first cached load (read + write the cache): %.3f s\n"
      "from the cache: %.3f s (mean of %d; key and checks included)\n"
      "ratio kernel/cache: %.1fx\n",
      path.c_str(), symbols, size, uncached / rounds, rounds, first, cached / rounds, rounds,
      (uncached / rounds) / (cached / rounds));
  return 0;
}
