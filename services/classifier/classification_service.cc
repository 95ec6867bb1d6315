#include "services/classifier/classification_service.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_bytes.h"
#include "services/common/status_util.h"
#include "services/common/unary_reactor.h"

namespace oppmatrix {

// Keeps up to kMaxInFlight requests of the stream classifying at once and
// writes their results in the order of the requests. Reads go on while
// fewer are in flight; a result is written once it and all before it are
// in. Ends when the client half-closes and every result is written, or the
// call is cancelled (e.g. by a server shutdown past its grace period).
//
// The store answers on its own thread, gRPC's reactions on gRPC's: mu_
// orders them, and gRPC is called only outside it. The reactor is deleted
// when gRPC is done with it and no store call is pending.
class ClassificationServiceImpl::StreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxInFlight = 16;

  StreamReactor(ClassificationCore* core, absl::Time deadline)
      : core_(core), deadline_(deadline) {
    reading_ = true;
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      reads_done_ = true;
      PlanLocked();
    } else {
      Read();
      return;
    }
    Act();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      slots_.pop_front();
      if (!ok) {
        finished_ = true;
        next_.finish = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "stream closed while writing");
      } else {
        PlanLocked();
      }
    }
    Act();
  }

  void OnDone() override {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = pending_ == 0;
    }
    if (last) delete this;
  }

 private:
  struct Slot {
    v1::ClassifyRequest request;
    bool ready = false;
    grpc::ByteBuffer result;
  };
  // What to ask of gRPC once mu_ is released.
  struct Next {
    bool read = false;
    grpc::ByteBuffer* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  // The message just read: parsed here, classified by the core.
  void Read() {
    auto owned = std::make_unique<Slot>();
    Slot* slot = owned.get();
    // No other read starts before reading_ is cleared below.
    absl::Status parsed = ParseProtoBytes(request_bytes_, &slot->request);
    if (!parsed.ok()) {
      // Again, for the error to name the message (not on the hot path).
      parsed =
          ParseProtoBytes(request_bytes_, &slot->request,
                          absl::StrCat("message ", index_, " of the stream"));
    }
    ++index_;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      slots_.push_back(std::move(owned));
      if (parsed.ok()) ++pending_;
    }
    if (!parsed.ok()) {
      v1::ClassifyResult result;
      *result.mutable_status() = ToRpcStatus(parsed);
      Complete(slot, result);
      return;
    }
    core_->ClassifyAsync(
        slot->request, deadline_,
        [this, slot](absl::StatusOr<v1::ClassifyResponse*> response) {
          Complete(slot, ClassificationCore::StreamResult(slot->request,
                                                          std::move(response)));
          bool last;
          {
            absl::MutexLock lock(&mu_);
            --pending_;
            last = done_ && pending_ == 0;
          }
          if (last) delete this;
        });
    {
      absl::MutexLock lock(&mu_);
      PlanLocked();  // the next read, while this one classifies
    }
    Act();
  }

  // A result is in: write what is ready, read more, finish.
  void Complete(Slot* slot, const v1::ClassifyResult& result) {
    grpc::ByteBuffer bytes = ToByteBuffer(result);
    {
      absl::MutexLock lock(&mu_);
      slot->result = std::move(bytes);
      slot->ready = true;
      PlanLocked();
    }
    Act();
  }

  // Adds what the state allows next to next_, for Act.
  void PlanLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Next more = NextLocked();
    if (more.read) next_.read = true;
    if (more.write != nullptr) next_.write = more.write;
    if (more.finish.has_value()) next_.finish = more.finish;
  }

  // What the state allows next; marks it started.
  Next NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Next next;
    if (finished_) return next;
    if (!writing_ && !slots_.empty() && slots_.front()->ready) {
      writing_ = true;
      next.write = &slots_.front()->result;
    }
    if (!reading_ && !reads_done_ && slots_.size() < kMaxInFlight) {
      reading_ = true;
      next.read = true;
    }
    if (reads_done_ && slots_.empty() && !writing_) {
      finished_ = true;
      next.finish = grpc::Status::OK;
    }
    return next;
  }

  // Asks gRPC for what NextLocked decided, outside mu_. A Finish waits
  // until no other thread is between taking its plan and starting it, so
  // nothing is started on a finished call.
  void Act() {
    Next next;
    bool finishing;
    {
      absl::MutexLock lock(&mu_);
      std::swap(next, next_);
      if (next.finish.has_value()) finish_ = std::move(next.finish);
      finishing = finish_.has_value();  // what it comes with is dropped
      ++acting_;
    }
    if (!finishing) {
      if (next.write != nullptr) StartWrite(next.write);
      if (next.read) StartRead(&request_bytes_);
    }
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (--acting_ == 0 && finish_.has_value()) {
        finish = std::move(finish_);
        finish_.reset();
      }
    }
    if (finish.has_value()) Finish(*finish);
  }

  ClassificationCore* core_;
  const absl::Time deadline_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  Next next_ ABSL_GUARDED_BY(mu_);
  int pending_ ABSL_GUARDED_BY(mu_) = 0;  // store calls not answered
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);  // to call
  int acting_ ABSL_GUARDED_BY(mu_) = 0;  // threads inside Act
  // One read at a time: these belong to it.
  grpc::ByteBuffer request_bytes_;
  int64_t index_ = 0;  // of the next message, from 0
};

