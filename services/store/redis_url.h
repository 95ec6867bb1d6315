// Where Redis is and how to log in, from a URL:
//   redis://[[user]:password@]host[:port][/db]   (default port 6379, db 0)
//   unix:///path/to/redis.sock[?db=N&password=P]
//
//   absl::StatusOr<RedisEndpoint> e =
//   ParseRedisUrl("redis://:s3cret@cache:6380/2");
#ifndef OPPMATRIX_SERVICES_STORE_REDIS_URL_H_
#define OPPMATRIX_SERVICES_STORE_REDIS_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace oppmatrix {

struct RedisEndpoint {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string unix_path;  // set for unix:// URLs
  std::string username;   // ACL user; empty means the default user
  std::string password;   // empty means no AUTH
  int db = 0;

  // "host:port/db" or "unix:/path/db", without credentials, for logs.
  std::string ToSafeString() const;
};

// INVALID_ARGUMENT naming what is wrong with the URL (never echoing the
// password).
absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_URL_H_
