#include "vmm/rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/bounded_read.h"

namespace tlbscope {
namespace {

absl::StatusOr<std::string> ReadSecretFile(const std::string& flag, const std::string& path) {
  return ReadBoundedFile(flag, path, kMaxSmallFileBytes);
}

}  // namespace

absl::StatusOr<std::string> NormalizeListenAddress(const std::string& listen) {
  std::string host = "127.0.0.1", port = listen;
  if (size_t colon = listen.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  int p;
  if (!absl::SimpleAtoi(port, &p) || p < 0 || p > 65535 || host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--listen '%s' is not HOST:PORT, :PORT or PORT (a port 0..65535)", listen));
  }
  return absl::StrFormat("%s:%d", host, p);
}

bool IsLoopbackAddress(const std::string& host_port) {
  std::string host = host_port.substr(0, host_port.rfind(':'));
  return absl::StartsWith(host, "127.") || host == "localhost" || host == "[::1]" || host == "::1";
}

absl::StatusOr<std::string> LoadServeSecrets(const ServeOptions& o) {
  absl::StatusOr<std::string> addr = NormalizeListenAddress(o.listen);
  if (!addr.ok()) return addr.status();
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!IsLoopbackAddress(*addr) && (o.tls_cert.empty() || o.token_file.empty())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--listen %s is not a loopback address: --tls-cert, --tls-key and --token-file are "
        "required",
        *addr));
  }
  if (o.token_file.empty()) return std::string();
  return ReadTokenFile("--token-file", o.token_file);
}

absl::StatusOr<std::unique_ptr<RpcServer>> RpcServer::Start(const ServeOptions& o,
                                                            TraceServiceImpl* service) {
  absl::StatusOr<std::string> addr = NormalizeListenAddress(o.listen);
  if (!addr.ok()) return addr.status();
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!o.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadSecretFile("--tls-cert", o.tls_cert);
    absl::StatusOr<std::string> key = ReadSecretFile("--tls-key", o.tls_key);
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(*addr, creds, &port);
  builder.RegisterService(service);
  std::unique_ptr<RpcServer> s(new RpcServer());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || port == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--listen %s: cannot listen there (in use, or a bad TLS key/cert)", *addr));
  }
  s->address_ = absl::StrFormat("%s:%d", addr->substr(0, addr->rfind(':')), port);
  return s;
}

void RpcServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
  }
}

RpcServer::~RpcServer() { Shutdown(); }

}  // namespace tlbscope
