#include "vmm/trap/site_scanner.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_bytes.h"
#include "vmm/boot/bzimage.h"
#include "vmm/trap/capstone.h"

namespace tlbscope {
namespace {

std::optional<TlbSite> FromInsn(const cs_insn& insn) {
  const cs_x86& x = insn.detail->x86;
  TlbSite site{};
  switch (insn.id) {
    case X86_INS_MOV:
      if (x.op_count != 2 || x.operands[0].type != X86_OP_REG || x.operands[0].reg != X86_REG_CR3) {
        return std::nullopt;
      }
      site.kind = TlbInsn::kMovCr3;
      site.reg = x.operands[1].reg;
      break;
    case X86_INS_INVLPG:
      site.kind = TlbInsn::kInvlpg;
      break;
    case X86_INS_INVPCID:
      site.kind = TlbInsn::kInvpcid;
      break;
    default:
      return std::nullopt;
  }
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type == X86_OP_MEM) {
      site.mem.segment = op.mem.segment;
      site.mem.base = op.mem.base;
      site.mem.index = op.mem.index;
      site.mem.scale = op.mem.scale;
      site.mem.disp = op.mem.disp;
    } else if (op.type == X86_OP_REG && site.kind == TlbInsn::kInvpcid) {
      site.reg = op.reg;
    }
  }
  site.address = insn.address;
  site.length = static_cast<uint8_t>(insn.size);
  site.bytes.assign(insn.bytes, insn.bytes + insn.size);
  site.text = std::string(insn.mnemonic) + (insn.op_str[0] ? " " : "") + insn.op_str;
  return site;
}

void Symbolize(TlbSite& site, const std::vector<const ElfSymbol*>& by_addr) {
  // The innermost function that covers the address; failing that (assembler
  // labels have no size), the nearest symbol at or below it.
  auto end = std::upper_bound(by_addr.begin(), by_addr.end(), site.address,
                              [](uint64_t a, const ElfSymbol* s) { return a < s->value; });
  const ElfSymbol* nearest = end == by_addr.begin() ? nullptr : *(end - 1);
  const ElfSymbol* best = nullptr;
  for (auto it = by_addr.begin(); it != end; ++it) {
    const ElfSymbol* s = *it;
    if (s->is_function && site.address < s->value + s->size) best = s;
  }
  if (best == nullptr) best = nearest;
  if (best == nullptr) return;
  site.symbol = best->name;
  site.symbol_offset = site.address - best->value;
}

struct Region {
  std::string name;
  uint64_t addr, offset, size;
};

// The register and immediate of an `and reg, imm` / `or reg, imm`.
struct RegImm {
  unsigned id = 0;
  x86_reg reg = X86_REG_INVALID;
  int64_t imm = 0;
};

RegImm AsRegImm(const cs_insn& insn) {
  if ((insn.id != X86_INS_AND && insn.id != X86_INS_OR) || insn.detail == nullptr) return {};
  const cs_x86& x = insn.detail->x86;
  if (x.op_count != 2 || x.operands[0].type != X86_OP_REG || x.operands[1].type != X86_OP_IMM) {
    return {};
  }
  return {insn.id, x.operands[0].reg, x.operands[1].imm};
}

// Linux's PTI CR3 switches (arch/x86/entry/calling.h), recognisable without
// symbols: SWITCH_TO_KERNEL_CR3 clears the user-half bits (and $~0x1800),
// SWITCH_TO_USER_CR3 sets the user page-table bit (or $0x1000), on the
// register then moved to CR3, a few instructions before.
bool LooksLikePtiSwitch(const TlbSite& site, const std::vector<RegImm>& recent) {
  if (site.kind != TlbInsn::kMovCr3) return false;
  constexpr int64_t kKernelMask = ~int64_t{0x1800}, kUserBit = 0x1000;
  for (const RegImm& r : recent) {
    if (r.reg != site.reg) continue;
    if (r.id == X86_INS_AND && r.imm == kKernelMask) return true;
    if (r.id == X86_INS_OR && (r.imm & kUserBit)) return true;
  }
  return false;
}

}  // namespace

std::string SiteLabel(const TlbSite& s) {
  return s.symbol.empty() ? absl::StrFormat("%#x", s.address)
                          : absl::StrFormat("%s+%#x", s.symbol, s.symbol_offset);
}

const char* TlbInsnName(TlbInsn k) {
  switch (k) {
    case TlbInsn::kMovCr3:
      return "mov-cr3";
    case TlbInsn::kInvlpg:
      return "invlpg";
    case TlbInsn::kInvpcid:
      return "invpcid";
  }
  return "?";
}

const char* SiteClassName(SiteClass c) {
  switch (c) {
    case SiteClass::kEntryPti:
      return "entry/PTI";
    case SiteClass::kSwitchMm:
      return "switch_mm";
    case SiteClass::kFlush:
      return "flush";
    case SiteClass::kBoot:
      return "boot";
    case SiteClass::kOther:
      return "other";
  }
  return "?";
}

SiteClass ClassifySite(TlbInsn kind, const std::string& symbol, const std::string& section) {
  const std::string lower = absl::AsciiStrToLower(symbol);
  auto has = [&](std::initializer_list<const char*> needles) {
    for (const char* n : needles) {
      if (absl::StrContains(lower, absl::AsciiStrToLower(n))) return true;
    }
    return false;
  };
  if (section == ".entry.text" || has({"entry_SYSCALL", "entry_INT80", "error_entry", "paranoid",
                                       "asm_exc", "restore_regs_and_return", "swapgs", "_pti"})) {
    return SiteClass::kEntryPti;
  }
  if (has({"flush", "invlpg", "invpcid", "tlb_"})) return SiteClass::kFlush;
  if (section == ".head.text" || section == ".init.text" || section == ".text32" ||
      has({"startup", "start32", "trampoline", "wakeup", "resume", "hibernat", "_start", "boot"})) {
    return SiteClass::kBoot;
  }
  if (has({"switch_mm", "switch_to", "load_new_mm", "cr3", "use_temporary_mm", "efi_"})) {
    return SiteClass::kSwitchMm;
  }
  return kind == TlbInsn::kMovCr3 ? SiteClass::kOther : SiteClass::kFlush;
}

