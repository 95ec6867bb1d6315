// The classifier as a real gRPC server on a loopback port.
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/engine/opportunity_validator.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/raw_call.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using testing::TestClassifier;
using testing::ViolatedFields;

template <typename T>
T ParseText(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message))
      << text;
  return message;
}

constexpr char kKeyAccount[] = R"pb(
  id: "opp-1"
  tenant_id: "acme"
  version: 3
  stage: "Negotiation/Review"
  amount { currency_code: "USD" units: 1200000 }
  need_urgency: NEED_URGENCY_URGENT
  budget_status: BUDGET_STATUS_APPROVED
  account { industry: "Technology" employees: 2500 }
  relationship {
    contacts_engaged: 6
    has_champion: true
    executive_sponsor: true
    meetings_last_90_days: 5
    existing_customer: true
    won_deals_with_account: 2
    last_interaction_time { seconds: 1763640000 }
  }
)pb";

v1::ClassifyRequest Request(const std::string& opportunity_text) {
  v1::ClassifyRequest request;
  *request.mutable_opportunity() = ParseText<v1::Opportunity>(opportunity_text);
  return request;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  return context;
}

class ClassificationServiceTest : public ::testing::Test {
 protected:
  TestClassifier server_;
  std::unique_ptr<v1::ClassificationService::Stub> stub_ =
      v1::ClassificationService::NewStub(server_.channel());
};

TEST_F(ClassificationServiceTest, ClassifiesAKeyAccount) {
  v1::ClassifyResponse response;
  grpc::Status status =
      stub_->Classify(Context().get(), Request(kKeyAccount), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Classification& c = response.classification();
  EXPECT_EQ(c.opportunity_id(), "opp-1");
  EXPECT_EQ(c.tenant_id(), "acme");
  EXPECT_EQ(c.opportunity_version(), 3);
  EXPECT_EQ(c.cell(), "KEY");
  EXPECT_EQ(c.customer_type(), v1::CUSTOMER_TYPE_LARGE_ENTERPRISE);
  EXPECT_EQ(c.value_tier(), v1::VALUE_TIER_HIGH);
  EXPECT_EQ(c.buying_stage(), v1::BUYING_STAGE_DECISION);
  EXPECT_EQ(c.industry(), v1::INDUSTRY_TECHNOLOGY);
  EXPECT_EQ(c.action().code(), "DEDICATED_TEAM");
  EXPECT_EQ(c.grade(), v1::GRADE_A);
  EXPECT_EQ(c.ruleset_version(), server_.rules().version);
  EXPECT_EQ(c.classified_time().seconds(),
            absl::ToUnixSeconds(testing::TestNow()));
  EXPECT_FALSE(c.reasons().empty());
}

TEST_F(ClassificationServiceTest, OmitReasonsLeavesThemOut) {
  v1::ClassifyRequest request = Request(kKeyAccount);
  request.set_omit_reasons(true);
  v1::ClassifyResponse response;
  ASSERT_TRUE(stub_->Classify(Context().get(), request, &response).ok());
  EXPECT_TRUE(response.classification().reasons().empty());
  EXPECT_EQ(response.classification().cell(), "KEY");
}

TEST_F(ClassificationServiceTest, SameRequestGivesSameBytes) {
  v1::ClassifyResponse a, b;
  ASSERT_TRUE(stub_->Classify(Context().get(), Request(kKeyAccount), &a).ok());
  ASSERT_TRUE(stub_->Classify(Context().get(), Request(kKeyAccount), &b).ok());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
}

struct BadCase {
  std::string name;
  std::string opportunity;  // text proto
  std::string field;        // expected violated field
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadRequestTest : public ClassificationServiceTest,
                       public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadRequestTest, AnswersInvalidArgumentNamingTheField) {
  v1::ClassifyResponse response;
  grpc::Status status = stub_->Classify(
      Context().get(), Request(GetParam().opportunity), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr(GetParam().field));
  EXPECT_THAT(ViolatedFields(status), ElementsAre(GetParam().field));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, BadRequestTest,
    ::testing::Values(
        BadCase{"MissingId", R"pb(tenant_id: "acme")pb", "opportunity.id"},
        BadCase{"NegativeAmount",
                R"pb(id: "o"
                     tenant_id: "acme"
                     amount { currency_code: "USD" units: -5 })pb",
                "opportunity.amount.units"},
        BadCase{"NaNProbability", R"pb(id: "o"
                                       tenant_id: "acme"
                                       probability: nan)pb",
                "opportunity.probability"},
        BadCase{"UnknownEnumNumber", R"pb(id: "o"
                                          tenant_id: "acme"
                                          need_urgency: 17)pb",
                "opportunity.need_urgency"},
        BadCase{"UnknownNestedEnumNumber",
                R"pb(id: "o"
                     tenant_id: "acme"
                     account { customer_type: 99 })pb",
                "opportunity.account.customer_type"},
        BadCase{"OverLongName",
                absl::StrCat(R"pb(id: "o" tenant_id: "acme" name: ")pb",
                             std::string(kMaxNameBytes + 1, 'x'), "\""),
                "opportunity.name"},
        BadCase{"OverLongId",
                absl::StrCat(R"pb(tenant_id: "acme" id: ")pb",
                             std::string(kMaxIdBytes + 1, 'x'), "\""),
                "opportunity.id"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return info.param.name;
    });

