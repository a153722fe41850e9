#pragma once
// A 64-bit x86 Capstone handle with instruction details on, and one
// instruction buffer for cs_disasm_iter, both owned (RAII): the kernel-code
// scanners of vmm/linux (load_site, sync_core_site, return_site) share it.
#include <capstone/capstone.h>

namespace tlbscope {

class Capstone64 {
 public:
  Capstone64() {
    ok_ = cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) == CS_ERR_OK;
    if (!ok_) return;
    cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON);
    insn_ = cs_malloc(handle_);
    ok_ = insn_ != nullptr;
  }
  ~Capstone64() {
    if (insn_ != nullptr) cs_free(insn_, 1);
    if (handle_ != 0) cs_close(&handle_);
  }
  Capstone64(const Capstone64&) = delete;
  Capstone64& operator=(const Capstone64&) = delete;

  bool ok() const { return ok_; }
  // Decodes the instruction at *code (cs_disasm_iter: advances code, left
  // and address past it); false where the bytes do not decode.
  bool Next(const uint8_t** code, size_t* left, uint64_t* address) {
    return cs_disasm_iter(handle_, code, left, address, insn_);
  }
  const cs_insn& insn() const { return *insn_; }

 private:
  csh handle_ = 0;
  cs_insn* insn_ = nullptr;
  bool ok_ = false;
};

}  // namespace tlbscope
