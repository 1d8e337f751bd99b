// SPDX-License-Identifier: MIT
//
// Small POSIX helpers: an owned file descriptor, complete writes, errno
// text, and clocks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace boxy::vm {

// An owned file descriptor, closed on destruction.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_{fd} {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& other) noexcept : fd_{other.release()} {}
    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    ~UniqueFd() { reset(); }

    [[nodiscard]] int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release()
    {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1);

private:
    int fd_{-1};
};

[[nodiscard]] std::string errno_text(int error);

// Writes all of `data`, retrying short writes and EINTR; false with errno
// set on failure.
[[nodiscard]] bool write_all(int fd, std::string_view data);

// Sets or clears O_NONBLOCK; false with errno set on failure.
[[nodiscard]] bool set_nonblocking(int fd, bool nonblocking = true);

// Whether `fd` is an open file descriptor.
[[nodiscard]] bool descriptor_open(int fd);

// Unix seconds (wall clock).
[[nodiscard]] std::int64_t unix_now();

}  // namespace boxy::vm
