#pragma once

#include <cstdint>
#include <string>

namespace tlbscope::collect {

// What the decoder needs of each member of tlbscope.v1.Event's `kind`
// oneof, read once from the generated descriptor: a kind added to the
// proto is known here without a line of collector code.
struct KindInfo {
  std::string name;         // the oneof member's name ("flush_func")
  uint32_t mask_field = 0;  // its repeated uint32 CPU list's number, 0: none
};

// The kind whose field number is `num`, or nullptr if none.
const KindInfo* KindInfoOf(uint32_t num);

}  // namespace tlbscope::collect
