#include "services/common/grpc_server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <climits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/grpc_callback_queue.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

// Lets a call through only with "authorization: Bearer <token>"; health
// checks pass without one.
// Equality in time that depends on the length only, not on where the
// first difference is.
bool SameBytes(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

class BearerTokenProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenProcessor(std::string token)
      : expected_(absl::StrCat("Bearer ", token)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* /*response_metadata*/) override {
    auto path = auth_metadata.find(":path");
    if (path != auth_metadata.end() &&
        absl::StartsWith(
            absl::string_view(path->second.data(), path->second.size()),
            "/grpc.health.v1.Health/")) {
      return grpc::Status::OK;
    }
    auto it = auth_metadata.find("authorization");
    if (it == auth_metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: a bearer token is required");
    }
    const grpc::string_ref& got = it->second;
    if (!SameBytes(absl::string_view(got.data(), got.size()), expected_)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: the bearer token is not valid");
    }
    // Consumed: the handlers never see the token.
    consumed_auth_metadata->insert(std::make_pair(
        std::string("authorization"), std::string(got.data(), got.size())));
    return grpc::Status::OK;
  }

 private:
  const std::string expected_;
};

absl::StatusOr<std::string> ReadPem(const std::string& option,
                                    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": ", text.status().message()));
  }
  return text;
}

// The listening port's credentials for `options`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const GrpcServer::Options& options) {
  const bool tls =
      !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (!tls) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "tls_client_ca_file: needs tls_cert_file and tls_key_file");
    }
    if (!options.auth_token.empty()) {
      return absl::InvalidArgumentError(
          "auth_token: needs TLS (tls_cert_file and tls_key_file); a bearer "
          "token is not sent over plaintext");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
        ": TLS needs both the certificate and the key"));
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  OPPMATRIX_ASSIGN_OR_RETURN(pair.cert_chain,
                             ReadPem("tls_cert_file", options.tls_cert_file));
  OPPMATRIX_ASSIGN_OR_RETURN(pair.private_key,
                             ReadPem("tls_key_file", options.tls_key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    OPPMATRIX_ASSIGN_OR_RETURN(
        ssl.pem_root_certs,
        ReadPem("tls_client_ca_file", options.tls_client_ca_file));
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::SslServerCredentials(ssl);
  if (!options.auth_token.empty()) {
    creds->SetAuthMetadataProcessor(
        std::make_shared<BearerTokenProcessor>(options.auth_token));
  }
  return creds;
}

// A channel argument in milliseconds: INT_MAX for no limit.
int ArgMillis(absl::Duration d) {
  if (d >= absl::Milliseconds(INT_MAX)) return INT_MAX;
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

void ApplyLimits(const GrpcServer::Limits& limits,
                 grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(limits.max_message_bytes);
  builder->SetMaxSendMessageSize(limits.max_send_message_bytes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                              limits.max_concurrent_streams);
  builder->AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE,
                              limits.max_metadata_bytes);
  if (limits.memory_quota_bytes > 0 || limits.max_threads > 0) {
    // The builder holds its own reference to the quota.
    grpc::ResourceQuota quota("oppmatrix-server");
    if (limits.memory_quota_bytes > 0) {
      quota.Resize(static_cast<size_t>(limits.memory_quota_bytes));
    }
    if (limits.max_threads > 0) quota.SetMaxThreads(limits.max_threads);
    builder->SetResourceQuota(quota);
  }
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                              ArgMillis(limits.keepalive_time));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                              ArgMillis(limits.keepalive_timeout));
  // The server's own keepalive pings go out on idle connections too, and
  // are not held back for want of data frames in between.
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // With permit-without-calls, a client's pings on a connection without
  // calls are held to the same interval as with calls (else 2 hours).
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      ArgMillis(limits.min_ping_interval));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES,
                              limits.max_ping_strikes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                              ArgMillis(limits.max_connection_age));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                              ArgMillis(limits.max_connection_age_grace));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                              ArgMillis(limits.max_connection_idle));
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                              ArgMillis(limits.handshake_timeout));
}

}  // namespace

