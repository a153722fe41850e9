#include "version/version.h"

#include "version/git_revision.h"

namespace tlbscope {

const char* ReleaseVersion() { return TLBSCOPE_VERSION; }
const char* GitRevision() { return TLBSCOPE_GIT_REVISION; }

std::string VersionText(const std::string& program) {
  return program + " " + ReleaseVersion() + " (git " + GitRevision() + ", proto schema " +
         std::to_string(kProtoSchemaVersion) + ", tlbscope.v1)\n";
}

}  // namespace tlbscope
