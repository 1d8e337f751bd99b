// SPDX-License-Identifier: MIT
#include "console_hub.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <utility>

namespace boxy::vm {

ConsoleHub::ConsoleHub(std::string log_path, std::function<void()> wake, std::uint64_t rotate_size)
    : log_path_{std::move(log_path)}, wake_{std::move(wake)}, rotate_size_{rotate_size}
{
}

Result<void, std::string> ConsoleHub::open_log()
{
    const std::lock_guard lock{mutex_};
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    UniqueFd fd{::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660)};
    if (!fd) {
        return make_error(fmt::format("cannot open {}: {}", log_path_, errno_text(errno)));
    }
    struct stat info {};
    log_size_ = ::fstat(fd.get(), &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
    log_ = std::move(fd);
    return {};
}

void ConsoleHub::write(std::span<const std::uint8_t> bytes)
{
    if (bytes.empty()) {
        return;
    }
    bool wake = false;
    {
        const std::lock_guard lock{mutex_};
        write_log(bytes);
        for (auto& [fd, pending] : clients_) {
            if (bytes.size() >= kClientBufferLimit) {
                dropped_bytes_ += pending.size() + bytes.size() - kClientBufferLimit;
                pending.assign(bytes.end() - static_cast<std::ptrdiff_t>(kClientBufferLimit),
                               bytes.end());
            } else {
                if (pending.size() + bytes.size() > kClientBufferLimit) {
                    const std::size_t excess = pending.size() + bytes.size() - kClientBufferLimit;
                    pending.erase(0, excess);
                    dropped_bytes_ += excess;
                }
                pending.append(bytes.begin(), bytes.end());
            }
            wake = true;
        }
    }
    if (wake && wake_) {
        wake_();
    }
}

void ConsoleHub::write_log(std::span<const std::uint8_t> bytes)
{
    if (!log_) {
        return;
    }
    if (log_size_ >= rotate_size_) {
        rotate_log();
    }
    // char and uint8_t: byte types that may alias.
    if (!write_all(log_.get(), {reinterpret_cast<const char*>(bytes.data()), bytes.size()})) {
        ++log_errors_;  // e.g. a full disk: the clients still get it
        return;
    }
    log_size_ += bytes.size();
}

void ConsoleHub::rotate_log()
{
    const std::string old = log_path_ + ".1";
    if (::rename(log_path_.c_str(), old.c_str()) != 0) {
        ++log_errors_;
        log_size_ = 0;  // keep appending; try again after another rotate_size_
        return;
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    UniqueFd fd{::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660)};
    if (fd) {
        log_ = std::move(fd);
    } else {
        ++log_errors_;  // keep writing to the renamed file
    }
    log_size_ = 0;
}

void ConsoleHub::add_client(int fd)
{
    const std::lock_guard lock{mutex_};
    clients_[fd].clear();
}

void ConsoleHub::remove_client(int fd)
{
    const std::lock_guard lock{mutex_};
    clients_.erase(fd);
}

bool ConsoleHub::has_pending(int fd) const
{
    const std::lock_guard lock{mutex_};
    const auto it = clients_.find(fd);
    return it != clients_.end() && !it->second.empty();
}

bool ConsoleHub::flush(int fd)
{
    const std::lock_guard lock{mutex_};
    const auto it = clients_.find(fd);
    if (it == clients_.end()) {
        return false;
    }
    std::string& pending = it->second;
    while (!pending.empty()) {
        // MSG_NOSIGNAL: a client that went away is EPIPE, not SIGPIPE.
        const ssize_t sent =
            ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        pending.erase(0, static_cast<std::size_t>(sent));
    }
    return true;
}

std::uint64_t ConsoleHub::dropped_bytes() const
{
    const std::lock_guard lock{mutex_};
    return dropped_bytes_;
}

std::uint64_t ConsoleHub::log_errors() const
{
    const std::lock_guard lock{mutex_};
    return log_errors_;
}

}  // namespace boxy::vm
