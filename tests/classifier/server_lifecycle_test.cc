// Start-up, reload and shutdown: in-process for in-flight calls, and the
// real oppmatrix-classifier executable for flags, signals and exit codes.
#include <signal.h>

#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "clients/cpp/classification_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using testing::Subprocess;
using testing::TestClassifier;

constexpr char kClassifier[] =
    OPPMATRIX_BINARY_DIR "/services/classifier/oppmatrix-classifier";

v1::ClassifyRequest SmallRequest(const std::string& id) {
  v1::ClassifyRequest r;
  r.mutable_opportunity()->set_id(id);
  r.mutable_opportunity()->set_tenant_id("acme");
  r.mutable_opportunity()->set_stage("Prospecting");
  return r;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

TEST(ShutdownTest, InFlightStreamFinishesWhileNewCallsAreRefused) {
  TestClassifier server;
  auto stub = v1::ClassificationService::NewStub(server.channel());
  auto context = Context(absl::Seconds(30));
  auto stream = stub->ClassifyStream(context.get());
  v1::ClassifyResult result;
  ASSERT_TRUE(stream->Write(SmallRequest("before")));
  ASSERT_TRUE(stream->Read(&result));

  std::thread shutdown([&] { server.server().Shutdown(absl::Seconds(30)); });
  // Shutdown has begun once a new call is refused.
  auto other = v1::ClassificationService::NewStub(server.channel());
  while (true) {
    v1::ClassifyResponse response;
    grpc::Status s = other->Classify(Context(absl::Seconds(5)).get(),
                                     SmallRequest("new"), &response);
    if (!s.ok()) {
      // gRPC refuses calls that arrive during shutdown on an open
      // connection with CANCELLED, on a new one with UNAVAILABLE.
      EXPECT_THAT(s.error_code(),
                  ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE,
                                   grpc::StatusCode::CANCELLED))
          << s.error_message();
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  // The stream that was in flight still gets answers and ends cleanly.
  ASSERT_TRUE(stream->Write(SmallRequest("during")));
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_EQ(result.classification().opportunity_id(), "during");
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
  shutdown.join();
}

TEST(ShutdownTest, StreamStillOpenAtTheGraceDeadlineIsCancelled) {
  TestClassifier server;
  auto stub = v1::ClassificationService::NewStub(server.channel());
  auto context = Context(absl::Seconds(30));
  auto stream = stub->ClassifyStream(context.get());
  v1::ClassifyResult result;
  ASSERT_TRUE(stream->Write(SmallRequest("a")));
  ASSERT_TRUE(stream->Read(&result));
  server.server().Shutdown(absl::Milliseconds(200));  // returns after cancel
  EXPECT_FALSE(stream->Read(&result));
  grpc::Status status = stream->Finish();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.error_code(),
              ::testing::AnyOf(grpc::StatusCode::CANCELLED,
                               grpc::StatusCode::UNAVAILABLE));
}

// --- the executable ---

std::string DefaultRulesText() {
  auto text = ReadFileToString(OPPMATRIX_SOURCE_DIR "/rules/default.yaml");
  EXPECT_TRUE(text.ok());
  return *text;
}

// The default ruleset with the first potential factor's weight broken.
std::string BrokenRulesText() {
  std::string text = DefaultRulesText();
  std::regex first_weight("weight: 30");
  std::string broken =
      std::regex_replace(text, first_weight, "weight: .nan",
                         std::regex_constants::format_first_only);
  EXPECT_NE(broken, text);
  return broken;
}

// The default ruleset under another name (so another version).
std::string RenamedRulesText(const std::string& name) {
  std::string text = DefaultRulesText();
  std::string renamed =
      std::regex_replace(text, std::regex("\nname: default"), "\nname: " + name,
                         std::regex_constants::format_first_only);
  EXPECT_NE(renamed, text);
  return renamed;
}

int PortFromLog(const std::string& log) {
  std::smatch m;
  std::regex port("\\(port ([0-9]+)\\)");
  if (!std::regex_search(log, m, port)) return 0;
  return std::stoi(m[1]);
}

TEST(ExecutableTest, CheckRulesAcceptsTheDefaultRuleset) {
  Subprocess p({kClassifier, "--check_rules",
                OPPMATRIX_SOURCE_DIR "/rules/default.yaml"});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("OK, version default@"));
}

