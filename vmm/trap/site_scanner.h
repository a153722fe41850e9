#pragma once

#include <capstone/capstone.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/boot/elf_file.h"

namespace tlbscope {

enum class TlbInsn { kMovCr3, kInvlpg, kInvpcid };
const char* TlbInsnName(TlbInsn k);

// Where a site sits in the kernel's TLB management, from its symbol and
// section: the user<->kernel PTI switches, switch_mm, explicit flushes, boot.
enum class SiteClass { kEntryPti, kSwitchMm, kFlush, kBoot, kOther };
const char* SiteClassName(SiteClass c);
SiteClass ClassifySite(TlbInsn kind, const std::string& symbol, const std::string& section);

// A decoded x86 memory operand (capstone register ids; X86_REG_INVALID when absent).
struct MemOperand {
  x86_reg segment = X86_REG_INVALID;
  x86_reg base = X86_REG_INVALID;
  x86_reg index = X86_REG_INVALID;
  int scale = 1;
  int64_t disp = 0;
  bool rip_relative() const { return base == X86_REG_RIP; }
};

struct TlbSite {
  uint64_t address;  // virtual address (the ELF's view)
  TlbInsn kind;
  uint8_t length;
  std::vector<uint8_t> bytes;
  std::string text;  // "mov cr3, rdi"
  // MOV-to-CR3: the source register; INVPCID: the type register.
  x86_reg reg = X86_REG_INVALID;
  // INVLPG: the address; INVPCID: the descriptor.
  MemOperand mem;
  std::string section;
  std::string symbol;  // empty when the kernel is stripped
  uint64_t symbol_offset = 0;
  SiteClass klass = SiteClass::kOther;
  // Where the loader put the first byte (from the PT_LOAD that holds it).
  std::optional<uint64_t> paddr;
};

// "switch_mm_irqs_off+0x1a4", or the address when there is no symbol.
std::string SiteLabel(const TlbSite& s);

struct SiteScan {
  std::vector<TlbSite> sites;
  int sections_scanned = 0;
  uint64_t bytes_scanned = 0;
};

// Linear-sweep disassembly (Capstone, skipping undecodable bytes as objdump
// does) of every executable section -- or, without section headers, every
// executable PT_LOAD -- collecting each MOV-to-CR3, INVLPG and INVPCID.
absl::StatusOr<SiteScan> ScanTlbSites(std::span<const uint8_t> bytes, const ElfFile& elf);

// Same, from a whole kernel file's bytes; errors name `path`.
absl::StatusOr<SiteScan> ScanKernelBytes(std::span<const uint8_t> bytes, const std::string& path);
// Same, reading the file.
absl::StatusOr<SiteScan> ScanTlbSitesInFile(const std::string& path);

// One instruction as a single-step window sees it.
struct StepInsn {
  std::optional<TlbInsn> tlb;    // a TLB instruction
  bool is_iret = false;          // iret: CPL3 if the CS it pops says so
  bool returns_to_user = false;  // sysret / sysexit: always CPL3
  // int n, syscall, sysenter (would save the stepping TF flag where the VMM
  // does not look for it).
  bool ends_window = false;
  bool is_hlt = false;
  bool is_pushf = false;  // stores RFLAGS, TF included, at the new RSP
};
// Decodes the instruction at `address` in 16-, 32- or 64-bit mode (bits);
// nullopt if Capstone cannot decode it.
std::optional<StepInsn> DecodeStepInsn(std::span<const uint8_t> code, uint64_t address, int bits);

// Decodes one instruction at `address`; nullopt if it is not a TLB instruction.
std::optional<TlbSite> DecodeTlbInsn(std::span<const uint8_t> code, uint64_t address,
                                     bool is_64bit);

}  // namespace tlbscope
