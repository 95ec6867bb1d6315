#include "tests/testing/test_certs.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix::testing {
namespace {

bool Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  Subprocess p(args);
  int code = p.Wait(absl::Seconds(30));
  EXPECT_EQ(code, 0) << absl::StrJoin(args, " ") << "\n" << p.Stderr();
  return code == 0;
}

// A P-256 key and a certificate for `subject`, signed by the CA (or
// self-signed when `ca` is empty).
bool MakeCert(const std::string& dir, const std::string& name,
              const std::string& subject, const std::string& extensions,
              const std::string& ca) {
  const std::string key = absl::StrCat(dir, "/", name, ".key");
  const std::string cert = absl::StrCat(dir, "/", name, ".pem");
  if (ca.empty()) {
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", subject});
  }
  const std::string csr = absl::StrCat(dir, "/", name, ".csr");
  const std::string ext = absl::StrCat(dir, "/", name, ".ext");
  std::ofstream(ext) << extensions << "\n";
  return Openssl({"req", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                  "-out", csr, "-subj", subject}) &&
         Openssl({"x509", "-req", "-in", csr, "-CA",
                  absl::StrCat(dir, "/", ca, ".pem"), "-CAkey",
                  absl::StrCat(dir, "/", ca, ".key"), "-CAcreateserial", "-out",
                  cert, "-days", "2", "-extfile", ext});
}

}  // namespace

TestCerts MakeTestCerts() {
  const std::string dir = MakeTempDir();
  bool ok = MakeCert(dir, "ca", "/CN=oppmatrix test CA", "", "") &&
            MakeCert(dir, "other-ca", "/CN=another test CA", "", "") &&
            MakeCert(dir, "server", "/CN=localhost",
                     "subjectAltName=DNS:localhost,IP:127.0.0.1", "ca") &&
            MakeCert(dir, "client", "/CN=oppctl", "extendedKeyUsage=clientAuth",
                     "ca");
  if (!ok) return {};
  auto path = [&](const char* file) { return absl::StrCat(dir, "/", file); };
  return {.ca_cert = path("ca.pem"),
          .server_cert = path("server.pem"),
          .server_key = path("server.key"),
          .client_cert = path("client.pem"),
          .client_key = path("client.key"),
          .other_ca_cert = path("other-ca.pem")};
}

}  // namespace oppmatrix::testing
