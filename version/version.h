#pragma once

#include <cstdint>
#include <string>

namespace tlbscope {

// The trace schema (TraceHeader.schema_version, proto/README.md) this
// build writes and reads; the protos are package tlbscope.v1.
inline constexpr uint32_t kProtoSchemaVersion = 1;

// The release ("0.1.0") and the git revision of the source tree at build
// time (`git describe --always --dirty`, "unknown" outside git).
const char* ReleaseVersion();
const char* GitRevision();

// What `PROGRAM --version` prints: one line, e.g.
// "tlbscope 0.1.0 (git 1a2b3c4d5e6f, proto schema 1, tlbscope.v1)\n".
std::string VersionText(const std::string& program);

}  // namespace tlbscope
