// The collector's wire decode (collectors/wire_decode.h) and its state
// model and invariants (Collector) on an arbitrary event stream: the input
// is a series of records, one length byte and that many bytes of a
// serialized tlbscope.v1.Event; every record that decodes is observed.

#include <cstdint>

#include "collectors/collector.h"
#include "collectors/wire_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tlbscope::collect::Collector c;
  size_t i = 0;
  while (i < size) {
    size_t n = data[i++];
    if (n > size - i) n = size - i;
    tlbscope::collect::CEvent e;
    if (tlbscope::collect::DecodeEvent(data + i, n, &e)) c.Observe(e);
    i += n;
  }
  c.Finish(true);
  return 0;
}
