// Gives the heap's free memory back to the system on a schedule. glibc's
// malloc keeps what a burst freed (a flood of calls, a large batch) in its
// arenas, so without this a server's RSS stays at the burst's peak: 20,000
// abandoned streams left the classifier 240 MB above its idle size for
// good, of which malloc_trim(3) returns all but a few MB.
//
//   MemoryTrimmer trimmer(absl::Seconds(10));  // trims until destroyed
//   MemoryTrimmer::TrimNow();                  // once, on this thread
#ifndef OPPMATRIX_SERVICES_COMMON_MEMORY_TRIMMER_H_
#define OPPMATRIX_SERVICES_COMMON_MEMORY_TRIMMER_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace oppmatrix {

class MemoryTrimmer {
 public:
  // Every `interval`, on a thread of its own, trims if the resident set
  // has grown by 32 MiB or more since the last trim; an infinite or zero
  // interval starts no thread.
  explicit MemoryTrimmer(absl::Duration interval);
  // Stops the thread (waiting for a trim in progress).
  ~MemoryTrimmer();

  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // One malloc_trim(0) (nothing where the C library is not glibc); returns
  // the bytes the process's resident set shrank by (0 if it did not).
  static int64_t TrimNow();

 private:
  void Run(absl::Duration interval);

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_MEMORY_TRIMMER_H_
