// A minimal line logger to stderr: one line per event, UTC timestamp, level,
// component. Thread-safe (one write(2) per line).
//
//   Log(LogLevel::kWarning, "rules", absl::StrCat("reload failed: ", s));
#ifndef OPPMATRIX_SERVICES_COMMON_LOG_H_
#define OPPMATRIX_SERVICES_COMMON_LOG_H_

#include "absl/strings/string_view.h"

namespace oppmatrix {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below this level are dropped. Default kInfo.
void SetMinLogLevel(LogLevel level);

// Parses "debug", "info", "warning" or "error"; false when unknown.
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// Writes "2026-11-23T08:00:00.123Z INFO  component: message\n" to stderr.
void Log(LogLevel level, absl::string_view component,
         absl::string_view message);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_LOG_H_
