#include "regress/domain_xml.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/file_bytes.h"

namespace tlbscope::regress {
namespace {

void QuietLibvirt(void*, virErrorPtr) {}

std::string LastLibvirtError() {
  virErrorPtr e = virGetLastError();
  return e && e->message ? e->message : "unknown libvirt error";
}

// One connection to libvirt's test driver for the process: opening it
// parses the driver's default configuration (~14 ms), which made each
// domain file cost that much. Every domain defined on it is undefined
// again (DomainFreer), so one parse never sees another's domain. Callers
// hold DriverMutex().
virConnectPtr TestDriver() {
  static virConnectPtr conn = [] {
    virSetErrorFunc(nullptr, QuietLibvirt);
    return virConnectOpen("test:///default");
  }();
  return conn;
}

std::mutex& DriverMutex() {
  static std::mutex m;
  return m;
}
struct DomainFreer {
  void operator()(virDomainPtr d) const {
    virDomainUndefine(d);
    virDomainFree(d);
  }
};
struct DocFreer {
  void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
};
struct XPathCtxFreer {
  void operator()(xmlXPathContextPtr c) const { xmlXPathFreeContext(c); }
};
struct XPathObjFreer {
  void operator()(xmlXPathObjectPtr o) const { xmlXPathFreeObject(o); }
};

// Every node an XPath matches, as element names or text.
std::vector<std::string> Select(xmlXPathContextPtr ctx, const char* xpath, bool text) {
  std::unique_ptr<xmlXPathObject, XPathObjFreer> o(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(xpath), ctx));
  std::vector<std::string> out;
  if (!o || !o->nodesetval) return out;
  for (int i = 0; i < o->nodesetval->nodeNr; ++i) {
    xmlNodePtr n = o->nodesetval->nodeTab[i];
    if (!text) {
      out.emplace_back(reinterpret_cast<const char*>(n->name));
      continue;
    }
    xmlChar* c = xmlNodeGetContent(n);
    out.emplace_back(c ? reinterpret_cast<const char*>(c) : "");
    xmlFree(c);
  }
  return out;
}

std::string One(xmlXPathContextPtr ctx, const char* xpath) {
  std::vector<std::string> v = Select(ctx, xpath, true);
  return v.empty() ? "" : v[0];
}

// libvirt sizes arrays from what the file says before it checks it: a
// `<vcpu>-4</vcpu>` made its test driver allocate 2^32 vCPUs (found by
// tests/fuzz/domain_xml). So the file is read here first: only the top-level
// elements tlbscope has a use for (or that are harmless), and a vCPU count
// of 1 to 64 written as a plain number.
absl::Status Precheck(const std::string& xml) {
  std::unique_ptr<xmlDoc, DocFreer> doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()),
                                                      "domain.xml", nullptr, XML_PARSE_NONET));
  if (!doc) return absl::InvalidArgumentError("not well-formed XML");
  xmlNodePtr root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || xmlStrcmp(root->name, BAD_CAST "domain") != 0) {
    return absl::InvalidArgumentError("the root element is not <domain>");
  }
  static const std::set<std::string> kKnown = {
      "name", "uuid",     "title", "description", "metadata",  "memory",   "currentMemory", "vcpu",
      "os",   "features", "clock", "on_poweroff", "on_reboot", "on_crash", "devices"};
  std::unique_ptr<xmlXPathContext, XPathCtxFreer> ctx(xmlXPathNewContext(doc.get()));
  for (const std::string& e : Select(ctx.get(), "/domain/*", false)) {
    if (!kKnown.contains(e)) {
      return absl::InvalidArgumentError(absl::StrFormat("<%s>: tlbscope does not read it", e));
    }
  }
  for (const char* xpath : {"/domain/vcpu", "/domain/vcpu/@current"}) {
    for (const std::string& v : Select(ctx.get(), xpath, true)) {
      absl::string_view t = absl::StripAsciiWhitespace(v);
      int n = 0;
      if (t.empty() || t.size() > 2 || !absl::c_all_of(t, absl::ascii_isdigit) ||
          !absl::SimpleAtoi(t, &n) || n < 1 || n > 64) {
        return absl::InvalidArgumentError(
            absl::StrFormat("vcpu %s: tlbscope runs 1 to 64 vCPUs", absl::CHexEscape(t)));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DomainVm> ParseDomainXml(const std::string& xml, const std::string& path) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrFormat("domain %s: %s", path, what));
  };
  if (absl::Status s = Precheck(xml); !s.ok()) return bad(std::string(s.message()));
  std::lock_guard<std::mutex> lock(DriverMutex());
  virConnectPtr conn = TestDriver();
  if (!conn) return absl::InternalError("libvirt test driver: " + LastLibvirtError());
  std::unique_ptr<virDomain, DomainFreer> dom(virDomainDefineXML(conn, xml.c_str()));
  if (!dom) return bad(LastLibvirtError());

  DomainVm vm;
  virDomainInfo info;
  if (virDomainGetInfo(dom.get(), &info) != 0) return bad(LastLibvirtError());
  vm.vcpus = info.nrVirtCpu;
  vm.mem_mib = info.maxMem / 1024;
  if (const char* n = virDomainGetName(dom.get())) vm.name = n;

  // What libvirt made of it (normalized: units, defaults filled in).
  char* desc = virDomainGetXMLDesc(dom.get(), 0);
  if (!desc) return bad(LastLibvirtError());
  std::unique_ptr<xmlDoc, DocFreer> doc(
      xmlReadMemory(desc, static_cast<int>(strlen(desc)), "domain.xml", nullptr, XML_PARSE_NONET));
  free(desc);
  if (!doc) return bad("libvirt's own XML did not parse");
  std::unique_ptr<xmlXPathContext, XPathCtxFreer> ctx(xmlXPathNewContext(doc.get()));

  std::string arch = One(ctx.get(), "/domain/os/type/@arch");
  if (!arch.empty() && arch != "x86_64") {
    return bad(absl::StrFormat("os/type arch '%s'%s: tlbscope runs x86_64 guests only", arch,
                               arch == "i686" ? " (libvirt's default when none is given)" : ""));
  }
  std::string type = One(ctx.get(), "/domain/os/type");
  if (type != "hvm") {
    return bad(absl::StrFormat("os/type '%s': tlbscope runs hvm guests only", type));
  }
  if (!Select(ctx.get(), "/domain/os/loader", false).empty()) {
    return bad("os/loader: tlbscope boots a kernel directly, without firmware");
  }
  std::vector<std::string> devices =
      Select(ctx.get(),
             "/domain/devices/*[not(self::serial or self::console or self::emulator or "
             "self::memballoon[@model='none'])]",
             false);
  if (!devices.empty()) {
    return bad(absl::StrFormat("devices/%s: tlbscope has no such device (only a 16550 console)",
                               devices[0]));
  }
  vm.kernel = One(ctx.get(), "/domain/os/kernel");
  vm.initrd = One(ctx.get(), "/domain/os/initrd");
  vm.cmdline = One(ctx.get(), "/domain/os/cmdline");
  if (vm.kernel.empty()) return bad("os/kernel is missing: tlbscope boots a kernel directly");
  if (vm.vcpus < 1 || vm.vcpus > 64) {
    return bad(absl::StrFormat("vcpu %d: tlbscope runs 1 to 64 vCPUs", vm.vcpus));
  }
  if (vm.mem_mib < 2 || vm.mem_mib > 3072) {
    return bad(absl::StrFormat("memory %d MiB: tlbscope gives a guest 2 to 3072 MiB", vm.mem_mib));
  }
  return vm;
}

absl::StatusOr<DomainVm> ReadDomainXml(const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(path, "domain");
  if (!bytes.ok()) return bytes.status();
  return ParseDomainXml(std::string(bytes->begin(), bytes->end()), path);
}

}  // namespace tlbscope::regress
