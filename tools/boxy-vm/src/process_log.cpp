// SPDX-License-Identifier: MIT
#include "process_log.hpp"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>

namespace boxy::vm {

Result<void, std::string> ProcessLog::open(const std::string& path)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    UniqueFd fd{::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660)};
    if (!fd) {
        return make_error(fmt::format("cannot open {}: {}", path, errno_text(errno)));
    }
    const std::lock_guard lock{mutex_};
    fd_ = std::move(fd);
    return {};
}

void ProcessLog::line(std::string_view message)
{
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    std::string text =
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z {}\n", utc.tm_year + 1900, utc.tm_mon + 1,
                    utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, message);
    const std::lock_guard lock{mutex_};
    if (fd_) {
        (void)write_all(fd_.get(), text);
    }
}

}  // namespace boxy::vm
