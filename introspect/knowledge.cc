#include "introspect/knowledge.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "introspect/btf_layout.h"
#include "introspect/dwarf_layout.h"
#include "introspect/elf_image.h"
#include "introspect/kallsyms.h"

namespace tlbscope::introspect {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s %s: cannot be read", what, path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<KernelSymbols> LoadSymbols(std::span<const uint8_t> vmlinux,
                                          const KnowledgeSources& sources,
                                          std::vector<std::string>* missing) {
  if (!sources.system_map.empty()) {
    absl::StatusOr<std::string> text = ReadFile(sources.system_map, "System.map");
    if (!text.ok()) return text.status();
    absl::StatusOr<KernelSymbols> map = SymbolsFromSystemMap(*text, sources.system_map);
    if (!map.ok()) return map.status();
    absl::Status match = CheckSymbolsMatchElf(*map, vmlinux);
    if (match.ok()) return map;
    missing->push_back(absl::StrFormat("symbols (System.map %s is not this kernel's: %s)",
                                       sources.system_map, match.message()));
  }
  absl::StatusOr<KernelSymbols> symtab = SymbolsFromElfSymtab(vmlinux);
  if (symtab.ok()) return symtab;
  absl::StatusOr<KernelSymbols> kallsyms = SymbolsFromKallsyms(vmlinux);
  if (kallsyms.ok()) return kallsyms;
  missing->push_back(absl::StrFormat("symbols (no .symtab, %s)", kallsyms.status().message()));
  return KernelSymbols();
}

void LoadLayout(const ElfImage& image, const KnowledgeSources& sources, KernelKnowledge* k) {
  std::vector<std::string> btf_missing;
  absl::StatusOr<KernelLayout> layout = absl::NotFoundError("none");
  std::string why;
  if (!sources.btf_file.empty()) {
    absl::StatusOr<std::string> blob = ReadFile(sources.btf_file, "BTF file");
    if (blob.ok()) {
      layout = LayoutFromBtf({reinterpret_cast<const uint8_t*>(blob->data()), blob->size()},
                             sources.btf_file, &btf_missing);
    } else {
      layout = blob.status();
    }
  } else if (const ElfSection* s = image.Section(".BTF")) {
    layout = LayoutFromBtf(image.Contents(*s), "(.BTF section)", &btf_missing);
  }
  if (!layout.ok()) {
    why = std::string(layout.status().message());
    std::vector<std::string> dwarf_missing;
    absl::StatusOr<KernelLayout> dwarf = LayoutFromDwarf(image, &dwarf_missing);
    if (dwarf.ok()) {
      layout = std::move(dwarf);
      btf_missing = std::move(dwarf_missing);
    } else {
      k->missing.push_back(absl::StrFormat("struct layouts (%s%s%s)", why, why.empty() ? "" : "; ",
                                           dwarf.status().message()));
      return;
    }
  }
  k->layout = *std::move(layout);
  for (std::string& m : btf_missing) k->missing.push_back(std::move(m));
}

struct Want {
  const char* name;
  std::optional<uint64_t> KernelAddresses::*dest;
  bool required;
};
constexpr Want kWants[] = {
    {"switch_mm_irqs_off", &KernelAddresses::switch_mm_irqs_off, true},
    {"enter_lazy_tlb", &KernelAddresses::enter_lazy_tlb, false},
    {"flush_tlb_mm_range", &KernelAddresses::flush_tlb_mm_range, true},
    {"flush_tlb_func", &KernelAddresses::flush_tlb_func, true},
    {"native_flush_tlb_multi", &KernelAddresses::native_flush_tlb_multi, true},
    {"tlb_gather_mmu", &KernelAddresses::tlb_gather_mmu, false},
    {"tlb_finish_mmu", &KernelAddresses::tlb_finish_mmu, false},
    {"tlb_remove_table", &KernelAddresses::tlb_remove_table, false},
    {"__per_cpu_offset", &KernelAddresses::per_cpu_offset, true},
    {"membarrier_register_private_expedited", &KernelAddresses::membarrier_register, false},
};

void ResolveAddresses(KernelKnowledge* k) {
  const KernelSymbols& s = k->symbols;
  k->addresses = FindAddresses(s);
  bool have_symbols = s.size() != 0;
  for (const Want& w : kWants) {
    if (!(k->addresses.*w.dest) && w.required && have_symbols)
      k->missing.push_back(std::string("symbol ") + w.name);
  }
  // Per-CPU offsets: from BTF's DATASEC, else the (zero-based) symbols.
  KernelLayout& l = k->layout;
  if (!l.has_pcpu_cpu_tlbstate) {
    if (auto v = s.Find("cpu_tlbstate")) l.pcpu_cpu_tlbstate = *v, l.has_pcpu_cpu_tlbstate = true;
  }
  if (!l.has_pcpu_cpu_tlbstate_shared) {
    if (auto v = s.Find("cpu_tlbstate_shared")) {
      l.pcpu_cpu_tlbstate_shared = *v, l.has_pcpu_cpu_tlbstate_shared = true;
    }
  }
  if (!l.has_pcpu_cpu_tlbstate) k->missing.push_back("per-CPU offset of cpu_tlbstate");
  if (!l.has_pcpu_cpu_tlbstate_shared)
    k->missing.push_back("per-CPU offset of cpu_tlbstate_shared");
}

}  // namespace

KernelAddresses FindAddresses(const KernelSymbols& symbols) {
  KernelAddresses a;
  for (const Want& w : kWants) a.*w.dest = symbols.Find(w.name);
  return a;
}

std::string KernelKnowledge::Summary() const {
  std::string from =
      absl::StrFormat("symbols: %s (%d), layouts: %s", symbols.size() ? symbols.source() : "none",
                      symbols.size(), layout.source.empty() ? "none" : layout.source);
  if (complete()) return "kernel knowledge complete (" + from + ")";
  return absl::StrFormat("kernel knowledge: missing %s (%s)", absl::StrJoin(missing, ", "), from);
}

absl::StatusOr<KernelKnowledge> LoadKernelKnowledge(std::span<const uint8_t> vmlinux,
                                                    const KnowledgeSources& sources) {
  absl::StatusOr<ElfImage> image = ElfImage::Open(vmlinux);
  if (!image.ok()) return image.status();
  KernelKnowledge k;
  k.build_id = image->BuildId();
  absl::StatusOr<KernelSymbols> symbols = LoadSymbols(vmlinux, sources, &k.missing);
  if (!symbols.ok()) return symbols.status();
  k.symbols = *std::move(symbols);
  if (auto banner = k.symbols.Find("linux_banner")) {
    if (auto bytes = image->At(*banner, 256)) {
      std::string s(reinterpret_cast<const char*>(bytes->data()), bytes->size());
      k.banner = s.substr(0, s.find_first_of("\n", 0));
      k.banner = k.banner.substr(0, k.banner.find('\0'));
    }
  }
  LoadLayout(*image, sources, &k);
  ResolveAddresses(&k);
  return k;
}

}  // namespace tlbscope::introspect
