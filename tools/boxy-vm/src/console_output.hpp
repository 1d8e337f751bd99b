// SPDX-License-Identifier: MIT
//
// Where guest console output goes, as an interface so that device models
// are tested without files or sockets.
#pragma once

#include <cstdint>
#include <span>

namespace boxy::vm {

// The console log and the connected console clients (console_hub.hpp):
// the UART and virtio-console write to it. Thread-safe.
class ConsoleOutput {
public:
    ConsoleOutput() = default;
    ConsoleOutput(const ConsoleOutput&) = delete;
    ConsoleOutput& operator=(const ConsoleOutput&) = delete;
    ConsoleOutput(ConsoleOutput&&) = delete;
    ConsoleOutput& operator=(ConsoleOutput&&) = delete;
    virtual ~ConsoleOutput() = default;

    virtual void write(std::span<const std::uint8_t> bytes) = 0;
};

}  // namespace boxy::vm
