#pragma once
// An x86 Capstone handle with instruction details on, and one instruction
// buffer for cs_disasm_iter, both owned (RAII). Every decoder of guest code
// uses it: the TLB site scanner, the step and emulation-failure decoders
// (vmm/trap) and the kernel-code scanners of vmm/linux.
#include <capstone/capstone.h>

namespace tlbscope {

class Capstone {
 public:
  // bits: 64, 32 or 16. skip_data: the scanner's mode, which steps over
  // bytes that do not decode instead of stopping there.
  explicit Capstone(int bits = 64, bool skip_data = false) {
    cs_mode mode = bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16;
    ok_ = cs_open(CS_ARCH_X86, mode, &handle_) == CS_ERR_OK;
    if (!ok_) return;
    cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON);
    if (skip_data) cs_option(handle_, CS_OPT_SKIPDATA, CS_OPT_ON);
    insn_ = cs_malloc(handle_);
    ok_ = insn_ != nullptr;
  }
  ~Capstone() {
    if (insn_ != nullptr) cs_free(insn_, 1);
    if (handle_ != 0) cs_close(&handle_);
  }
  Capstone(const Capstone&) = delete;
  Capstone& operator=(const Capstone&) = delete;

  bool ok() const { return ok_; }
  // Decodes the instruction at *code (cs_disasm_iter: advances code, left
  // and address past it); false where the bytes do not decode.
  bool Next(const uint8_t** code, size_t* left, uint64_t* address) {
    return cs_disasm_iter(handle_, code, left, address, insn_);
  }
  // The one instruction at `address` in [code, code + size).
  bool DecodeOne(const uint8_t* code, size_t size, uint64_t address) {
    return Next(&code, &size, &address);
  }
  const cs_insn& insn() const { return *insn_; }

 private:
  csh handle_ = 0;
  cs_insn* insn_ = nullptr;
  bool ok_ = false;
};

}  // namespace tlbscope
