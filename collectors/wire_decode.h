#pragma once

#include <cstddef>
#include <cstdint>

#include "collectors/event.h"
#include "tracefile/varint.h"

namespace tlbscope::collect {

// Decodes the bytes of one serialized tlbscope.v1.Event straight into a
// CEvent, without building the protobuf message (the replay hot path; the
// one mapping from proto fields to CEvent, FromProto uses it too). Unknown
// fields are skipped, as proto3 readers must. False: malformed bytes.
// One serialized tlbscope.v1.Event into `out`; false if malformed.
bool DecodeEvent(const uint8_t* p, size_t n, CEvent* out);
// The same, with every kind in CEvent::generic (read with Field<N>()): how
// a kind with no named member is decoded, for tests and tools.
bool DecodeEventGeneric(const uint8_t* p, size_t n, CEvent* out);

// Reads a base-128 varint at *p (< end); false if it runs past end or is
// longer than 10 bytes.
using tracefile::ReadVarint;

}  // namespace tlbscope::collect
