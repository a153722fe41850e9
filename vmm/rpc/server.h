#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/rpc/trace_service.h"

namespace grpc {
class Server;
}

namespace tlbscope {

struct ServeOptions {
  std::string listen;             // "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT" (host 127.0.0.1)
  std::string tls_cert, tls_key;  // PEM files
  std::string token_file;         // the bearer token, one line
};

// "HOST:PORT" with the host defaulted to 127.0.0.1; InvalidArgument if bad.
absl::StatusOr<std::string> NormalizeListenAddress(const std::string& listen);
bool IsLoopbackAddress(const std::string& host_port);

// Reads the token file (InvalidArgument naming it when unreadable/empty)
// and checks that a non-loopback address has TLS and a token.
absl::StatusOr<std::string> LoadServeSecrets(const ServeOptions& o);

// TraceService plus the standard health service and server reflection.
class RpcServer {
 public:
  static absl::StatusOr<std::unique_ptr<RpcServer>> Start(const ServeOptions& o,
                                                          TraceServiceImpl* service);
  ~RpcServer();
  const std::string& address() const { return address_; }  // with the real port
  void Shutdown();

 private:
  RpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace tlbscope
