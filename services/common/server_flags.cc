#include "services/common/server_flags.h"

#include <algorithm>
#include <cstdint>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/file_util.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "Serve TLS with this certificate chain (PEM); with --tls_key_file");
ABSL_FLAG(std::string, tls_key_file, "",
          "The private key (PEM) of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "With TLS: require client certificates signed by these roots "
          "(PEM), i.e. mutual TLS");
ABSL_FLAG(std::string, auth_token_file, "",
          "With TLS: a file holding the bearer token every call must carry "
          "(\"authorization: Bearer <token>\"); health checks are exempt");

namespace {
const oppmatrix::GrpcServer::Limits kDefaultLimits;
}  // namespace

ABSL_FLAG(int, max_message_bytes, kDefaultLimits.max_message_bytes,
          "Largest request message, in bytes");
ABSL_FLAG(int, max_send_message_bytes, kDefaultLimits.max_send_message_bytes,
          "Largest response message, in bytes");
ABSL_FLAG(int, max_concurrent_streams, kDefaultLimits.max_concurrent_streams,
          "Calls open at once on one connection "
          "(SETTINGS_MAX_CONCURRENT_STREAMS); clients queue the rest");
ABSL_FLAG(int, max_metadata_bytes, kDefaultLimits.max_metadata_bytes,
          "Largest header list of a call, in bytes");
ABSL_FLAG(int64_t, memory_quota_bytes, kDefaultLimits.memory_quota_bytes,
          "Memory gRPC may use for connections and calls (its resource "
          "quota), in bytes; near it gRPC closes idle connections and "
          "cancels calls; 0: no quota");
ABSL_FLAG(int, max_threads, kDefaultLimits.max_threads,
          "Most threads of the synchronous services (reflection); 0: no "
          "limit");
ABSL_FLAG(absl::Duration, keepalive_time, kDefaultLimits.keepalive_time,
          "Ping a connection that has been quiet this long; inf: never");
ABSL_FLAG(absl::Duration, keepalive_timeout, kDefaultLimits.keepalive_timeout,
          "Close a connection whose ping is not answered within this long");
ABSL_FLAG(absl::Duration, min_ping_interval, kDefaultLimits.min_ping_interval,
          "Shortest interval between a client's pings without data; "
          "shorter ones are strikes");
ABSL_FLAG(int, max_ping_strikes, kDefaultLimits.max_ping_strikes,
          "Pings too soon before GOAWAY (ENHANCE_YOUR_CALM); 0: no limit");
ABSL_FLAG(absl::Duration, max_connection_age, kDefaultLimits.max_connection_age,
          "GOAWAY a connection this old (+-10% jitter); inf: never");
ABSL_FLAG(absl::Duration, max_connection_age_grace,
          kDefaultLimits.max_connection_age_grace,
          "How long calls of a connection past its age may still run");
ABSL_FLAG(absl::Duration, max_connection_idle,
          kDefaultLimits.max_connection_idle,
          "GOAWAY a connection without calls for this long; inf: never");
ABSL_FLAG(absl::Duration, handshake_timeout, kDefaultLimits.handshake_timeout,
          "Close a new connection that has not finished its TLS and HTTP/2 "
          "handshakes within this long");
ABSL_FLAG(int, rapid_reset_calls, kDefaultLimits.rapid_reset_calls,
          "Close a connection when, of a block of this many calls ended on "
          "it, more than half were cancelled by the client within "
          "--rapid_reset_lifetime of starting (HTTP/2 rapid reset); 0: never");
ABSL_FLAG(absl::Duration, rapid_reset_lifetime,
          kDefaultLimits.rapid_reset_lifetime,
          "A call cancelled by the client sooner than this after it started "
          "counts for --rapid_reset_calls");
ABSL_FLAG(int, max_pending_calls, kDefaultLimits.max_pending_calls,
          "Close a connection with more calls than this started and not "
          "ended (open streams, and reset ones still processed); at least "
          "--max_concurrent_streams; 0: no limit");
ABSL_FLAG(absl::Duration, abuse_ban, kDefaultLimits.abuse_ban,
          "Refuse new connections from the host of a connection closed for "
          "--rapid_reset_calls or --max_pending_calls for this long; 0: "
          "none (behind a proxy, whose host every client shares)");
ABSL_FLAG(absl::Duration, memory_trim_interval,
          kDefaultLimits.memory_trim_interval,
          "How often freed heap memory is given back to the system "
          "(malloc_trim); 0: never");

namespace oppmatrix {

absl::Status ApplyServerLimitFlags(GrpcServer::Limits* limits) {
  limits->max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  limits->max_send_message_bytes = absl::GetFlag(FLAGS_max_send_message_bytes);
  limits->max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  limits->max_metadata_bytes = absl::GetFlag(FLAGS_max_metadata_bytes);
  limits->memory_quota_bytes = absl::GetFlag(FLAGS_memory_quota_bytes);
  limits->max_threads = absl::GetFlag(FLAGS_max_threads);
  limits->keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  limits->keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  limits->min_ping_interval = absl::GetFlag(FLAGS_min_ping_interval);
  limits->max_ping_strikes = absl::GetFlag(FLAGS_max_ping_strikes);
  limits->max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  limits->max_connection_age_grace =
      absl::GetFlag(FLAGS_max_connection_age_grace);
  limits->max_connection_idle = absl::GetFlag(FLAGS_max_connection_idle);
  limits->handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  limits->rapid_reset_calls = absl::GetFlag(FLAGS_rapid_reset_calls);
  limits->rapid_reset_lifetime = absl::GetFlag(FLAGS_rapid_reset_lifetime);
  limits->max_pending_calls = absl::GetFlag(FLAGS_max_pending_calls);
  limits->abuse_ban = absl::GetFlag(FLAGS_abuse_ban);
  limits->memory_trim_interval = absl::GetFlag(FLAGS_memory_trim_interval);
  absl::Status s = GrpcServer::CheckLimits(*limits);
  if (!s.ok()) {
    // CheckLimits names the field, which is the flag's name.
    return absl::InvalidArgumentError(absl::StrCat("--", s.message()));
  }
  return absl::OkStatus();
}

absl::Status ApplyServerSecurityFlags(GrpcServer::Options* options) {
  options->tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options->tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options->tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  const std::string token_file = absl::GetFlag(FLAGS_auth_token_file);
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token =
        ReadSecretFile("auth_token_file", token_file);
    if (!token.ok()) return token.status();
    options->auth_token = *std::move(token);
  }
  return absl::OkStatus();
}

}  // namespace oppmatrix