std::optional<StepInsn> DecodeStepInsn(std::span<const uint8_t> code, uint64_t address, int bits) {
  Capstone cs(bits);
  if (!cs.ok() || !cs.DecodeOne(code.data(), code.size(), address)) return std::nullopt;
  StepInsn out;
  if (std::optional<TlbSite> s = FromInsn(cs.insn())) out.tlb = s->kind;
  switch (cs.insn().id) {
    case X86_INS_IRET:
    case X86_INS_IRETD:
    case X86_INS_IRETQ:
      out.is_iret = true;
      break;
    case X86_INS_PUSHF:
    case X86_INS_PUSHFD:
    case X86_INS_PUSHFQ:
      out.is_pushf = true;
      break;
    case X86_INS_HLT:
      out.is_hlt = true;
      break;
    case X86_INS_INT:
    case X86_INS_INT1:
    case X86_INS_INT3:
    case X86_INS_INTO:
    case X86_INS_SYSCALL:
    case X86_INS_SYSENTER:
      out.ends_window = true;
      break;
    case X86_INS_SYSRET:
    case X86_INS_SYSEXIT:
      out.returns_to_user = true;
      break;
    default:
      break;
  }
  return out;
}

std::optional<TlbSite> DecodeTlbInsn(std::span<const uint8_t> code, uint64_t address,
                                     bool is_64bit) {
  Capstone cs(is_64bit ? 64 : 32);
  if (!cs.ok() || !cs.DecodeOne(code.data(), code.size(), address)) return std::nullopt;
  return FromInsn(cs.insn());
}

absl::StatusOr<SiteScan> ScanTlbSites(std::span<const uint8_t> bytes, const ElfFile& elf) {
  std::vector<Region> regions;
  for (const ElfSection& s : elf.sections) {
    if (s.executable && s.has_bits && s.size > 0)
      regions.push_back({s.name, s.addr, s.offset, s.size});
  }
  if (regions.empty()) {
    for (const ElfSegment& seg : elf.exec_loads) {
      regions.push_back(
          {absl::StrFormat("segment@%#x", seg.vaddr), seg.vaddr, seg.offset, seg.filesz});
    }
  }
  std::vector<const ElfSymbol*> by_addr;
  for (const ElfSymbol& s : elf.symbols) by_addr.push_back(&s);
  std::stable_sort(by_addr.begin(), by_addr.end(),
                   [](const ElfSymbol* a, const ElfSymbol* b) { return a->value < b->value; });

  Capstone cs(elf.is_64bit ? 64 : 32, /*skip_data=*/true);
  if (!cs.ok()) return absl::InternalError("capstone: cs_open failed");
  const cs_insn* insn = &cs.insn();
  SiteScan scan;
  for (const Region& r : regions) {
    if (r.offset > bytes.size() || r.size > bytes.size() - r.offset) continue;
    const uint8_t* code = bytes.data() + r.offset;
    size_t left = r.size;
    uint64_t addr = r.addr;
    std::vector<RegImm> recent;  // the last few instructions, oldest first
    while (cs.Next(&code, &left, &addr)) {
      std::optional<TlbSite> site = FromInsn(*insn);
      if (!site) {
        recent.push_back(AsRegImm(*insn));
        if (recent.size() > 4) recent.erase(recent.begin());
        continue;
      }
      site->section = r.name;
      Symbolize(*site, by_addr);
      site->klass = ClassifySite(site->kind, site->symbol, site->section);
      if (LooksLikePtiSwitch(*site, recent)) site->klass = SiteClass::kEntryPti;
      recent.clear();
      if (std::optional<uint64_t> pa = LoadedPhysical(elf.loads, site->address)) site->paddr = *pa;
      scan.sites.push_back(std::move(*site));
    }
    ++scan.sections_scanned;
    scan.bytes_scanned += r.size;
  }
  return scan;
}

absl::StatusOr<SiteScan> ScanTlbSitesInFile(const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(path, "kernel");
  if (!bytes.ok()) return bytes.status();
  return ScanKernelBytes(*bytes, path);
}

absl::StatusOr<SiteScan> ScanKernelBytes(std::span<const uint8_t> bytes, const std::string& path) {
  if (HasBzImageMagic(bytes)) {  // scan the vmlinux inside
    absl::StatusOr<BzImage> img = ParseBzImage(bytes, path);
    if (!img.ok()) return img.status();
    absl::StatusOr<std::vector<uint8_t>> vmlinux = ExtractVmlinux(*img, path);
    if (!vmlinux.ok()) return vmlinux.status();
    return ScanKernelBytes(*vmlinux, absl::StrCat(path, " (vmlinux from its payload)"));
  }
  absl::StatusOr<ElfFile> elf = ParseElf(bytes, path);
  if (!elf.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("kernel ", elf.status().message()));
  }
  if (elf->sections.empty() && elf->exec_loads.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kernel %s: no executable sections or segments to scan", path));
  }
  return ScanTlbSites(bytes, *elf);
}

}  // namespace tlbscope