ClassificationServiceImpl::ClassificationServiceImpl(const RulesetSource* rules,
                                                     ResultStore* store,
                                                     Options options)
    : core_(rules, store, std::move(options)) {
  RouteProtobufLogs();
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::Classify(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::ClassifyRequest, v1::ClassifyResponse>(
      context, core_, &ClassificationCore::ClassifyAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::BatchClassify(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::BatchClassifyRequest, v1::BatchClassifyResponse>(
      context, core_, &ClassificationCore::BatchClassifyAsync, request,
      response);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
ClassificationServiceImpl::ClassifyStream(
    grpc::CallbackServerContext* context) {
  return new StreamReactor(&core_, CallDeadline(context));
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetClassification(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetClassificationRequest,
                    v1::GetClassificationResponse>(
      context, core_, &ClassificationCore::GetClassificationAsync, request,
      response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetMatrix(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetMatrixRequest, v1::GetMatrixResponse>(
      context, core_, &ClassificationCore::GetMatrixAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::ListOpportunities(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::ListOpportunitiesRequest,
                    v1::ListOpportunitiesResponse>(
      context, core_, &ClassificationCore::ListOpportunitiesAsync, request,
      response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::ListTransitions(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::ListTransitionsRequest, v1::ListTransitionsResponse>(
      context, core_, &ClassificationCore::ListTransitionsAsync, request,
      response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::DeleteClassification(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::DeleteClassificationRequest,
                    v1::DeleteClassificationResponse>(
      context, core_, &ClassificationCore::DeleteClassificationAsync, request,
      response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::WhatIf(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::WhatIfRequest, v1::WhatIfResponse>(
      context, core_, &ClassificationCore::WhatIfAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetHistory(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetHistoryRequest, v1::GetHistoryResponse>(
      context, core_, &ClassificationCore::GetHistoryAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetAccount(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetAccountRequest, v1::GetAccountResponse>(
      context, core_, &ClassificationCore::GetAccountAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::Explain(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::ExplainRequest, v1::ExplainResponse>(
      context, core_, &ClassificationCore::ExplainAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::PinOpportunity(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::PinOpportunityRequest, v1::PinOpportunityResponse>(
      context, core_, &ClassificationCore::PinAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::UnpinOpportunity(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::UnpinOpportunityRequest, v1::UnpinOpportunityResponse>(
      context, core_, &ClassificationCore::UnpinAsync, request, response);
}

}  // namespace oppmatrix