absl::Status GrpcServer::CheckLimits(const Limits& limits) {
  struct AtLeast {
    const char* name;
    int64_t value;
    int64_t min;
  };
  for (const AtLeast& c : {
           AtLeast{"max_message_bytes", limits.max_message_bytes, 1},
           AtLeast{"max_send_message_bytes", limits.max_send_message_bytes, 1},
           AtLeast{"max_concurrent_streams", limits.max_concurrent_streams, 1},
           AtLeast{"max_metadata_bytes", limits.max_metadata_bytes, 1},
           AtLeast{"memory_quota_bytes", limits.memory_quota_bytes, 0},
           AtLeast{"max_threads", limits.max_threads, 0},
           AtLeast{"max_ping_strikes", limits.max_ping_strikes, 0},
           AtLeast{"rapid_reset_calls", limits.rapid_reset_calls, 0},
           AtLeast{"max_pending_calls", limits.max_pending_calls, 0},
       }) {
    if (c.value < c.min) {
      return absl::InvalidArgumentError(
          absl::StrCat(c.name, ": ", c.value, " is below ", c.min,
                       c.min == 0 ? " (0 means no limit)" : ""));
    }
  }
  struct Duration {
    const char* name;
    absl::Duration value;
    bool zero_ok;
  };
  for (const Duration& c : {
           Duration{"keepalive_time", limits.keepalive_time, false},
           Duration{"keepalive_timeout", limits.keepalive_timeout, false},
           Duration{"min_ping_interval", limits.min_ping_interval, false},
           Duration{"max_connection_age", limits.max_connection_age, false},
           Duration{"max_connection_age_grace", limits.max_connection_age_grace,
                    true},
           Duration{"max_connection_idle", limits.max_connection_idle, false},
           Duration{"handshake_timeout", limits.handshake_timeout, false},
           Duration{"rapid_reset_lifetime", limits.rapid_reset_lifetime, false},
           Duration{"abuse_ban", limits.abuse_ban, true},
           Duration{"memory_trim_interval", limits.memory_trim_interval, true},
       }) {
    if (c.value < absl::ZeroDuration() ||
        (c.value == absl::ZeroDuration() && !c.zero_ok)) {
      return absl::InvalidArgumentError(
          absl::StrCat(c.name, ": ", absl::FormatDuration(c.value),
                       c.zero_ok ? " is negative" : " is not positive"));
    }
  }
  if (limits.max_pending_calls > 0 &&
      limits.max_pending_calls < limits.max_concurrent_streams) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_pending_calls: ", limits.max_pending_calls,
        " is below max_concurrent_streams (", limits.max_concurrent_streams,
        "): a client within the stream limit would be disconnected"));
  }
  const int64_t largest =
      std::max(limits.max_message_bytes, limits.max_send_message_bytes);
  if (limits.memory_quota_bytes > 0 && largest > limits.memory_quota_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory_quota_bytes: ", limits.memory_quota_bytes,
                     " is below the largest message (", largest,
                     " bytes): such a message could never be held"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const Options& options, const std::vector<grpc::Service*>& services,
    const std::vector<std::string>& health_names) {
  OPPMATRIX_RETURN_IF_ERROR(CheckLimits(options.limits));
  // Before the server's reference: its reactors may outlive the last
  // channel of the process.
  KeepCallbackQueueAlive();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      ServerCredentialsFor(options);
  if (!creds.ok()) return creds.status();
  std::unique_ptr<GrpcServer> out(new GrpcServer());
  out->tls_ = !options.tls_cert_file.empty();
  out->guard_ = std::make_unique<ConnectionGuard>(ConnectionGuard::Policy{
      .block_calls = options.limits.rapid_reset_calls,
      .premature_lifetime = options.limits.rapid_reset_lifetime,
      .max_pending_calls = options.limits.max_pending_calls,
      .ban = options.limits.abuse_ban});
  grpc::ServerBuilder builder;
  // Without the guard (or on a Unix socket, where it has nothing to key
  // connections by), gRPC's own listener.
  const bool own_listener =
      out->guard_->enabled() && !absl::StartsWith(options.listen, "unix");
  if (own_listener) {
    out->acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
        *creds);
  } else {
    builder.AddListeningPort(options.listen, *creds, &out->port_);
  }
  if (own_listener) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(out->guard_->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  ApplyLimits(options.limits, &builder);
  for (grpc::Service* s : services) builder.RegisterService(s);
  out->server_ = builder.BuildAndStart();
  if (out->server_ == nullptr || (!own_listener && out->port_ == 0)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  if (own_listener) {
    // After the start: gRPC refuses connections handed to it before.
    absl::StatusOr<std::unique_ptr<Listener>> listener = Listener::Start(
        options.listen, out->guard_.get(), out->acceptor_.get());
    if (!listener.ok()) return listener.status();
    out->listener_ = *std::move(listener);
    out->port_ = out->listener_->port();
  }
  grpc::HealthCheckServiceInterface* health =
      out->server_->GetHealthCheckService();
  for (const std::string& name : health_names) {
    health->SetServingStatus(name, true);
  }
  health->SetServingStatus("", true);
  out->trimmer_ =
      std::make_unique<MemoryTrimmer>(options.limits.memory_trim_interval);
  return out;
}

GrpcServer::~GrpcServer() {
  if (!shut_down_) Shutdown(absl::ZeroDuration());
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;  // it never started
  server_->GetHealthCheckService()->Shutdown();
  listener_.reset();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  trimmer_.reset();
}

void GrpcServer::Wait() { server_->Wait(); }

}  // namespace oppmatrix
