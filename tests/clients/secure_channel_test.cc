// TLS, mutual TLS and bearer tokens between the C++ client library and a
// real classifier on loopback.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/cpp/classification_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/classifier/classifier_server.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/common/grpc_server.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/test_certs.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;

class SecureChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new testing::TestCerts(testing::MakeTestCerts());
  }
  static void TearDownTestSuite() { delete certs_; }

  // Starts the classifier with TLS, the token "s3cret" and, when
  // `mutual`, client certificates required.
  void StartServer(bool mutual = false) {
    ASSERT_FALSE(certs_->ca_cert.empty()) << "no test certificates";
    ClassifierServer::Options options;
    options.listen = "127.0.0.1:0";
    options.service.clock = [] { return testing::TestNow(); };
    options.tls_cert_file = certs_->server_cert;
    options.tls_key_file = certs_->server_key;
    if (mutual) options.tls_client_ca_file = certs_->ca_cert;
    options.auth_token = "s3cret";
    auto server = ClassifierServer::Start(options, &rules_, nullptr);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    target_ = absl::StrCat("localhost:", server_->port());
  }

  ClientOptions Client(const std::string& token, bool with_cert = false,
                       const std::string& ca = "") {
    ClientOptions options;
    options.target = target_;
    options.max_attempts = 1;
    options.token = token;
    testing::TestCerts& c = *certs_;
    auto creds = TlsCredentials({.ca_file = ca.empty() ? c.ca_cert : ca,
                                 .cert_file = with_cert ? c.client_cert : "",
                                 .key_file = with_cert ? c.client_key : ""});
    EXPECT_TRUE(creds.ok()) << creds.status();
    options.credentials = *creds;
    return options;
  }

  absl::Status ClassifyWith(const ClientOptions& options) {
    auto client = ClassificationClient::Create(options);
    if (!client.ok()) return client.status();
    v1::Opportunity o;
    o.set_id("opp-1");
    o.set_tenant_id("acme");
    return (*client)->Classify(o).status();
  }

  static testing::TestCerts* certs_;
  StaticRulesetSource rules_{testing::DefaultRules()};
  std::unique_ptr<ClassifierServer> server_;
  std::string target_;
};

testing::TestCerts* SecureChannelTest::certs_ = nullptr;

TEST_F(SecureChannelTest, TlsWithTheTokenIsServed) {
  StartServer();
  if (HasFatalFailure()) return;
  EXPECT_TRUE(ClassifyWith(Client("s3cret")).ok());
}

TEST_F(SecureChannelTest, MissingOrWrongTokenIsUnauthenticated) {
  StartServer();
  if (HasFatalFailure()) return;
  absl::Status none = ClassifyWith(Client(""));
  EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated) << none;
  EXPECT_THAT(none.message(), HasSubstr("bearer token is required"));
  absl::Status wrong = ClassifyWith(Client("s3cre7"));
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated) << wrong;
  EXPECT_THAT(wrong.message(), HasSubstr("not valid"));
}

TEST_F(SecureChannelTest, HealthChecksNeedNoToken) {
  StartServer();
  if (HasFatalFailure()) return;
  ClientOptions options = Client("");
  auto stub = grpc::health::v1::Health::NewStub(NewChannel(options));
  auto context = NewCallContext(options, absl::Seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(SecureChannelTest, PlaintextOrUntrustedServerCannotConnect) {
  StartServer();
  if (HasFatalFailure()) return;
  ClientOptions plain;
  plain.target = target_;
  plain.max_attempts = 1;
  plain.token = "s3cret";
  EXPECT_EQ(ClassifyWith(plain).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ClassifyWith(Client("s3cret", false, certs_->other_ca_cert)).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(SecureChannelTest, ServerNameOverrideForAnAddress) {
  StartServer();
  if (HasFatalFailure()) return;
  ClientOptions options = Client("s3cret");
  options.target = absl::StrCat("127.0.0.1:", server_->port());
  options.tls_server_name = "localhost";
  EXPECT_TRUE(ClassifyWith(options).ok());
  options.tls_server_name = "elsewhere.example";
  EXPECT_EQ(ClassifyWith(options).code(), absl::StatusCode::kUnavailable);
}

TEST_F(SecureChannelTest, MutualTlsNeedsAClientCertificate) {
  StartServer(/*mutual=*/true);
  if (HasFatalFailure()) return;
  EXPECT_EQ(ClassifyWith(Client("s3cret")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(ClassifyWith(Client("s3cret", /*with_cert=*/true)).ok());
}

TEST(GrpcServerSecurityTest, BadSettingsAreRejectedNamingTheOption) {
  GrpcServer::Options token_only;
  token_only.listen = "127.0.0.1:0";
  token_only.auth_token = "t";
  auto s1 = GrpcServer::Start(token_only, {}, {});
  EXPECT_EQ(s1.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s1.status().message(), HasSubstr("auth_token: needs TLS"));

  GrpcServer::Options cert_only;
  cert_only.listen = "127.0.0.1:0";
  cert_only.tls_cert_file = "/nonexistent/server.pem";
  auto s2 = GrpcServer::Start(cert_only, {}, {});
  EXPECT_EQ(s2.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s2.status().message(), HasSubstr("tls_key_file"));

  GrpcServer::Options missing = cert_only;
  missing.tls_key_file = "/nonexistent/server.key";
  auto s3 = GrpcServer::Start(missing, {}, {});
  EXPECT_EQ(s3.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s3.status().message(), HasSubstr("tls_cert_file: "));

  auto creds =
      TlsCredentials({.ca_file = "", .cert_file = "x.pem", .key_file = ""});
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace oppmatrix
