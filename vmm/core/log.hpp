// SPDX-License-Identifier: MIT
//
// The VMM's log: one line at a time to COM1, with a level and the CPU that
// wrote it ("boxy[cpu1] W: ..."). Lines from different CPUs never interleave
// (a spinlock around each whole line); a line is formatted into a bounded
// buffer first, so logging never allocates and never blocks on a missing
// UART (arch/x64 Uart16550 drops output instead).
#pragma once

#include <boxy/fixed_string.hpp>

#include <cstdint>
#include <string_view>

namespace boxy::vmm::log {

enum class Level : std::uint8_t { error = 0, warn = 1, info = 2, debug = 3 };

void init(Level max_level);
[[nodiscard]] bool enabled(Level level);

struct Hex {
    std::uint64_t value;
};

class Line {
public:
    Line(Level level, std::uint32_t cpu);
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;
    ~Line();

    Line& operator<<(std::string_view text);
    Line& operator<<(std::uint64_t value);
    Line& operator<<(Hex value);

private:
    FixedString<320> text_;
    bool enabled_;
};

// The CPU index for log prefixes when the caller has no per-CPU context.
inline constexpr std::uint32_t kNoCpu = 0xFFFFFFFF;

}  // namespace boxy::vmm::log
