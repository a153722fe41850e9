#pragma once

#include <string>

namespace tlbscope::eco {

// docs/schema/junit.xsd's verdict on a JUnit file (libxml2's XML Schema
// validator): "" if valid, else libxml2's messages.
std::string ValidateJunit(const std::string& path);

}  // namespace tlbscope::eco
