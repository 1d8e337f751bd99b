// SPDX-License-Identifier: MIT
#include "posix.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <system_error>
#include <unistd.h>

namespace boxy::vm {

void UniqueFd::reset(int fd)
{
    if (fd_ >= 0) {
        // close(2) releases the descriptor even when it reports EINTR.
        (void)::close(fd_);
    }
    fd_ = fd;
}

std::string errno_text(int error)
{
    return std::generic_category().message(error);
}

bool write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

bool set_nonblocking(int fd, bool nonblocking)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) {
        return false;
    }
    const int wanted = nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic
    return wanted == flags || ::fcntl(fd, F_SETFL, wanted) == 0;
}

bool descriptor_open(int fd)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic
    return fd >= 0 && ::fcntl(fd, F_GETFD) >= 0;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace boxy::vm
