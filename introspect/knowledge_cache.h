#pragma once
// Kernel knowledge read once per kernel: LoadKernelKnowledge's result kept
// in a cache file keyed by the vmlinux's GNU build-id (or, without one, the
// SHA-256 of the image), so the next run of the same kernel skips the
// symbol, kallsyms, BTF and DWARF parsing. The file
// (proto/tlbscope/v1/kernel_cache.proto) is checked before use: magic,
// SHA-256 of its contents, format, key, the sources it was read with, every
// layout field; anything else is one line and the kernel is read again.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "introspect/knowledge.h"

namespace tlbscope::introspect {

// $TLBSCOPE_KERNEL_CACHE if set ("off": no cache), else
// $XDG_CACHE_HOME/tlbscope/kernels, else $HOME/.cache/tlbscope/kernels.
std::string DefaultKernelCacheDir();

// The cache key of this image: its build-id (hex), else "sha256-" + hash.
std::string KernelCacheKey(std::span<const uint8_t> vmlinux);

// The system_map / BTF file as the cache records them (path, size, mtime),
// so knowledge read with other sources is not taken for this one.
std::string SourcesFingerprint(const KnowledgeSources& sources);

// The file around a serialized KernelKnowledgeCache: magic, SHA-256, body.
std::string SealKnowledgeCache(std::string_view body);

// The cache file's bytes for `k`, and back. Decode checks everything the
// header lists; an error is one line saying what is wrong.
std::string EncodeKnowledgeCache(const KernelKnowledge& k, const std::string& key,
                                 const std::string& sources);
absl::StatusOr<KernelKnowledge> DecodeKnowledgeCache(std::string_view bytes, const std::string& key,
                                                     const std::string& sources);

// How a cached load went.
struct CacheNote {
  bool hit = false;
  std::string path;  // the cache file ("" when the cache is off)
  std::string line;  // a rejected or unwritable cache file, else ""
};

// LoadKernelKnowledge through the cache in `cache_dir` ("" = no cache): a
// valid file is used; a missing one is written after the kernel is read; a
// bad one is reported in note->line, read past and replaced. Errors are
// LoadKernelKnowledge's; the cache never fails a load.
absl::StatusOr<KernelKnowledge> LoadKernelKnowledgeCached(std::span<const uint8_t> vmlinux,
                                                          const KnowledgeSources& sources,
                                                          const std::string& cache_dir,
                                                          CacheNote* note);

}  // namespace tlbscope::introspect
