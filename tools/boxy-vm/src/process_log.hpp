// SPDX-License-Identifier: MIT
//
// DIR/boxy-vm.log: the process's own log (not the guest's console), one
// timestamped line per event, appended and written at once. Thread-safe.
#pragma once

#include "posix.hpp"

#include <boxy/result.hpp>

#include <mutex>
#include <string>
#include <string_view>

namespace boxy::vm {

class ProcessLog {
public:
    // Opens (creates, mode 0660) the log; the error names the file.
    [[nodiscard]] Result<void, std::string> open(const std::string& path);

    // "2026-01-02T03:04:05Z message". Before open(), or when writing fails,
    // the line is lost (the process must not stop over its log).
    void line(std::string_view message);

private:
    std::mutex mutex_;
    UniqueFd fd_;
};

}  // namespace boxy::vm
