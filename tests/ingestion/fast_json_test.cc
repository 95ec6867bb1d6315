// The simdjson fast path of ParseCrmEventJson against protobuf's own JSON
// parser: whatever the fast path reads, protobuf reads the same (the same
// message, field for field), and what protobuf refuses the fast path
// declines. Inputs: the simulator's events (as the bus carries them), the
// messy values people type, and hand-made edge cases of the JSON mapping.
#include "services/common/fast_json.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/sim/crm_simulator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "services/ingestion/crm_event.h"
#include "tests/engine/messy_values.h"

namespace oppmatrix {
namespace {

struct Outcome {
  bool fast = false;  // the fast path took it
  bool slow = false;  // protobuf took it
};

// Checks one input; returns what each parser did.
Outcome Check(const std::string& json) {
  Outcome out;
  v1::CrmEvent fast;
  out.fast = FastJsonToMessage(json, &fast);
  v1::CrmEvent slow;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  out.slow =
      google::protobuf::util::JsonStringToMessage(json, &slow, options).ok();
  if (out.fast) {
    EXPECT_TRUE(out.slow) << "the fast path took what protobuf refuses: "
                          << json;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fast, slow))
        << json << "\n fast: " << fast.ShortDebugString()
        << "\n slow: " << slow.ShortDebugString();
  }
  return out;
}

TEST(FastJsonTest, TheSimulatorsEventsReadAsProtobufReadsThem) {
  CrmSimulator sim({.seed = 5,
                    .tenants = 3,
                    .opportunities_per_tenant = 200,
                    .duplicate_fraction = 0.03,
                    .replay_fraction = 0.03,
                    .malformed_fraction = 0.05},
                   absl::FromUnixSeconds(1795435200));
  int total = 0, fast = 0, valid = 0;
  while (auto e = sim.Next()) {
    Outcome o = Check(e->json);
    ++total;
    fast += o.fast;
    valid += o.slow;
    if (total >= 20000) break;
  }
  ASSERT_GT(total, 4000);
  // Nearly every valid event takes the fast path (not a speed check: the
  // fast path must not quietly fall back on what the bus really carries).
  EXPECT_GT(fast, valid * 99 / 100) << fast << " of " << valid;
}

TEST(FastJsonTest, MessyValuesReadAsProtobufReadsThem) {
  for (const testutil::MessyValue& m : testutil::Corpus()) {
    v1::CrmEvent e;
    e.set_event_id("e-1");
    e.set_tenant_id("t");
    e.set_opportunity_id("opp-messy");
    e.set_type(v1::OPPORTUNITY_UPSERTED);
    e.set_version(3);
    *e.mutable_opportunity() = testutil::MessyBase();
    testutil::SetMessyValue(*e.mutable_opportunity(), m);
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e, &json).ok());
    Outcome o = Check(json);
    EXPECT_TRUE(o.slow) << m.value;
    EXPECT_TRUE(o.fast) << m.value;
    google::protobuf::util::JsonPrintOptions names;
    names.preserve_proto_field_names = true;
    json.clear();  // MessageToJsonString appends
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(e, &json, names).ok());
    EXPECT_TRUE(Check(json).fast) << "with proto field names: " << m.value;
  }
}

