// A throw-away certificate authority and certificates for TLS tests, made
// with the openssl command: a CA, a server certificate for localhost and
// 127.0.0.1, and a client certificate, all valid for two days.
//
//   TestCerts certs = MakeTestCerts();
//   options.tls_cert_file = certs.server_cert;
#ifndef OPPMATRIX_TESTS_TESTING_TEST_CERTS_H_
#define OPPMATRIX_TESTS_TESTING_TEST_CERTS_H_

#include <string>

namespace oppmatrix::testing {

struct TestCerts {
  // PEM file paths.
  std::string ca_cert;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  // A CA that signed nothing here, for "untrusted" cases.
  std::string other_ca_cert;
};

// Makes them in a fresh temporary directory; fails the test (and returns
// empty paths) when openssl is missing or fails.
TestCerts MakeTestCerts();

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_TESTING_TEST_CERTS_H_
