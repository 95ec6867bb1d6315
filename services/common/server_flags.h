// The flags every oppmatrix server has, applied to its GrpcServer::Options.
// Transport security:
//   --tls_cert_file, --tls_key_file   serve TLS with this certificate/key
//   --tls_client_ca_file              require client certificates (mTLS)
//   --auth_token_file                 require "authorization: Bearer <t>"
// Limits (GrpcServer::Limits, whose defaults they share):
//   --max_message_bytes, --max_send_message_bytes, --max_concurrent_streams,
//   --max_metadata_bytes, --memory_quota_bytes, --max_threads,
//   --keepalive_time, --keepalive_timeout, --min_ping_interval,
//   --max_ping_strikes, --max_connection_age, --max_connection_age_grace,
//   --max_connection_idle, --handshake_timeout, --rapid_reset_calls,
//   --rapid_reset_lifetime, --max_pending_calls, --abuse_ban,
//   --memory_trim_interval
//
//   ParseFlagsWithEnv(argc, argv, usage);  // OPPMATRIX_TLS_CERT_FILE, ...
//   GrpcServer::Options options{.listen = ...};
//   if (absl::Status s = ApplyServerLimitFlags(&options.limits); !s.ok())
//     ...  // a usage error
//   if (absl::Status s = ApplyServerSecurityFlags(&options); !s.ok()) ...
#ifndef OPPMATRIX_SERVICES_COMMON_SERVER_FLAGS_H_
#define OPPMATRIX_SERVICES_COMMON_SERVER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/grpc_server.h"

namespace oppmatrix {

// Copies the limit flags into `limits`; INVALID_ARGUMENT naming the flag
// ("--max_concurrent_streams: 0 is below 1") for a value out of range
// (GrpcServer::CheckLimits).
absl::Status ApplyServerLimitFlags(GrpcServer::Limits* limits);

// Copies the security flags into `options`, reading the token file (its
// content, surrounding whitespace removed); INVALID_ARGUMENT naming the
// flag when the file can't be read or is empty.
absl::Status ApplyServerSecurityFlags(GrpcServer::Options* options);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_SERVER_FLAGS_H_