TEST(FastJsonTest, EdgeCasesOfTheMappingAgreeOrAreDeclined) {
  const std::string head =
      R"({"eventId":"e","tenantId":"t","opportunityId":"o","type":"OPPORTUNITY_UPSERTED",)";
  // Each is the rest of an event after `head`; the test checks agreement,
  // and that those marked `fast` take the fast path.
  struct Case {
    std::string rest;
    bool fast;
  };
  const std::vector<Case> cases = {
      {R"("version":"3"})", true},
      {R"("version":3})", true},
      {R"("version":"007"})", false},
      {R"("version":"-0"})", false},
      {R"("version":"+3"})", false},
      {R"("version":" 3"})", false},
      {R"("version":3.0})", false},
      {R"("version":"9223372036854775807"})", true},
      {R"("version":"9223372036854775808"})", false},
      {R"("version":1e3})", false},
      {R"("version":null})", false},
      {R"("version":3,"version":4})", false},
      {R"("version":3,"unknownField":1})", false},
      {R"("type":"NOT_A_TYPE","version":3})", false},
      {R"("type":1,"version":3})", false},
      {R"("version":3,"opportunity":{"probability":0.25}})", true},
      {R"("version":3,"opportunity":{"probability":1}})", true},
      {R"("version":3,"opportunity":{"probability":0}})", false},
      {R"("version":3,"opportunity":{"probability":-0.0}})", true},
      {R"("version":3,"opportunity":{"probability":"NaN"}})", false},
      {R"("version":3,"opportunity":{"probability":1e400}})", false},
      {R"("version":3,"opportunity":{"relationship":{"contactsEngaged":2147483647}}})",
       true},
      {R"("version":3,"opportunity":{"relationship":{"contactsEngaged":2147483648}}})",
       false},
      {R"("version":3,"opportunity":{"relationship":{"contactsEngaged":"2"}}})",
       false},
      {R"("version":3,"opportunity":{"relationship":{"has_champion":true}}})",
       true},
      {R"("version":3,"opportunity":{"relationship":{"hasChampion":"true"}}})",
       false},
      {R"("version":3,"opportunity":{"name":"caf\u00e9 \"x\" \\ \/ \n"}})",
       true},
      {R"("version":3,"opportunity":{"name":"\ud800"}})", false},
      {R"("version":3,"opportunity":{"name":5}})", false},
      {R"("version":3,"opportunity":{"attributes":{"a":"1","b":""}}})", true},
      {R"("version":3,"opportunity":{"attributes":{"a":"1","a":"2"}}})", false},
      {R"("version":3,"opportunity":{"attributes":{"a":1}}})", false},
      {R"("version":3,"opportunity":{"createdTime":"2026-01-02T03:04:05Z"}})",
       true},
      {R"("version":3,"opportunity":{"createdTime":"2026-01-02T03:04:05.123456789Z"}})",
       true},
      {R"("version":3,"opportunity":{"createdTime":"2026-01-02T03:04:05+01:30"}})",
       true},
      {R"("version":3,"opportunity":{"createdTime":"2026-01-02T03:04:05z"}})",
       false},
      {R"("version":3,"opportunity":{"createdTime":"2026-02-30T03:04:05Z"}})",
       false},
      {R"("version":3,"opportunity":{"createdTime":"2026-01-02T03:04:05.1234567891Z"}})",
       false},
      {R"("version":3,"opportunity":{"createdTime":"2026-01-02"}})", false},
      {R"("version":3,"opportunity":{"createdTime":0}})", false},
      {R"("version":3,"updateMask":"amount.units,relationship.contactsEngaged"})",
       true},
      {R"("version":3,"updateMask":"stage"})", true},
      {R"("version":3,"updateMask":""})", false},
      {R"("version":3,"updateMask":"amount..units"})", false},
      {R"("version":3,"updateMask":"Amount"})", false},
      {R"("version":3,"updateMask":"contacts_engaged"})", false},
      {R"("version":3,"updateMask":"aBC"})", false},
      {R"("version":3,"updateMask":["stage"]})", false},
      {R"("version":3,"opportunity":{"amount":{"currencyCode":"EUR","units":"5","nanos":500000000}}})",
       true},
      {R"("version":3,"opportunity":{"amount":{"units":5}}})", true},
      {R"("version":3,"opportunity":{}})", true},
      {R"("version":3,"opportunity":[]})", false},
      {R"("version":3,"activity":{"kind":"MEETING"}})", true},
      {R"("version":3})"
       "  \n",
       true},
      {R"("version":3} trailing)", false},
      {R"("version":3)", false},
  };
  for (const Case& c : cases) {
    Outcome o = Check(head + c.rest);
    if (c.fast) {
      EXPECT_TRUE(o.fast) << c.rest;
    } else {
      EXPECT_FALSE(o.fast && !o.slow) << c.rest;
    }
  }
  // Not an object at all, or not JSON.
  for (const std::string& s :
       {std::string("[]"), std::string("3"), std::string("\"x\""),
        std::string(""), std::string("{"), std::string("\xff\xfe"),
        std::string("{\"eventId\":\"\xc3\x28\"}")}) {
    Outcome o = Check(s);
    EXPECT_FALSE(o.fast) << s;
  }
}

TEST(FastJsonTest, ParseCrmEventJsonKeepsProtobufsErrors) {
  absl::StatusOr<v1::CrmEvent> bad =
      ParseCrmEventJson(R"({"eventId":"e","version":"x"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(),
                               "event: not a CrmEvent in JSON: "))
      << bad.status();
}

}  // namespace
}  // namespace oppmatrix
