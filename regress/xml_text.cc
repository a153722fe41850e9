#include "regress/xml_text.h"

#include <libxml/chvalid.h>
#include <libxml/xmlstring.h>

namespace tlbscope::regress {

std::string XmlSafe(const std::string& s) {
  constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t left = s.size();
  while (left > 0) {
    int len = static_cast<int>(std::min<size_t>(left, 4));
    int c = xmlGetUTF8Char(p, &len);
    if (c < 0 || len <= 0) {  // not UTF-8: replace one byte, go on
      out += kReplacement;
      ++p;
      --left;
      continue;
    }
    if (xmlIsCharQ(c)) {
      out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    } else {
      out += kReplacement;
    }
    p += len;
    left -= static_cast<size_t>(len);
  }
  return out;
}

}  // namespace tlbscope::regress
