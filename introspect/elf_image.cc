#include "introspect/elf_image.h"

#include <gelf.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace tlbscope::introspect {

absl::StatusOr<ElfImage> ElfImage::Open(std::span<const uint8_t> bytes) {
  if (elf_version(EV_CURRENT) == EV_NONE) return absl::InternalError("libelf: elf_version failed");
  if (bytes.size() < 64 || bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' ||
      bytes[3] != 'F' || bytes[4] != ELFCLASS64) {
    return absl::InvalidArgumentError("not a 64-bit ELF");
  }
  Elf* elf = elf_memory(reinterpret_cast<char*>(const_cast<uint8_t*>(bytes.data())), bytes.size());
  if (elf == nullptr) return absl::InvalidArgumentError(absl::StrFormat("ELF: %s", elf_errmsg(-1)));
  ElfImage image(bytes, elf);
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat("ELF section names: %s", elf_errmsg(-1)));
  }
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr) continue;
    const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
    image.sections_.push_back({name ? name : "", sh.sh_type, sh.sh_flags, sh.sh_addr, sh.sh_offset,
                               sh.sh_size, sh.sh_link, sh.sh_entsize});
  }
  return image;
}

ElfImage::ElfImage(ElfImage&& other) noexcept
    : bytes_(other.bytes_), elf_(other.elf_), sections_(std::move(other.sections_)) {
  other.elf_ = nullptr;
}

ElfImage::~ElfImage() {
  if (elf_ != nullptr) elf_end(elf_);
}

const ElfSection* ElfImage::Section(std::string_view name) const {
  for (const ElfSection& s : sections_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::span<const uint8_t> ElfImage::Contents(const ElfSection& s) const {
  if (s.type == SHT_NOBITS || s.offset > bytes_.size() || s.size > bytes_.size() - s.offset) {
    return {};
  }
  return bytes_.subspan(s.offset, s.size);
}

std::optional<std::span<const uint8_t>> ElfImage::At(uint64_t address, uint64_t size) const {
  for (const ElfSection& s : sections_) {
    if (s.type != SHT_PROGBITS || (s.flags & SHF_ALLOC) == 0 || s.address == 0) continue;
    if (address < s.address || address - s.address > s.size ||
        size > s.size - (address - s.address)) {
      continue;
    }
    std::span<const uint8_t> c = Contents(s);
    if (c.empty()) return std::nullopt;
    return c.subspan(address - s.address, size);
  }
  return std::nullopt;
}

std::string ElfImage::BuildId() const {
  for (const ElfSection& s : sections_) {
    if (s.type != SHT_NOTE) continue;
    std::span<const uint8_t> c = Contents(s);
    size_t pos = 0;
    while (pos + 12 <= c.size()) {
      uint32_t namesz, descsz, type;
      memcpy(&namesz, &c[pos], 4);
      memcpy(&descsz, &c[pos + 4], 4);
      memcpy(&type, &c[pos + 8], 4);
      size_t name_at = pos + 12;
      size_t desc_at = name_at + ((namesz + 3) & ~3u);
      size_t next = desc_at + ((descsz + 3) & ~3u);
      if (next > c.size() || next <= pos) break;
      if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(&c[name_at], "GNU", 4) == 0) {
        std::string hex;
        for (size_t i = 0; i < descsz; ++i) hex += absl::StrFormat("%02x", c[desc_at + i]);
        return hex;
      }
      pos = next;
    }
  }
  return "";
}

}  // namespace tlbscope::introspect
