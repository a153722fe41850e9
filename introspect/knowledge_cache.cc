#include "introspect/knowledge_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "introspect/elf_image.h"
#include "tlbscope/v1/kernel_cache.pb.h"

namespace tlbscope::introspect {
namespace {

constexpr std::string_view kMagic = "TLBSKC1\n";
constexpr size_t kDigest = 32;
constexpr uint32_t kFormat = 5;
constexpr size_t kMaxFile = 64u << 20;  // far above a kernel's ~100k symbols

std::string Sha256(std::string_view bytes) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), d, &len, EVP_sha256(), nullptr) != 1) return "";
  return std::string(reinterpret_cast<const char*>(d), len);
}

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += absl::StrFormat("%02x", c);
  return out;
}

std::string FieldName(const FieldRequest& r) { return std::string(r.type) + "." + r.path; }

bool KeyIsSafe(const std::string& key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status ReadLayout(const v1::KernelKnowledgeCache& pb, KernelLayout* l) {
  if (pb.fields_size() != static_cast<int>(FieldRequests().size())) {
    return absl::DataLossError(absl::StrFormat("has %d layout fields, expected %d",
                                               pb.fields_size(), FieldRequests().size()));
  }
  for (const FieldRequest& r : FieldRequests()) {
    const v1::CachedField* c = nullptr;
    for (const v1::CachedField& f : pb.fields()) {
      if (f.name() == FieldName(r)) c = &f;
    }
    if (c == nullptr) return absl::DataLossError("lacks layout field " + FieldName(r));
    if (c->offset() > (1u << 20) || c->bit() > 7 || c->bits() > 64 || c->size() > 4096) {
      return absl::DataLossError("has an impossible layout field " + FieldName(r));
    }
    Field& f = l->*r.dest;
    f.offset = c->offset();
    f.bit = static_cast<uint8_t>(c->bit());
    f.bits = static_cast<uint8_t>(c->bits());
    f.size = c->size();
    f.found = c->found();
  }
  l->ts_ctxs_count = pb.ts_ctxs_count();
  l->tlb_context_size = pb.tlb_context_size();
  l->has_pcpu_cpu_tlbstate = pb.has_pcpu_cpu_tlbstate();
  l->pcpu_cpu_tlbstate = pb.pcpu_cpu_tlbstate();
  l->has_pcpu_cpu_tlbstate_shared = pb.has_pcpu_cpu_tlbstate_shared();
  l->pcpu_cpu_tlbstate_shared = pb.pcpu_cpu_tlbstate_shared();
  if (pb.page_struct_size() > 4096)
    return absl::DataLossError("has an impossible struct page size");
  l->page_struct_size = pb.page_struct_size();
  if (pb.alt_instr_size() > 4096) return absl::DataLossError("has an impossible alt_instr size");
  l->alt_instr_size = pb.alt_instr_size();
  if (pb.has_membarrier_sync_core_state())
    l->membarrier_sync_core_state = pb.membarrier_sync_core_state();
  if (pb.has_system_scheduling_state()) l->system_scheduling_state = pb.system_scheduling_state();
  l->source = pb.layout_source();
  return absl::OkStatus();
}

// The file's bytes, bounded; a symlink or anything but a regular file is
// refused. NotFound when there is none.
absl::StatusOr<std::string> ReadCacheFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError("none");
    return absl::FailedPreconditionError(std::strerror(errno));
  }
  struct stat st;
  std::string out;
  absl::Status s;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    s = absl::FailedPreconditionError("not a regular file");
  } else if (static_cast<uint64_t>(st.st_size) > kMaxFile) {
    s = absl::FailedPreconditionError(absl::StrFormat("%d bytes, over the limit", st.st_size));
  } else {
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    out.resize(got);
  }
  ::close(fd);
  if (!s.ok()) return s;
  return out;
}

