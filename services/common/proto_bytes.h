// Request bytes to messages, for the servers' raw callback methods: gRPC's
// typed callback API answers a body that does not parse with UNIMPLEMENTED
// and an empty message (unary) or treats it as the end of the stream, so
// the servers take the bytes (grpc::ByteBuffer) and parse them here.
//
//   v1::ClassifyRequest request;
//   absl::Status s = ParseProtoBytes(*buffer, &request, "");
//   // INVALID_ARGUMENT "the request is not a valid oppmatrix.v1.Classify...
//   // or, for a string field that is not UTF-8, a BadRequest naming it:
//   // "opportunity.account.name: is not valid UTF-8"
#ifndef OPPMATRIX_SERVICES_COMMON_PROTO_BYTES_H_
#define OPPMATRIX_SERVICES_COMMON_PROTO_BYTES_H_

#include <grpcpp/support/byte_buffer.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace oppmatrix {

// Sends protobuf's own log lines to Log: FATAL at ERROR, the rest at DEBUG.
// Protobuf logs an ERROR line for every parse of a string field that is not
// UTF-8, which a client could otherwise turn into a log flood; the caller
// gets INVALID_ARGUMENT naming the field instead. Idempotent.
void RouteProtobufLogs();

// The buffer's bytes, in one string.
std::string ByteBufferToString(const grpc::ByteBuffer& buffer);

// Parses `bytes` into `message` (cleared first). INVALID_ARGUMENT when they
// are not a valid message of its type: "<what> is not a valid <type>" (what
// defaults to "the request"), or, when the bytes decode but a string field
// is not UTF-8, a BadRequest violation naming that field under `prefix`
// (e.g. "events[2].opportunity.name").
absl::Status ParseProtoBytes(absl::string_view bytes,
                             google::protobuf::Message* message,
                             absl::string_view what = "the request",
                             absl::string_view prefix = "");
absl::Status ParseProtoBytes(const grpc::ByteBuffer& buffer,
                             google::protobuf::Message* message,
                             absl::string_view what = "the request",
                             absl::string_view prefix = "");

// The message's bytes as a ByteBuffer, for a raw method's response.
grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message);

// Calls `element` with the bytes of each occurrence of the length-delimited
// field `field_number` in the encoded message `bytes`, in order, skipping
// every other field. Returns false when the encoding breaks off (a bad tag
// or a truncated field): the elements before the break were delivered.
bool ForEachLengthDelimited(
    absl::string_view bytes, int field_number,
    const std::function<void(absl::string_view element)>& element);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_PROTO_BYTES_H_
