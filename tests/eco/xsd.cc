#include "tests/eco/xsd.h"

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include <cstdarg>
#include <cstdio>

namespace tlbscope::eco {
namespace {

constexpr char kXsd[] = TLBSCOPE_SOURCE_DIR "/docs/schema/junit.xsd";

std::string errors;

void Collect(void*, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  errors += buf;
}

}  // namespace

std::string ValidateJunit(const std::string& path) {
  errors.clear();
  xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(kXsd);
  xmlSchemaPtr schema = xmlSchemaParse(pc);
  xmlSchemaFreeParserCtxt(pc);
  if (schema == nullptr) return "the XSD does not parse";
  xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
  xmlSchemaSetValidErrors(vc, Collect, Collect, nullptr);
  xmlDocPtr doc = xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET);
  int rc = doc == nullptr ? -1 : xmlSchemaValidateDoc(vc, doc);
  if (doc) xmlFreeDoc(doc);
  xmlSchemaFreeValidCtxt(vc);
  xmlSchemaFree(schema);
  if (rc == 0) return "";
  return errors.empty() ? "not well-formed" : errors;
}

}  // namespace tlbscope::eco
