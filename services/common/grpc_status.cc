#include "services/common/grpc_status.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/log.h"
#include "services/common/status_util.h"

namespace oppmatrix {

namespace {

std::string NewLogId() {
  thread_local absl::BitGen bits;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(bits));
}

}  // namespace

absl::Status UnavailableWithLogId(absl::string_view summary,
                                  const absl::Status& cause) {
  const std::string id = NewLogId();
  Log(LogLevel::kWarning, "rpc",
      absl::StrCat(summary, " ", id, ": ",
                   absl::StatusCodeToString(cause.code()), ": ",
                   cause.message()));
  return absl::UnavailableError(absl::StrCat(summary, " (log id ", id, ")"));
}

absl::Status ClientFacing(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnknown:
      break;
    default:
      return status;
  }
  const std::string id = NewLogId();
  Log(LogLevel::kError, "rpc",
      absl::StrCat("internal error ", id, ": ",
                   absl::StatusCodeToString(status.code()), ": ",
                   status.message()));
  return absl::Status(status.code(),
                      absl::StrCat("internal error (log id ", id, ")"));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc = ToRpcStatus(ClientFacing(status));
  return grpc::Status(static_cast<grpc::StatusCode>(rpc.code()), rpc.message(),
                      rpc.details_size() > 0 ? rpc.SerializeAsString() : "");
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  google::rpc::Status rpc;
  if (!status.error_details().empty() &&
      rpc.ParseFromString(status.error_details())) {
    // The trailer is authoritative for details; code and message come from
    // the status itself.
    rpc.set_code(status.error_code());
    rpc.set_message(status.error_message());
    return FromRpcStatus(rpc);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace oppmatrix
