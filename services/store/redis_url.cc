#include "services/store/redis_url.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace oppmatrix {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("redis URL: ", what));
}

// Decodes %XX escapes (passwords may contain '@' or ':').
absl::StatusOr<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= s.size() || !absl::SimpleHexAtoi(s.substr(i + 1, 2), &value)) {
      return Bad("bad %-escape");
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

absl::StatusOr<int> ParseDb(absl::string_view text) {
  int db = 0;
  // The upper bound is the server's `databases` setting; SELECT checks it.
  if (!absl::SimpleAtoi(text, &db) || db < 0) {
    return Bad(absl::StrCat("database must be a non-negative number, got \"",
                            text, "\""));
  }
  return db;
}

}  // namespace

std::string RedisEndpoint::ToSafeString() const {
  if (!unix_path.empty()) return absl::StrCat("unix:", unix_path, "/", db);
  return absl::StrCat(host, ":", port, "/", db);
}

absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url) {
  RedisEndpoint e;
  if (absl::ConsumePrefix(&url, "unix://")) {
    absl::string_view query;
    if (size_t q = url.find('?'); q != absl::string_view::npos) {
      query = url.substr(q + 1);
      url = url.substr(0, q);
    }
    if (url.empty() || url[0] != '/') {
      return Bad("unix:// needs an absolute socket path");
    }
    e.unix_path = std::string(url);
    for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> p =
          absl::StrSplit(kv, absl::MaxSplits('=', 1));
      if (p.first == "db") {
        auto db = ParseDb(p.second);
        if (!db.ok()) return db.status();
        e.db = *db;
      } else if (p.first == "password") {
        auto pw = PercentDecode(p.second);
        if (!pw.ok()) return pw.status();
        e.password = *pw;
      } else {
        return Bad(absl::StrCat("unknown parameter \"", p.first, "\""));
      }
    }
    return e;
  }
  if (!absl::ConsumePrefix(&url, "redis://")) {
    return Bad("must start with redis:// or unix://");
  }
  if (size_t at = url.rfind('@'); at != absl::string_view::npos) {
    absl::string_view userinfo = url.substr(0, at);
    url = url.substr(at + 1);
    absl::string_view user = userinfo, pass;
    if (size_t colon = userinfo.find(':'); colon != absl::string_view::npos) {
      user = userinfo.substr(0, colon);
      pass = userinfo.substr(colon + 1);
    }
    auto u = PercentDecode(user);
    auto p = PercentDecode(pass);
    if (!u.ok()) return u.status();
    if (!p.ok()) return p.status();
    e.username = *u;
    e.password = *p;
  }
  absl::string_view hostport = url;
  if (size_t slash = url.find('/'); slash != absl::string_view::npos) {
    hostport = url.substr(0, slash);
    absl::string_view db = url.substr(slash + 1);
    if (!db.empty()) {
      auto parsed = ParseDb(db);
      if (!parsed.ok()) return parsed.status();
      e.db = *parsed;
    }
  }
  absl::string_view host = hostport;
  if (absl::StartsWith(hostport, "[")) {  // [::1]:6379
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) return Bad("unclosed '[' in host");
    host = hostport.substr(1, close - 1);
    absl::string_view rest = hostport.substr(close + 1);
    if (absl::ConsumePrefix(&rest, ":") &&
        (!absl::SimpleAtoi(rest, &e.port) || e.port <= 0 || e.port > 65535)) {
      return Bad(absl::StrCat("bad port \"", rest, "\""));
    }
  } else if (size_t colon = hostport.rfind(':');
             colon != absl::string_view::npos) {
    host = hostport.substr(0, colon);
    absl::string_view port = hostport.substr(colon + 1);
    if (!absl::SimpleAtoi(port, &e.port) || e.port <= 0 || e.port > 65535) {
      return Bad(absl::StrCat("bad port \"", port, "\""));
    }
  }
  if (host.empty()) return Bad("missing host");
  e.host = std::string(host);
  return e;
}

}  // namespace oppmatrix