TEST(ExecutableTest, CheckRulesRejectsABrokenRulesetNamingTheKey) {
  std::string dir = testing::MakeTempDir();
  testing::WriteFileAtomically(dir + "/rules.yaml", BrokenRulesText());
  Subprocess p({kClassifier, "--check_rules", dir + "/rules.yaml"});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(p.Stderr(),
              HasSubstr("rules.yaml: potential.factors[0].weight: must be "
                        "finite"));
}

TEST(ExecutableTest, EnvironmentVariableSetsAFlag) {
  Subprocess p({kClassifier},
               {absl::StrCat("OPPMATRIX_CHECK_RULES=", OPPMATRIX_SOURCE_DIR,
                             "/rules/default.yaml")});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("OK, version default@"));
}

TEST(ExecutableTest, BadEnvironmentValueIsAnErrorNamingTheVariable) {
  Subprocess p({kClassifier}, {"OPPMATRIX_MAX_BATCH_SIZE=lots"});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(p.Stderr(), HasSubstr("OPPMATRIX_MAX_BATCH_SIZE"));
}

TEST(ExecutableTest, BrokenRulesetAtStartupStopsTheServer) {
  std::string dir = testing::MakeTempDir();
  testing::WriteFileAtomically(dir + "/rules.yaml", BrokenRulesText());
  Subprocess p({kClassifier, "--listen=127.0.0.1:0",
                "--redis=", "--rules=" + dir + "/rules.yaml"});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(p.Stderr(), HasSubstr("potential.factors[0].weight: must be "
                                    "finite"));
}

TEST(ExecutableTest, ReloadsOnSighupKeepsOldOnBadFileAndDrainsOnSigterm) {
  std::string dir = testing::MakeTempDir();
  std::string rules = dir + "/rules.yaml";
  testing::WriteFileAtomically(rules, DefaultRulesText());
  Subprocess p({kClassifier, "--listen=127.0.0.1:0",
                "--redis=", "--rules=" + rules, "--rules_poll_interval=0"});
  ASSERT_TRUE(p.WaitForStderr("serving on", absl::Seconds(30))) << p.Stderr();
  int port = PortFromLog(p.Stderr());
  ASSERT_GT(port, 0);
  ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", port);
  auto client = ClassificationClient::Create(options);
  ASSERT_TRUE(client.ok());
  auto version = [&]() {
    absl::StatusOr<v1::Classification> c =
        (*client)->Classify(SmallRequest("o").opportunity());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->ruleset_version() : "";
  };
  std::string v1 = version();
  EXPECT_THAT(v1, HasSubstr("default@"));

  // A broken file on SIGHUP: logged, old ruleset keeps serving.
  testing::WriteFileAtomically(rules, BrokenRulesText());
  p.Signal(SIGHUP);
  ASSERT_TRUE(p.WaitForStderr("reload failed", absl::Seconds(30)));
  EXPECT_THAT(p.Stderr(), HasSubstr("potential.factors[0].weight: must be "
                                    "finite"));
  EXPECT_EQ(version(), v1);

  // A good file on SIGHUP: swapped in.
  testing::WriteFileAtomically(rules, RenamedRulesText("second"));
  p.Signal(SIGHUP);
  ASSERT_TRUE(p.WaitForStderr("-> second@", absl::Seconds(30)));
  EXPECT_THAT(version(), HasSubstr("second@"));

  // An idle client connection would hold the drain until gRPC's GOAWAY
  // timeout; close it like a departing client does.
  client->reset();
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 0);
  EXPECT_THAT(p.Stderr(), HasSubstr("SIGTERM: draining"));
  EXPECT_THAT(p.Stderr(), HasSubstr("stopped"));
}

TEST(ExecutableTest, ReloadsWhenTheFileChanges) {
  std::string dir = testing::MakeTempDir();
  std::string rules = dir + "/rules.yaml";
  testing::WriteFileAtomically(rules, DefaultRulesText());
  Subprocess p({kClassifier, "--listen=127.0.0.1:0",
                "--redis=", "--rules=" + rules, "--rules_poll_interval=50ms"});
  ASSERT_TRUE(p.WaitForStderr("serving on", absl::Seconds(30))) << p.Stderr();
  testing::WriteFileAtomically(rules, RenamedRulesText("polled"));
  EXPECT_TRUE(p.WaitForStderr("-> polled@", absl::Seconds(30))) << p.Stderr();
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace oppmatrix
