// SPDX-License-Identifier: MIT
//
// Test doubles for the device models' connections: an interrupt line that
// records its level and rising edges, an interrupt sink that records
// injections (and can refuse them), and a console that collects output.
#pragma once

#include "console_output.hpp"
#include "interrupts.hpp"

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace boxy::vm::test {

class FakeLine final : public InterruptLine {
public:
    void set_level(bool asserted) override
    {
        if (asserted && !level) {
            ++rising_edges;
        }
        level = asserted;
    }
    bool level = false;
    int rising_edges = 0;
};

struct Injection {
    std::uint32_t vcpu;
    std::uint8_t vector;
    bool level;
    bool operator==(const Injection&) const = default;
};

class FakeSink final : public InterruptSink {
public:
    bool inject(std::uint32_t vcpu, std::uint8_t vector, bool level) override
    {
        const std::lock_guard lock{mutex};
        if (refuse) {
            return false;
        }
        injections.push_back({vcpu, vector, level});
        return true;
    }
    std::vector<Injection> take()
    {
        const std::lock_guard lock{mutex};
        return std::exchange(injections, {});
    }
    std::mutex mutex;
    std::vector<Injection> injections;
    bool refuse = false;
};

class FakeConsole final : public ConsoleOutput {
public:
    void write(std::span<const std::uint8_t> bytes) override
    {
        const std::lock_guard lock{mutex};
        text.append(bytes.begin(), bytes.end());
        ++writes;
    }
    std::string take()
    {
        const std::lock_guard lock{mutex};
        return std::exchange(text, {});
    }
    std::mutex mutex;
    std::string text;
    int writes = 0;
};

}  // namespace boxy::vm::test
