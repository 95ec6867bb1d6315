#include "services/common/proto_bytes.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/wire_format_lite.h"
#include "services/common/log.h"
#include "services/common/status_util.h"

namespace oppmatrix {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Deeper than protobuf's own parser goes (100), so never reached for bytes
// that decode.
constexpr int kMaxDepth = 100;

// The path of the first string field in `bytes` (a message of type `type`)
// that is not UTF-8, if the bytes decode that far.
std::optional<std::string> FindInvalidUtf8(const Descriptor* type,
                                           absl::string_view bytes,
                                           const std::string& path, int depth) {
  if (depth > kMaxDepth) return std::nullopt;
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  std::map<int, int> seen;  // field number -> occurrences so far
  while (uint32_t tag = in.ReadTag()) {
    const FieldDescriptor* field =
        type->FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool nested = field != nullptr &&
                        (field->type() == FieldDescriptor::TYPE_STRING ||
                         field->type() == FieldDescriptor::TYPE_MESSAGE) &&
                        WireFormatLite::GetTagWireType(tag) ==
                            WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (!nested) {
      if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
      continue;
    }
    std::string value;
    if (!WireFormatLite::ReadString(&in, &value)) return std::nullopt;
    std::string name =
        path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (field->is_repeated() && !field->is_map()) {
      absl::StrAppend(&name, "[", seen[field->number()]++, "]");
    }
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!google::protobuf::internal::IsStructurallyValidUTF8(
              value.data(), static_cast<int>(value.size()))) {
        return name;
      }
    } else if (std::optional<std::string> inner = FindInvalidUtf8(
                   field->message_type(), value, name, depth + 1)) {
      return inner;
    }
  }
  return std::nullopt;
}

void ProtobufLog(google::protobuf::LogLevel level, const char* filename,
                 int line, const std::string& message) {
  Log(level == google::protobuf::LOGLEVEL_FATAL ? LogLevel::kError
                                                : LogLevel::kDebug,
      "protobuf", absl::StrCat(filename, ":", line, ": ", message));
}

}  // namespace

void RouteProtobufLogs() { google::protobuf::SetLogHandler(&ProtobufLog); }

std::string ByteBufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

absl::Status ParseProtoBytes(absl::string_view bytes,
                             google::protobuf::Message* message,
                             absl::string_view what, absl::string_view prefix) {
  message->Clear();
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::OkStatus();
  }
  message->Clear();
  const Descriptor* type = message->GetDescriptor();
  if (std::optional<std::string> field =
          FindInvalidUtf8(type, bytes, std::string(prefix), 0)) {
    std::vector<FieldViolation> v;
    AddViolation(v, *field, "is not valid UTF-8");
    return InvalidArgumentWithViolations(
        absl::StrCat(what, " is not a valid ", type->full_name()), v);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is not a valid ", type->full_name(),
                   ": its bytes do not decode (", bytes.size(), " bytes)"));
}

absl::Status ParseProtoBytes(const grpc::ByteBuffer& buffer,
                             google::protobuf::Message* message,
                             absl::string_view what, absl::string_view prefix) {
  {
    // Straight from the buffer's slices, as gRPC's own deserializer reads
    // them: no copy of the request (the copy of the buffer shares them).
    grpc::ByteBuffer shared(buffer);
    grpc::ProtoBufferReader reader(&shared);
    message->Clear();
    if (!reader.status().ok()) {
      // A compressed payload that does not inflate.
      return absl::InvalidArgumentError(absl::StrCat(
          what, " is not a valid ", message->GetDescriptor()->full_name(),
          ": its bytes cannot be read"));
    }
    if (message->ParseFromZeroCopyStream(&reader)) return absl::OkStatus();
  }
  // Only for the error: flat bytes to find the field that is not UTF-8.
  return ParseProtoBytes(ByteBufferToString(buffer), message, what, prefix);
}

grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message) {
  grpc::ByteBuffer buffer;
  bool own = false;
  // Serializing a valid in-memory message does not fail.
  (void)grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(
      message, &buffer, &own);
  return buffer;
}

bool ForEachLengthDelimited(
    absl::string_view bytes, int field_number,
    const std::function<void(absl::string_view element)>& element) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    // 0 is the end of the bytes, or a tag that does not decode.
    if (tag == 0) return in.ConsumedEntireMessage();
    if (WireFormatLite::GetTagFieldNumber(tag) != field_number ||
        WireFormatLite::GetTagWireType(tag) !=
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    std::string value;
    if (!WireFormatLite::ReadString(&in, &value)) return false;
    element(value);
  }
}

}  // namespace oppmatrix
