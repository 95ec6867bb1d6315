#include "services/common/memory_trimmer.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace oppmatrix {
namespace {

// The resident set in bytes (/proc/self/statm), or 0 if unreadable.
int64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * sysconf(_SC_PAGESIZE) : 0;
}

}  // namespace

MemoryTrimmer::MemoryTrimmer(absl::Duration interval) {
  if (interval > absl::ZeroDuration() && interval != absl::InfiniteDuration()) {
    thread_ = std::thread([this, interval] { Run(interval); });
  }
}

MemoryTrimmer::~MemoryTrimmer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t MemoryTrimmer::TrimNow() {
#if defined(__GLIBC__)
  const int64_t before = ResidentBytes();
  malloc_trim(0);
  const int64_t after = ResidentBytes();
  return before > after ? before - after : 0;
#else
  return 0;
#endif
}

void MemoryTrimmer::Run(absl::Duration interval) {
  // A trim holds each malloc arena's lock while it walks the free chunks
  // (about 0.5 s after a 1 GB burst), so it runs only when the resident
  // set has grown since the last one.
  constexpr int64_t kMinGrowth = int64_t{32} << 20;
  int64_t floor = ResidentBytes();
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval)) {
    mu_.Unlock();
    const int64_t resident = ResidentBytes();
    if (resident - floor >= kMinGrowth) {
      const absl::Time start = absl::Now();
      const int64_t released = TrimNow();
      Log(LogLevel::kDebug, "memory",
          absl::StrCat("gave back ", released >> 20, " MiB of ", resident >> 20,
                       " in ", absl::FormatDuration(absl::Now() - start)));
      floor = ResidentBytes();
    } else if (resident < floor) {
      floor = resident;
    }
    mu_.Lock();
  }
}

}  // namespace oppmatrix