// Written beside the final name, then renamed: a reader never sees half.
absl::Status WriteCacheFile(const std::string& dir, const std::string& path,
                            const std::string& bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(ec.message());
  std::string tmp = absl::StrFormat("%s.tmp.%d", path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  size_t put = 0;
  while (put < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + put, bytes.size() - put);
    if (n <= 0) break;
    put += static_cast<size_t>(n);
  }
  bool ok = put == bytes.size() && ::close(fd) == 0;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError("write failed");
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultKernelCacheDir() {
  if (const char* d = std::getenv("TLBSCOPE_KERNEL_CACHE"); d != nullptr && *d != '\0') {
    return std::string(d) == "off" ? "" : d;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/') {
    return std::string(x) + "/tlbscope/kernels";
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h == '/') {
    return std::string(h) + "/.cache/tlbscope/kernels";
  }
  return "";
}

std::string KernelCacheKey(std::span<const uint8_t> vmlinux) {
  if (absl::StatusOr<ElfImage> image = ElfImage::Open(vmlinux); image.ok()) {
    std::string id = image->BuildId();
    if (!id.empty() && KeyIsSafe(id)) return id;
  }
  return "sha256-" + Hex(Sha256({reinterpret_cast<const char*>(vmlinux.data()), vmlinux.size()}));
}

std::string SourcesFingerprint(const KnowledgeSources& sources) {
  std::string out;
  for (const std::string& path : {sources.system_map, sources.btf_file}) {
    struct stat st;
    if (path.empty()) {
      out += "-;";
    } else if (::stat(path.c_str(), &st) != 0) {
      out += path + " (unreadable);";
    } else {
      out += absl::StrFormat("%s %d %d.%09d;", path, st.st_size, st.st_mtim.tv_sec,
                             st.st_mtim.tv_nsec);
    }
  }
  return out;
}

std::string EncodeKnowledgeCache(const KernelKnowledge& k, const std::string& key,
                                 const std::string& sources) {
  v1::KernelKnowledgeCache pb;
  pb.set_format(kFormat);
  pb.set_key(key);
  pb.set_sources(sources);
  pb.set_build_id(k.build_id);
  pb.set_banner(k.banner);
  pb.set_symbols_source(k.symbols.source());
  for (const auto& [name, address] : k.symbols.Entries()) {
    v1::CachedSymbol* s = pb.add_symbols();
    s->set_name(name);
    s->set_address(address);
  }
  const KernelLayout& l = k.layout;
  for (const FieldRequest& r : FieldRequests()) {
    const Field& f = l.*r.dest;
    v1::CachedField* c = pb.add_fields();
    c->set_name(FieldName(r));
    c->set_offset(f.offset);
    c->set_bit(f.bit);
    c->set_bits(f.bits);
    c->set_size(f.size);
    c->set_found(f.found);
  }
  pb.set_ts_ctxs_count(l.ts_ctxs_count);
  pb.set_tlb_context_size(l.tlb_context_size);
  if (l.has_pcpu_cpu_tlbstate) pb.set_pcpu_cpu_tlbstate(l.pcpu_cpu_tlbstate);
  if (l.has_pcpu_cpu_tlbstate_shared) pb.set_pcpu_cpu_tlbstate_shared(l.pcpu_cpu_tlbstate_shared);
  if (l.page_struct_size != 0) pb.set_page_struct_size(l.page_struct_size);
  if (l.alt_instr_size != 0) pb.set_alt_instr_size(l.alt_instr_size);
  if (l.membarrier_sync_core_state)
    pb.set_membarrier_sync_core_state(*l.membarrier_sync_core_state);
  if (l.system_scheduling_state) pb.set_system_scheduling_state(*l.system_scheduling_state);
  pb.set_layout_source(l.source);
  for (const std::string& m : k.missing) pb.add_missing(m);
  return SealKnowledgeCache(pb.SerializeAsString());
}

std::string SealKnowledgeCache(std::string_view body) {
  return std::string(kMagic) + Sha256(body) + std::string(body);
}

absl::StatusOr<KernelKnowledge> DecodeKnowledgeCache(std::string_view bytes, const std::string& key,
                                                     const std::string& sources) {
  if (bytes.size() < kMagic.size() + kDigest || !bytes.starts_with(kMagic)) {
    return absl::DataLossError(bytes.starts_with(kMagic) || bytes.size() < kMagic.size()
                                   ? absl::StrFormat("truncated (%d bytes)", bytes.size())
                                   : "not a tlbscope kernel cache file");
  }
  std::string_view digest = bytes.substr(kMagic.size(), kDigest);
  std::string_view body = bytes.substr(kMagic.size() + kDigest);
  if (Sha256(body) != digest) return absl::DataLossError("corrupt or truncated (checksum)");
  v1::KernelKnowledgeCache pb;
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::DataLossError("does not parse");
  }
  if (pb.format() != kFormat) {
    return absl::DataLossError(
        absl::StrFormat("format %d, this tlbscope reads %d", pb.format(), kFormat));
  }
  if (pb.key() != key) {
    return absl::DataLossError(absl::StrFormat("is for kernel %s, not %s", pb.key(), key));
  }
  if (pb.sources() != sources) return absl::DataLossError("was read with other sources");
  KernelKnowledge k;
  if (absl::Status s = ReadLayout(pb, &k.layout); !s.ok()) return s;
  k.build_id = pb.build_id();
  k.banner = pb.banner();
  k.symbols.set_source(pb.symbols_source());
  k.symbols.Reserve(static_cast<size_t>(pb.symbols_size()));
  for (const v1::CachedSymbol& s : pb.symbols()) k.symbols.Add(s.name(), s.address());
  k.addresses = FindAddresses(k.symbols);
  k.missing.assign(pb.missing().begin(), pb.missing().end());
  return k;
}

absl::StatusOr<KernelKnowledge> LoadKernelKnowledgeCached(std::span<const uint8_t> vmlinux,
                                                          const KnowledgeSources& sources,
                                                          const std::string& cache_dir,
                                                          CacheNote* note) {
  *note = CacheNote();
  if (cache_dir.empty()) return LoadKernelKnowledge(vmlinux, sources);
  std::string key = KernelCacheKey(vmlinux);
  std::string fingerprint = SourcesFingerprint(sources);
  note->path = cache_dir + "/" + key;
  absl::StatusOr<std::string> file = ReadCacheFile(note->path);
  if (file.ok()) {
    absl::StatusOr<KernelKnowledge> k = DecodeKnowledgeCache(*file, key, fingerprint);
    if (k.ok()) {
      note->hit = true;
      return k;
    }
    note->line = absl::StrFormat("kernel cache %s: %s; reading the kernel", note->path,
                                 k.status().message());
  } else if (!absl::IsNotFound(file.status())) {
    note->line = absl::StrFormat("kernel cache %s: %s; reading the kernel", note->path,
                                 file.status().message());
  }
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(vmlinux, sources);
  if (!k.ok()) return k;
  if (absl::Status w =
          WriteCacheFile(cache_dir, note->path, EncodeKnowledgeCache(*k, key, fingerprint));
      !w.ok() && note->line.empty()) {
    note->line = absl::StrFormat("kernel cache %s: not written: %s", note->path, w.message());
  }
  return k;
}

}  // namespace tlbscope::introspect
