#pragma once
// Where Linux serializes the core for membarrier SYNC_CORE. On an unlazy
// switch into an mm registered for it, finish_task_switch() runs
// sync_core_before_usermode() -> sync_core(), inlined: a SERIALIZE
// instruction where the CPU has it, else iret_to_self() (`mov r32, ss;
// push; ...; iretq` to the next instruction). Capstone finds both forms in
// the function's code; an int3 on each (the iret form: on its `mov r32, ss`,
// the instruction stepped) says the CPU is about to serialize.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tlbscope {

struct SyncCoreSite {
  uint64_t address = 0;
  std::string text;  // "serialize", "mov eax, ss"
};

// Every serializing sequence in `code`, which starts at `start`. Capstone
// 4 does not decode SERIALIZE (0f 01 e8): those bytes where decoding stops
// are taken as it, and decoding goes on after them. `*complete` (when
// given) says whether every byte was decoded: only then does an empty
// answer mean the code has none.
std::vector<SyncCoreSite> FindSyncCoreSites(std::span<const uint8_t> code, uint64_t start,
                                            bool* complete = nullptr);

}  // namespace tlbscope
