// The transport-security flags every oppmatrix server has, applied to its
// GrpcServer::Options:
//   --tls_cert_file, --tls_key_file   serve TLS with this certificate/key
//   --tls_client_ca_file              require client certificates (mTLS)
//   --auth_token_file                 require "authorization: Bearer <t>"
//
//   GrpcServer::Options options{.listen = ...};
//   if (absl::Status s = ApplyServerSecurityFlags(&options); !s.ok()) ...
#ifndef OPPMATRIX_SERVICES_COMMON_SERVER_FLAGS_H_
#define OPPMATRIX_SERVICES_COMMON_SERVER_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/common/grpc_server.h"

namespace oppmatrix {

// The flags' names, for ParseFlagsWithEnv (OPPMATRIX_TLS_CERT_FILE, ...).
std::vector<std::string> ServerSecurityFlagNames();

// Copies the flags into `options`, reading the token file (its content,
// surrounding whitespace removed); INVALID_ARGUMENT naming the flag when
// the file can't be read or is empty.
absl::Status ApplyServerSecurityFlags(GrpcServer::Options* options);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_SERVER_FLAGS_H_
