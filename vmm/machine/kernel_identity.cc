#include "vmm/machine/kernel_identity.h"

#include <openssl/evp.h>

#include "absl/strings/str_format.h"
#include "vmm/boot/elf_file.h"
#include "vmm/trace/proto_text.h"

namespace tlbscope {

absl::StatusOr<v1::KernelIdentity> IdentifyKernel(std::span<const uint8_t> bytes,
                                                  const std::string& path) {
  v1::KernelIdentity id;
  SetTextAndBytes(
      path, [&](std::string s) { id.set_path(s); }, [&](std::string b) { id.set_path_bytes(b); });
  id.set_size(bytes.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError(absl::StrFormat("kernel %s: SHA-256 failed", path));
  }
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += absl::StrFormat("%02x", digest[i]);
  id.set_sha256(hex);
  if (HasElfMagic(bytes)) {
    if (absl::StatusOr<ElfFile> elf = ParseElf(bytes, path); elf.ok()) {
      id.set_build_id(elf->build_id);
    }
  }
  return id;
}

}  // namespace tlbscope
