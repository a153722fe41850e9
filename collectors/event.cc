#include "collectors/event.h"

#include <string>

#include "collectors/kind_table.h"
#include "collectors/wire_decode.h"

namespace tlbscope::collect {

const char* KindName(Kind k) {
  const KindInfo* info = KindInfoOf(static_cast<uint32_t>(k));
  return info != nullptr ? info->name.c_str() : "other";
}

CEvent FromProto(const v1::Event& e) {
  // One mapping from proto fields to CEvent: the replay decoder's. The
  // serialization costs ~0.1-0.3 us, nothing at live and in-process rates.
  std::string bytes = e.SerializeAsString();
  CEvent c;
  DecodeEvent(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &c);
  return c;
}

}  // namespace tlbscope::collect
