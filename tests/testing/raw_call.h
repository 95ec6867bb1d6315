// Calls a gRPC method with raw bytes, the way a client with a broken or
// hostile encoder would: by method name through grpc::GenericStub, with
// request bytes that need not be a valid message.
//
//   std::vector<std::string> replies;
//   grpc::Status s = RawCall(channel, "/oppmatrix.v1.ClassificationService/"
//                            "Classify", {"\xff\xff"}, &replies);
#ifndef OPPMATRIX_TESTS_TESTING_RAW_CALL_H_
#define OPPMATRIX_TESTS_TESTING_RAW_CALL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

namespace oppmatrix::testing {

// Sends each of `messages` in order, half-closes, then reads every reply
// into `replies` and returns the call's status. Works for unary (one
// message), client-streaming and bidi methods with small messages (the
// server's replies are read after all writes). Deadline 30 s.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& method,
                     const std::vector<std::string>& messages,
                     std::vector<std::string>* replies);

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_TESTING_RAW_CALL_H_
