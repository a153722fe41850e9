#include "vmm/linux/alt_sites.h"

#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "vmm/boot/elf_file.h"

namespace tlbscope {
namespace {

using introspect::Field;
using introspect::KernelLayout;

// One .altinstructions entry, its offsets made addresses.
struct AltEntry {
  uint64_t instr = 0;  // the original code
  uint64_t repl = 0;   // the replacement in .altinstr_replacement
  uint8_t instrlen = 0;
  uint8_t replacementlen = 0;
};

// The layout can be read as the kernel's: two s32 offsets and two u8
// lengths inside an entry of alt_instr_size bytes.
absl::Status CheckLayout(const KernelLayout& l) {
  if (l.alt_instr_size == 0) return absl::NotFoundError("no struct alt_instr in its BTF or DWARF");
  const std::pair<const Field*, uint32_t> fields[] = {{&l.ai_instr_offset, 4},
                                                      {&l.ai_repl_offset, 4},
                                                      {&l.ai_instrlen, 1},
                                                      {&l.ai_replacementlen, 1}};
  for (const auto& [f, size] : fields) {
    if (!f->found || f->bits != 0 || f->size != size || f->offset + size > l.alt_instr_size) {
      return absl::FailedPreconditionError(
          "struct alt_instr is not two 32-bit offsets and two 8-bit lengths");
    }
  }
  return absl::OkStatus();
}

const ElfSection* Section(const ElfFile& elf, const char* name) {
  for (const ElfSection& s : elf.sections) {
    if (s.name == name && s.has_bits) return &s;
  }
  return nullptr;
}

template <typename T>
T Read(std::span<const uint8_t> bytes, uint64_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

absl::StatusOr<std::vector<AltEntry>> ReadEntries(std::span<const uint8_t> vmlinux,
                                                  const ElfSection& sec, const KernelLayout& l) {
  if (sec.offset > vmlinux.size() || sec.size > vmlinux.size() - sec.offset) {
    return absl::DataLossError(".altinstructions runs past the end of the file");
  }
  if (sec.size % l.alt_instr_size != 0) {
    return absl::DataLossError(
        absl::StrFormat(".altinstructions is %d bytes, not a multiple of struct alt_instr's %d",
                        sec.size, l.alt_instr_size));
  }
  std::vector<AltEntry> out;
  for (uint64_t at = 0; at < sec.size; at += l.alt_instr_size) {
    const uint64_t file = sec.offset + at, addr = sec.addr + at;
    AltEntry e;
    e.instr =
        addr + l.ai_instr_offset.offset + Read<int32_t>(vmlinux, file + l.ai_instr_offset.offset);
    e.repl =
        addr + l.ai_repl_offset.offset + Read<int32_t>(vmlinux, file + l.ai_repl_offset.offset);
    e.instrlen = Read<uint8_t>(vmlinux, file + l.ai_instrlen.offset);
    e.replacementlen = Read<uint8_t>(vmlinux, file + l.ai_replacementlen.offset);
    out.push_back(e);
  }
  return out;
}

std::string SectionOf(const ElfFile& elf, uint64_t address) {
  for (const ElfSection& s : elf.sections) {
    if (s.executable && address >= s.addr && address - s.addr < s.size) return s.name;
  }
  return "";
}

}  // namespace

absl::StatusOr<AltSitePlan> PlanAlternativeSites(std::span<const uint8_t> vmlinux,
                                                 const KernelLayout& layout,
                                                 const std::vector<TlbSite>& replacement_sites) {
  if (absl::Status s = CheckLayout(layout); !s.ok()) return s;
  absl::StatusOr<ElfFile> elf = ParseElf(vmlinux, "the vmlinux");
  if (!elf.ok()) return elf.status();
  const ElfSection* sec = Section(*elf, ".altinstructions");
  if (sec == nullptr) return absl::NotFoundError("no .altinstructions section");
  absl::StatusOr<std::vector<AltEntry>> entries = ReadEntries(vmlinux, *sec, layout);
  if (!entries.ok()) return entries.status();
  AltSitePlan plan;
  std::set<std::pair<uint64_t, std::vector<uint8_t>>> seen;
  for (const TlbSite& r : replacement_sites) {
    int mapped = 0;
    for (const AltEntry& e : *entries) {
      if (r.address < e.repl || r.address + r.length > e.repl + e.replacementlen) continue;
      const uint64_t at = r.address - e.repl;
      if (at + r.length > e.instrlen || r.mem.rip_relative()) {
        plan.problems.push_back(absl::StrFormat("%s at %#x: %s", r.text, r.address,
                                                r.mem.rip_relative()
                                                    ? "RIP-relative, not copied verbatim"
                                                    : "longer than the code it replaces"));
        continue;
      }
      TlbSite s = r;
      s.address = e.instr + at;
      s.section = SectionOf(*elf, s.address);
      s.symbol.clear();
      s.symbol_offset = 0;
      s.paddr = LoadedPhysical(elf->loads, s.address);
      if (!s.paddr || s.section.empty()) {
        plan.problems.push_back(absl::StrFormat("%s at %#x: its original code %#x is in no text",
                                                r.text, r.address, s.address));
        continue;
      }
      ++mapped;
      if (!seen.emplace(s.address, s.bytes).second) continue;
      s.klass = ClassifySite(s.kind, s.symbol, s.section);
      plan.sites.push_back(std::move(s));
    }
    if (mapped == 0) {
      plan.problems.push_back(
          absl::StrFormat("%s at %#x: no alternative names it", r.text, r.address));
    }
  }
  return plan;
}

}  // namespace tlbscope
