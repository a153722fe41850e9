#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "collectors/collector.h"

namespace tlbscope::collect {

struct LiveOptions {
  std::string address;     // HOST:PORT, :PORT or PORT (host 127.0.0.1)
  std::string token_file;  // bearer token (authorization: Bearer ...)
  std::string tls_ca;      // PEM roots: TLS on
  double connect_timeout_s = 5;
  int max_reconnects = 5;  // a dropped stream resumes from next_sequence
};

// `tlbcollect live ADDR`: subscribes to a running tlbscope's TraceService
// and feeds every event to `c` until the guest stops and the stream ends,
// then calls c.Finish(). `tick` runs after each batch (live display).
// Errors name the address: unreachable (Unavailable), bad token
// (Unauthenticated), lost events (DataLoss), unreadable token or CA file
// (InvalidArgument).
absl::Status Live(const LiveOptions& o, Collector& c, const std::function<void()>& tick);

// "HOST:PORT" from what the user typed.
std::string NormalizeAddress(const std::string& addr);

}  // namespace tlbscope::collect
