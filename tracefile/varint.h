#pragma once

// Protobuf wire-format primitives for readers that decode without
// generated code (the trace scanner, the collectors' event decoder).

#include <cstdint>

namespace tlbscope::tracefile {

inline bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  if (p < end && *p < 0x80) {  // most tags and small values: one byte
    *v = *p++;
    return true;
  }
  uint64_t r = 0;
  for (int shift = 0; shift < 70 && p < end; shift += 7) {
    uint8_t b = *p++;
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

// Steps over one field's value of wire type `wire`; false if it runs past
// `end` or the wire type is not one protobuf writes (groups included).
inline bool SkipField(const uint8_t*& p, const uint8_t* end, uint32_t wire) {
  uint64_t v;
  switch (wire) {
    case 0:
      return ReadVarint(p, end, &v);
    case 1:
      if (end - p < 8) return false;
      p += 8;
      return true;
    case 2:
      if (!ReadVarint(p, end, &v) || v > static_cast<uint64_t>(end - p)) return false;
      p += v;
      return true;
    case 5:
      if (end - p < 4) return false;
      p += 4;
      return true;
    default:
      return false;
  }
}

}  // namespace tlbscope::tracefile
