// The collectors' knowledge of event kinds comes from the proto: names and
// CPU lists from the descriptor, and a kind with no named CEvent member is
// still decoded by field number (issue 12: a new kind needs no collector
// decode code).
#include "collectors/kind_table.h"

#include <gtest/gtest.h>

#include <string>

#include "collectors/event.h"
#include "collectors/wire_decode.h"

namespace tlbscope::collect {
namespace {

TEST(KindTableTest, EveryEventKindHasItsOneofMemberName) {
  const google::protobuf::EnumDescriptor* kinds = v1::EventKind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    int num = kinds->value(i)->number();
    if (num == v1::EVENT_KIND_UNSPECIFIED) continue;
    SCOPED_TRACE(kinds->value(i)->name());
    ASSERT_NE(KindInfoOf(num), nullptr);
    EXPECT_STREQ(KindName(static_cast<Kind>(num)), KindInfoOf(num)->name.c_str());
    EXPECT_NE(std::string(KindName(static_cast<Kind>(num))), "other");
  }
  EXPECT_STREQ(KindName(Kind::kFlushFunc), "flush_func");
  EXPECT_STREQ(KindName(Kind::kCpumask), "cpumask");
  EXPECT_STREQ(KindName(Kind::kOther), "other");
  EXPECT_EQ(KindInfoOf(v1::Event::kTrapFieldNumber), nullptr);  // not a kind
}

TEST(KindTableTest, CpuListsAreFoundInTheDescriptor) {
  EXPECT_EQ(KindInfoOf(v1::FLUSH_REQUEST)->mask_field, v1::FlushRequest::kTargetCpusFieldNumber);
  EXPECT_EQ(KindInfoOf(v1::IPI_SENT)->mask_field, v1::IpiSent::kTargetCpusFieldNumber);
  EXPECT_EQ(KindInfoOf(v1::FLUSH_DONE)->mask_field, v1::FlushDone::kAckedCpusFieldNumber);
  EXPECT_EQ(KindInfoOf(v1::CPUMASK)->mask_field, v1::CpumaskChange::kCpusFieldNumber);
  EXPECT_EQ(KindInfoOf(v1::FLUSH_FUNC)->mask_field, 0u);
}

TEST(KindTableTest, GenericDecodeReadsAnyKindByFieldNumber) {
  v1::Event ev;
  ev.set_vcpu(3);
  ev.set_sequence(77);
  v1::FlushDone* d = ev.mutable_flush_done();
  d->set_mm(0x1234);
  d->set_tlb_gen(9);
  d->add_acked_cpus(1);
  d->add_acked_cpus(3);
  std::string bytes = ev.SerializeAsString();
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());

  CEvent named, generic;
  ASSERT_TRUE(DecodeEvent(p, bytes.size(), &named));
  ASSERT_TRUE(DecodeEventGeneric(p, bytes.size(), &generic));
  EXPECT_EQ(generic.kind, Kind::kFlushDone);
  EXPECT_EQ(generic.vcpu, 3u);
  EXPECT_EQ(generic.seq, 77u);
  EXPECT_EQ(generic.Field<v1::FlushDone::kMmFieldNumber>(), named.flush_done.mm);
  EXPECT_EQ(generic.Field<v1::FlushDone::kTlbGenFieldNumber>(), 9u);
  EXPECT_EQ(generic.Field<v1::FlushDone::kAckedCpusFieldNumber>(), 0b1010u);
  EXPECT_EQ(named.flush_done.acked, 0b1010u);
}

TEST(KindTableTest, AFieldNumberThatIsNoKindIsSkipped) {
  // A newer producer's kind this build's proto does not know: field 60
  // (length-delimited) holding field 1 = 5. It decodes as "other".
  const uint8_t bytes[] = {0x08, 0x02, /* vcpu 2 */ 0xe2, 0x03, 0x02, 0x08, 0x05};
  CEvent e;
  ASSERT_TRUE(DecodeEvent(bytes, sizeof bytes, &e));
  EXPECT_EQ(e.vcpu, 2u);
  EXPECT_EQ(e.kind, Kind::kOther);
}

}  // namespace
}  // namespace tlbscope::collect
