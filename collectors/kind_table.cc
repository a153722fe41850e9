#include "collectors/kind_table.h"

#include <array>

#include "collectors/event.h"
#include "google/protobuf/descriptor.h"

namespace tlbscope::collect {
namespace {

using google::protobuf::FieldDescriptor;

struct Table {
  std::array<KindInfo, kMaxKind> kinds;
  std::array<bool, kMaxKind> present{};
};

uint32_t MaskFieldOf(const google::protobuf::Descriptor& d) {
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor* f = d.field(i);
    if (f->is_repeated() && f->type() == FieldDescriptor::TYPE_UINT32) return f->number();
  }
  return 0;
}

Table Build() {
  Table t;
  const google::protobuf::OneofDescriptor* oneof = v1::Event::descriptor()->FindOneofByName("kind");
  for (int i = 0; oneof != nullptr && i < oneof->field_count(); ++i) {
    const FieldDescriptor* f = oneof->field(i);
    if (f->number() >= kMaxKind || f->message_type() == nullptr) continue;
    t.kinds[f->number()] = {f->name(), MaskFieldOf(*f->message_type())};
    t.present[f->number()] = true;
  }
  return t;
}

}  // namespace

const KindInfo* KindInfoOf(uint32_t num) {
  static const Table table = Build();
  if (num >= kMaxKind || !table.present[num]) return nullptr;
  return &table.kinds[num];
}

}  // namespace tlbscope::collect
