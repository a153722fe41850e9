#pragma once

#include <string>

namespace tlbscope::regress {

// `s` as text XML 1.0 can hold: every byte sequence that is not UTF-8 and
// every character outside XML's Char production (control characters but
// tab, newline and carriage return; U+FFFE, U+FFFF) becomes U+FFFD. The
// writer then escapes <, >, & and quotes as usual.
std::string XmlSafe(const std::string& s);

}  // namespace tlbscope::regress
