// Waits for an asynchronous call that answers through a callback: the
// synchronous form of a call for threads of their own (the ingestion
// pipelines, tools, tests). Never on a server's RPC threads, and never on
// the thread that runs the callback (it would wait for itself).
//
//   absl::StatusOr<Page> page = WaitFor<Page>(
//       [&](ListCallback done) { ListAsync(..., std::move(done)); });
#ifndef OPPMATRIX_SERVICES_COMMON_WAIT_FOR_H_
#define OPPMATRIX_SERVICES_COMMON_WAIT_FOR_H_

#include <future>
#include <utility>

#include "absl/status/statusor.h"

namespace oppmatrix {

// Calls `start` with a callback taking absl::StatusOr<T>, and returns what
// that callback is given. std::promise (pthreads underneath), which
// ThreadSanitizer sees.
template <typename T, typename Start>
absl::StatusOr<T> WaitFor(Start start) {
  std::promise<absl::StatusOr<T>> answer;
  std::future<absl::StatusOr<T>> future = answer.get_future();
  start([&answer](absl::StatusOr<T> r) { answer.set_value(std::move(r)); });
  return future.get();
}

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_WAIT_FOR_H_