TEST_F(ClassificationServiceTest, MissingOpportunityIsNamed) {
  v1::ClassifyResponse response;
  grpc::Status status =
      stub_->Classify(Context().get(), v1::ClassifyRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("opportunity"));
}

TEST_F(ClassificationServiceTest, BatchWithOneBadItemAnswersEachItem) {
  v1::BatchClassifyRequest request;
  *request.add_opportunities() = Request(kKeyAccount).opportunity();
  *request.add_opportunities() = ParseText<v1::Opportunity>(
      R"pb(id: "bad"
           tenant_id: "acme"
           amount { currency_code: "USD" units: -1 })pb");
  v1::Opportunity third = Request(kKeyAccount).opportunity();
  third.set_id("opp-3");
  *request.add_opportunities() = third;

  v1::BatchClassifyResponse response;
  grpc::Status status =
      stub_->BatchClassify(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(response.results(), SizeIs(3));
  EXPECT_EQ(response.results(0).status().code(), 0);
  EXPECT_EQ(response.results(0).classification().cell(), "KEY");
  EXPECT_EQ(response.results(1).status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(response.results(1).opportunity_id(), "bad");
  EXPECT_FALSE(response.results(1).has_classification());
  std::vector<FieldViolation> violations =
      GetFieldViolations(FromRpcStatus(response.results(1).status()));
  ASSERT_THAT(violations, SizeIs(1));
  EXPECT_EQ(violations[0].field(), "opportunities[1].amount.units");
  EXPECT_EQ(response.results(2).status().code(), 0);
  EXPECT_EQ(response.results(2).classification().opportunity_id(), "opp-3");
}

TEST(ClassificationServiceLimits, BatchOverTheLimitIsRejected) {
  TestClassifier server(/*max_batch_size=*/3);
  auto stub = v1::ClassificationService::NewStub(server.channel());
  v1::BatchClassifyRequest request;
  for (int i = 0; i < 4; ++i) {
    *request.add_opportunities() = Request(kKeyAccount).opportunity();
  }
  v1::BatchClassifyResponse response;
  grpc::Status status =
      stub->BatchClassify(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("opportunities"));
  EXPECT_THAT(status.error_message(), HasSubstr("at most 3"));

  request.mutable_opportunities()->RemoveLast();
  EXPECT_TRUE(stub->BatchClassify(Context().get(), request, &response).ok());
  EXPECT_THAT(response.results(), SizeIs(3));
}

TEST_F(ClassificationServiceTest, EmptyBatchAnswersNoResults) {
  v1::BatchClassifyResponse response;
  ASSERT_TRUE(stub_
                  ->BatchClassify(Context().get(), v1::BatchClassifyRequest(),
                                  &response)
                  .ok());
  EXPECT_THAT(response.results(), SizeIs(0));
}

TEST_F(ClassificationServiceTest, StreamAnswersInOrderAndSurvivesBadItems) {
  auto context = Context();
  auto stream = stub_->ClassifyStream(context.get());
  std::vector<v1::ClassifyRequest> requests = {
      Request(kKeyAccount), Request(R"pb(id: "" tenant_id: "acme")pb"),
      Request(R"pb(id: "small"
                   tenant_id: "acme"
                   stage: "Prospecting"
                   account { employees: 3 industry: "Retail" })pb")};
  for (const auto& r : requests) {
    ASSERT_TRUE(stream->Write(r));
    v1::ClassifyResult result;
    ASSERT_TRUE(stream->Read(&result));
    if (&r == &requests[1]) {
      EXPECT_EQ(result.status().code(),
                static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      EXPECT_THAT(GetFieldViolations(FromRpcStatus(result.status())),
                  ElementsAre(::testing::Property(&FieldViolation::field,
                                                  "opportunity.id")));
    } else {
      EXPECT_EQ(result.status().code(), 0);
      EXPECT_EQ(result.classification().opportunity_id(), r.opportunity().id());
    }
  }
  ASSERT_TRUE(stream->WritesDone());
  v1::ClassifyResult extra;
  EXPECT_FALSE(stream->Read(&extra));
  EXPECT_TRUE(stream->Finish().ok());
}

// Bodies an outside harness sent: gRPC's typed callback methods answered
// them UNIMPLEMENTED with an empty message.
std::vector<std::string> UndecodableBodies() {
  std::vector<std::string> bodies;
  std::mt19937 random(12);
  for (int i = 0; i < 200; ++i) {
    std::string b(1 + random() % 64, '\0');
    for (char& c : b) c = static_cast<char>(random());
    // A field-1 header announcing more bytes than follow: never decodes.
    b.insert(0, "\x0a\x7f");
    bodies.push_back(std::move(b));
  }
  const std::string valid = Request(kKeyAccount).SerializeAsString();
  for (size_t cut = 1; cut <= 11; ++cut) {
    bodies.push_back(valid.substr(0, valid.size() - cut * 7));
  }
  // Unknown groups nested 101 deep (field 15).
  bodies.push_back(std::string(101, '\x7b') + std::string(101, '\x7c'));
  return bodies;
}

TEST_F(ClassificationServiceTest, UndecodableUnaryBodiesAreInvalidArgument) {
  // Every unary method of the service, from its descriptor.
  std::vector<std::pair<std::string, std::string>> methods;
  const google::protobuf::ServiceDescriptor* service =
      v1::ClassifyRequest::descriptor()->file()->FindServiceByName(
          "ClassificationService");
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = service->method(i);
    if (m->client_streaming() || m->server_streaming()) continue;
    methods.emplace_back(m->name(), m->input_type()->name());
  }
  ASSERT_GE(methods.size(), 8u);
  const std::vector<std::string> bodies = UndecodableBodies();
  for (const auto& [method, type] : methods) {
    for (size_t i = 0; i < bodies.size(); ++i) {
      std::vector<std::string> replies;
      grpc::Status s = testing::RawCall(
          server_.channel(),
          absl::StrCat("/oppmatrix.v1.ClassificationService/", method),
          {bodies[i]}, &replies);
      ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << method << " body " << i << ": " << s.error_message();
      EXPECT_THAT(s.error_message(),
                  HasSubstr(absl::StrCat("the request is not a valid "
                                         "oppmatrix.v1.",
                                         type)))
          << method << " body " << i;
      EXPECT_TRUE(replies.empty());
    }
  }
}

// The serialized request with the bytes of `placeholder` (in some string
// field) replaced by as many bytes that are not UTF-8.
std::string WithInvalidUtf8(const std::string& bytes,
                            const std::string& placeholder) {
  std::string out = bytes;
  size_t at = out.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  for (size_t i = 0; i < placeholder.size(); ++i) out[at + i] = '\xff';
  return out;
}

TEST_F(ClassificationServiceTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  v1::ClassifyRequest request = Request(kKeyAccount);
  request.mutable_opportunity()->mutable_account()->set_name("PLACEHOLDER");
  v1::BatchClassifyRequest batch;
  *batch.add_opportunities() = Request(kKeyAccount).opportunity();
  *batch.add_opportunities() = request.opportunity();
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"Classify", WithInvalidUtf8(request.SerializeAsString(), "PLACEHOLDER"),
       "opportunity.account.name"},
      {"BatchClassify",
       WithInvalidUtf8(batch.SerializeAsString(), "PLACEHOLDER"),
       "opportunities[1].account.name"}};
  for (const auto& [method, body, field] : cases) {
    std::vector<std::string> replies;
    grpc::Status s = testing::RawCall(
        server_.channel(),
        absl::StrCat("/oppmatrix.v1.ClassificationService/", method), {body},
        &replies);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
    EXPECT_THAT(ViolatedFields(s), ElementsAre(field));
    EXPECT_THAT(s.error_message(), HasSubstr("is not valid UTF-8"));
  }
}

// Names people type in other scripts are UTF-8 and pass the raw path.
TEST_F(ClassificationServiceTest, NamesInOtherScriptsPassTheRawPath) {
  for (const char* name :
       {"北京星辰科技有限公司", "Société Générale S.A.", "ООО «Ромашка»",
        "株式会社サンプル", "Müller & Söhne GmbH"}) {
    v1::ClassifyRequest request = Request(kKeyAccount);
    request.mutable_opportunity()->mutable_account()->set_name(name);
    request.mutable_opportunity()->set_name(absl::StrCat(name, " – 2026"));
    std::vector<std::string> replies;
    grpc::Status s = testing::RawCall(
        server_.channel(), "/oppmatrix.v1.ClassificationService/Classify",
        {request.SerializeAsString()}, &replies);
    ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
    v1::ClassifyResponse response;
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_TRUE(response.ParseFromString(replies[0]));
    EXPECT_EQ(response.classification().cell(), "KEY") << name;
  }
}

// [valid, garbage, valid] used to end OK after one result.
TEST_F(ClassificationServiceTest, StreamAnswersAnUndecodableMessageAndGoesOn) {
  v1::ClassifyRequest second = Request(kKeyAccount);
  second.mutable_opportunity()->set_id("opp-2");
  std::vector<std::string> replies;
  grpc::Status s = testing::RawCall(
      server_.channel(), "/oppmatrix.v1.ClassificationService/ClassifyStream",
      {Request(kKeyAccount).SerializeAsString(), std::string("\x0a\x7f\x01", 3),
       second.SerializeAsString()},
      &replies);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_THAT(replies, SizeIs(3));
  std::vector<v1::ClassifyResult> results(3);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(results[i].ParseFromString(replies[i]));
  EXPECT_EQ(results[0].classification().opportunity_id(), "opp-1");
  EXPECT_EQ(results[1].status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(results[1].status().message(),
              HasSubstr("message 1 of the stream is not a valid "
                        "oppmatrix.v1.ClassifyRequest"));
  EXPECT_EQ(results[2].classification().opportunity_id(), "opp-2");
}

// A deal worth a lot with no relationship yet: DEVELOP.
constexpr char kNewRelationship[] = R"pb(
  id: "opp-2"
  tenant_id: "acme"
  stage: "Negotiation"
  amount { currency_code: "USD" units: 800000 }
  need_urgency: NEED_URGENCY_URGENT
  budget_status: BUDGET_STATUS_APPROVED
  account { customer_type: CUSTOMER_TYPE_LARGE_ENTERPRISE industry: "Finance" }
)pb";

TEST_F(ClassificationServiceTest, WhatIfAnswersChangesThatLandInTheTarget) {
  v1::WhatIfRequest request;
  *request.mutable_opportunity() = ParseText<v1::Opportunity>(kNewRelationship);
  request.set_target_cell("KEY");
  v1::WhatIfResponse response;
  grpc::Status status = stub_->WhatIf(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.current().cell(), "DEVELOP");
  ASSERT_EQ(response.options_size(), 3);  // the default of max_options
  for (const v1::WhatIfOption& o : response.options()) {
    EXPECT_EQ(o.result().cell(), "KEY");
    // The option's changes, applied and classified, give its result.
    v1::ClassifyRequest changed;
    *changed.mutable_opportunity() = request.opportunity();
    v1::Relationship* r = changed.mutable_opportunity()->mutable_relationship();
    for (const v1::LeverChange& c : o.changes()) {
      switch (c.lever()) {
        case v1::LEVER_CHAMPION:
          r->set_has_champion(c.to() == "true");
          break;
        case v1::LEVER_EXECUTIVE_SPONSOR:
          r->set_executive_sponsor(c.to() == "true");
          break;
        case v1::LEVER_CONTACTS:
          r->set_contacts_engaged(std::stoi(c.to()));
          break;
        case v1::LEVER_MEETINGS:
          r->set_meetings_last_90_days(std::stoi(c.to()));
          break;
        case v1::LEVER_STAGE:
          changed.mutable_opportunity()->set_stage(c.to());
          break;
        default:
          ADD_FAILURE() << c.ShortDebugString();
      }
    }
    v1::ClassifyResponse classified;
    ASSERT_TRUE(stub_->Classify(Context().get(), changed, &classified).ok());
    EXPECT_EQ(classified.classification().cell(), "KEY");
    EXPECT_EQ(classified.classification().SerializeAsString(),
              o.result().SerializeAsString());
  }
  // Already there: no options.
  request.set_target_cell("DEVELOP");
  ASSERT_TRUE(stub_->WhatIf(Context().get(), request, &response).ok());
  EXPECT_EQ(response.options_size(), 0);
  EXPECT_EQ(response.note(), "already in DEVELOP");
}

TEST_F(ClassificationServiceTest, WhatIfNamesEachBadField) {
  v1::WhatIfRequest request;
  request.set_target_cell("NOPE");
  request.add_levers(v1::LEVER_CHAMPION);
  request.add_levers(v1::LEVER_CHAMPION);
  request.add_levers(v1::LEVER_UNSPECIFIED);
  request.set_max_options(11);
  v1::WhatIfResponse response;
  grpc::Status status = stub_->WhatIf(Context().get(), request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status),
              ElementsAre("opportunity", "target_cell", "levers[1]",
                          "levers[2]", "max_options"));
  EXPECT_THAT(status.error_message(), HasSubstr("invalid what-if request"));

  *request.mutable_opportunity() = ParseText<v1::Opportunity>(kNewRelationship);
  request.mutable_opportunity()->mutable_relationship()->set_contacts_engaged(
      -1);
  request.clear_levers();
  request.set_max_options(0);
  status = stub_->WhatIf(Context().get(), request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(
      ViolatedFields(status),
      ElementsAre("opportunity.relationship.contacts_engaged", "target_cell"));
}

TEST_F(ClassificationServiceTest, HealthReportsServing) {
  auto health = grpc::health::v1::Health::NewStub(server_.channel());
  for (const std::string service : {"", "oppmatrix.v1.ClassificationService"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health->Check(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(),
              grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_F(ClassificationServiceTest, ReflectionListsTheService) {
  // The reflection service answers with the file of a known symbol.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto channel = server_.channel();
  // ServerReflectionInfo is a bidi stream; Debian ships no reflection
  // stubs, so call it generically by method name with a hand-encoded
  // ServerReflectionRequest{list_services: ""} (field 7, empty string).
  grpc::GenericStub generic(channel);
  std::string request_bytes("\x3a\x00", 2);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer send(&slice, 1);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  call->Write(send, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer received;
  call->Read(&received, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(received.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  EXPECT_THAT(bytes, HasSubstr("oppmatrix.v1.ClassificationService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  context.TryCancel();
  grpc::Status final_status;
  call->Finish(&final_status, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace oppmatrix
