// An in-process classifier on a free loopback port with the default ruleset
// and a fixed clock, for server and client tests.
//
//   TestClassifier server;
//   auto stub = v1::ClassificationService::NewStub(server.channel());
#ifndef OPPMATRIX_TESTS_CLASSIFIER_TEST_SERVER_H_
#define OPPMATRIX_TESTS_CLASSIFIER_TEST_SERVER_H_

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/classifier/classifier_server.h"
#include "services/classifier/rescorer.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/engine/ruleset.h"

namespace oppmatrix::testing {

// 2026-11-23T12:00:00Z: the `now` of every server test.
inline absl::Time TestNow() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 12, 0, 0),
                         absl::UTCTimeZone());
}

inline std::shared_ptr<const CompiledRuleset> DefaultRules() {
  auto rules = LoadRulesetFile(OPPMATRIX_SOURCE_DIR "/rules/default.yaml");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

// The field of each BadRequest violation in a failed call's status.
inline std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : GetFieldViolations(FromGrpcStatus(status))) {
    fields.push_back(v.field());
  }
  return fields;
}

class TestClassifier {
 public:
  // With `store` (not owned) results are kept there; without, unstored.
  // With `ruleset_store` (not owned) tenants' own rulesets are served
  // (read from it when the server publishes: no polling).
  explicit TestClassifier(int max_batch_size = 1000,
                          ResultStore* store = nullptr,
                          RulesetStore* ruleset_store = nullptr)
      : rules_(DefaultRules()) {
    ClassifierServer::Options options;
    if (ruleset_store != nullptr) {
      tenants_ = std::make_unique<TenantRulesets>(
          &rules_, ruleset_store,
          TenantRulesets::Options{.poll_interval = absl::ZeroDuration()});
      // Publications rescore the tenant's stored results at once.
      if (store != nullptr) {
        rescorer_ = std::make_unique<Rescorer>(
            tenants_.get(), ruleset_store, store,
            Rescorer::Options{.rate = 0,
                              .poll_interval = absl::ZeroDuration(),
                              .clock = [] { return TestNow(); }});
        rescorer_->Start();
        options.ruleset_service.on_change = [r = rescorer_.get()] {
          r->Wake();
        };
      }
    }
    options.listen = "127.0.0.1:0";
    options.service.max_batch_size = max_batch_size;
    options.service.clock = [] { return TestNow(); };
    options.ruleset_service.clock = [] { return TestNow(); };
    auto server = ClassifierServer::Start(options, &rules_, store,
                                          tenants_.get(), ruleset_store);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    target_ = absl::StrCat("127.0.0.1:", server_->port());
  }

  ClassifierServer& server() { return *server_; }
  const std::string& target() const { return target_; }
  std::shared_ptr<grpc::Channel> channel() const {
    return grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
  }
  const CompiledRuleset& rules() const { return *rules_.Current(); }

 private:
  StaticRulesetSource rules_;
  std::unique_ptr<TenantRulesets> tenants_;
  std::unique_ptr<Rescorer> rescorer_;
  std::unique_ptr<ClassifierServer> server_;
  std::string target_;
};

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_CLASSIFIER_TEST_SERVER_H_
