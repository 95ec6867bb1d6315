// The connection flags every oppmatrix client tool has, beyond its own
// --target and --timeout: --tls, --tls_ca_file, --tls_cert_file,
// --tls_key_file, --tls_server_name, --token and --token_file (each also
// OPPMATRIX_<NAME>). A tool links this library once and turns them into
// ClientOptions.
//
//   absl::StatusOr<ClientOptions> options =
//       ConnectionOptionsFromFlags("127.0.0.1:50051", absl::Seconds(5));
#ifndef OPPMATRIX_CLIENTS_CPP_CONNECTION_FLAGS_H_
#define OPPMATRIX_CLIENTS_CPP_CONNECTION_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cpp/classification_client.h"

namespace oppmatrix {

// The flags' names, sorted, for help texts.
std::vector<std::string> ConnectionFlagNames();

// ClientOptions for `target` from the flags: TLS credentials when --tls,
// --tls_ca_file or --tls_cert_file is given, the token from --token or
// --token_file. INVALID_ARGUMENT naming the flag or file when a file can't
// be read or the token file is empty.
absl::StatusOr<ClientOptions> ConnectionOptionsFromFlags(
    const std::string& target, absl::Duration timeout);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_CPP_CONNECTION_FLAGS_H_
