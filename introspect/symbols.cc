#include "introspect/symbols.h"

#include <gelf.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "introspect/elf_image.h"

namespace tlbscope::introspect {

void KernelSymbols::Add(std::string name, uint64_t address) {
  if (name.empty() || by_name_.contains(name)) return;
  by_address_.emplace(address, name);
  by_name_.emplace(std::move(name), address);
}

std::vector<std::pair<std::string, uint64_t>> KernelSymbols::Entries() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(by_name_.size());
  for (const auto& [address, name] : by_address_) out.emplace_back(name, address);
  size_t first = out.size();
  for (const auto& [name, address] : by_name_) {
    auto it = by_address_.find(address);
    if (it == by_address_.end() || it->second != name) out.emplace_back(name, address);
  }
  std::sort(out.begin() + static_cast<ptrdiff_t>(first), out.end());
  return out;
}

std::optional<uint64_t> KernelSymbols::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::pair<std::string, uint64_t>> KernelSymbols::FindFunction(
    std::string_view name) const {
  if (std::optional<uint64_t> a = Find(name)) return std::make_pair(std::string(name), *a);
  std::optional<std::pair<std::string, uint64_t>> best;
  std::string prefix = std::string(name) + ".";
  for (const auto& [n, a] : by_name_) {
    if (n.starts_with(prefix) && (!best || a < best->second)) best = std::make_pair(n, a);
  }
  return best;
}

std::optional<uint64_t> KernelSymbols::NextAbove(uint64_t address) const {
  auto it = by_address_.upper_bound(address);
  if (it == by_address_.end()) return std::nullopt;
  return it->first;
}

std::string KernelSymbols::NameAt(uint64_t address) const {
  auto it = by_address_.upper_bound(address);
  if (it == by_address_.begin()) return "";
  --it;
  if (it->first == address) return it->second;
  return absl::StrFormat("%s+%#x", it->second, address - it->first);
}

absl::StatusOr<KernelSymbols> SymbolsFromElfSymtab(std::span<const uint8_t> bytes) {
  absl::StatusOr<ElfImage> image = ElfImage::Open(bytes);
  if (!image.ok()) return image.status();
  Elf* elf = image->elf();
  KernelSymbols symbols;
  symbols.set_source("symtab");
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) continue;
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) break;
      int type = GELF_ST_TYPE(sym.st_info);
      if (sym.st_shndx == SHN_UNDEF ||
          (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE)) {
        continue;
      }
      const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
      if (name != nullptr) symbols.Add(name, sym.st_value);
    }
  }
  if (symbols.size() == 0) return absl::NotFoundError("the vmlinux has no .symtab");
  return symbols;
}

absl::StatusOr<KernelSymbols> SymbolsFromSystemMap(std::string_view text, const std::string& what) {
  KernelSymbols symbols;
  symbols.set_source("System.map " + what);
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t address = 0;
    if (f.size() < 3 || f[1].size() != 1 || !absl::SimpleHexAtoi(f[0], &address)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("System.map %s line %d: not \"ADDRESS TYPE NAME\"", what, line_no));
    }
    symbols.Add(std::string(f[2]), address);
  }
  if (symbols.size() == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("System.map %s: no symbols", what));
  }
  return symbols;
}

absl::Status CheckSymbolsMatchElf(const KernelSymbols& map, std::span<const uint8_t> elf) {
  absl::StatusOr<ElfImage> image = ElfImage::Open(elf);
  if (!image.ok()) return image.status();
  std::optional<uint64_t> banner = map.Find("linux_banner");
  if (!banner) return absl::FailedPreconditionError("no linux_banner symbol");
  static constexpr char kBanner[] = "Linux version ";
  auto bytes = image->At(*banner, sizeof(kBanner) - 1);
  if (!bytes || memcmp(bytes->data(), kBanner, sizeof(kBanner) - 1) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "linux_banner at %#x is not the \"Linux version\" string of this vmlinux", *banner));
  }
  std::optional<uint64_t> text = map.Find("_text");
  uint64_t lowest = UINT64_MAX;
  for (const ElfSection& s : image->sections()) {
    if ((s.flags & SHF_EXECINSTR) && s.address != 0 && s.address < lowest) lowest = s.address;
  }
  if (text && lowest != UINT64_MAX && *text != lowest) {
    return absl::FailedPreconditionError(
        absl::StrFormat("_text %#x is not this vmlinux's text start %#x", *text, lowest));
  }
  return absl::OkStatus();
}

}  // namespace tlbscope::introspect
