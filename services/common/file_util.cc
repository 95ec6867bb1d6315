#include "services/common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace oppmatrix {

namespace {

absl::Status ErrnoStatus(const std::string& path, int err) {
  std::string msg = absl::StrCat(path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::Status TooLarge(const std::string& path, absl::string_view size,
                      size_t max_bytes) {
  return absl::FailedPreconditionError(absl::StrCat(
      path, ": ", size, " bytes, more than the limit of ", max_bytes));
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes) {
  // Non-blocking to open: a FIFO without a writer would block open(2)
  // itself (and with it a ruleset reload); it then reads as empty. Reads
  // block as usual.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(path, errno);
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  if (const int flags = ::fcntl(fd, F_GETFL);
      flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return ErrnoStatus(path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(path, errno);
  if (S_ISDIR(st.st_mode)) return ErrnoStatus(path, EISDIR);
  // A regular file is refused by its size before a byte is read (a sparse
  // 1 GiB file costs nothing); pipes and devices by what they deliver.
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    return TooLarge(path, absl::StrCat(st.st_size), max_bytes);
  }
  std::string text;
  char buf[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(path, errno);
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > max_bytes) {
      return TooLarge(path, absl::StrCat("over ", max_bytes), max_bytes);
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& flag,
                                           const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path, 4096);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", text.status().message()));
  }
  std::string secret(absl::StripAsciiWhitespace(*text));
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path, " is empty"));
  }
  return secret;
}

}  // namespace oppmatrix
