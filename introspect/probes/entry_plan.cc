#include "introspect/probes/entry_plan.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope::introspect {
namespace {

constexpr uint8_t kEndbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
constexpr uint8_t kNop5[] = {0x0f, 0x1f, 0x44, 0x00, 0x00};

bool At(std::span<const uint8_t> code, size_t off, std::span<const uint8_t> want) {
  return off + want.size() <= code.size() && memcmp(&code[off], want.data(), want.size()) == 0;
}

// A call to __fentry__ or the NOP ftrace leaves in its place.
bool FtraceSite(uint64_t function, std::span<const uint8_t> code, size_t off,
                std::optional<uint64_t> fentry) {
  if (At(code, off, kNop5)) return true;
  if (!fentry || off + 5 > code.size() || code[off] != 0xe8) return false;
  int32_t rel;
  memcpy(&rel, &code[off + 1], 4);
  return function + off + 5 + rel == *fentry;
}

}  // namespace

EntryPlan PlanEntry(uint64_t function, std::span<const uint8_t> code,
                    std::optional<uint64_t> fentry) {
  EntryPlan p;
  size_t off = 0;
  if (At(code, 0, kEndbr64) && FtraceSite(function, code, 4, fentry)) off = 4;
  if (FtraceSite(function, code, off, fentry)) {
    off += 5;
    p.after_ftrace = true;
  } else {
    off = 0;
  }
  p.address = function + off;
  if (At(code, off, kEndbr64)) {
    p.skip = EntryPlan::Skip::kEmulateNop;
    p.length = 4;
  } else if (off < code.size() && code[off] >= 0x50 && code[off] <= 0x57) {
    p.skip = EntryPlan::Skip::kEmulatePush;
    p.length = 1;
    p.push_reg = code[off] - 0x50;
  } else if (off + 1 < code.size() && code[off] == 0x41 && code[off + 1] >= 0x50 &&
             code[off + 1] <= 0x57) {
    p.skip = EntryPlan::Skip::kEmulatePush;
    p.length = 2;
    p.push_reg = 8 + code[off + 1] - 0x50;
  } else if (!p.after_ftrace && At(code, off, kNop5)) {
    p.skip = EntryPlan::Skip::kEmulateNop;
    p.length = 5;
  }
  return p;
}

std::string EntryPlan::Describe() const {
  static const char* kRegs[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  std::string where = after_ftrace ? " (after the ftrace site)" : "";
  switch (skip) {
    case Skip::kEmulateNop:
      return absl::StrFormat("%#x%s: emulate a %d-byte no-op", address, where, length);
    case Skip::kEmulatePush:
      return absl::StrFormat("%#x%s: emulate push %s", address, where, kRegs[push_reg & 15]);
    case Skip::kEmulateRet:
      return absl::StrFormat("%#x: a return, emulated", address);
    case Skip::kStep:
      return absl::StrFormat("%#x%s: step", address, where);
  }
  return "";
}

}  // namespace tlbscope::introspect
