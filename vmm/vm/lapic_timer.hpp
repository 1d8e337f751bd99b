// SPDX-License-Identifier: MIT
//
// The local APIC timer's counting (SDM Vol. 3A, 11.5.4 "APIC Timer"), for
// the Lapic model (lapic.hpp), which owns the LVT timer entry and delivers
// the interrupt. The timer keeps one thing: the TSC of its next expiry, if
// armed. In TSC-deadline mode (11.5.4.1) that is IA32_TSC_DEADLINE itself;
// in one-shot and periodic mode it follows from the initial count, the
// divide configuration and a fixed number of TSC ticks per bus clock, so the
// current count is computed from the TSC instead of being counted down.
#pragma once

#include <cstdint>
#include <optional>

namespace boxy::vmm {

// LVT timer mode, bits 18:17 (11.5.4.1, Table 11-2).
enum class TimerMode : std::uint8_t {
    one_shot,
    periodic,
    tsc_deadline,
};

class LapicTimer {
public:
    // tsc_per_bus_tick 0: one-shot and periodic modes unsupported (inert).
    explicit LapicTimer(std::uint32_t tsc_per_bus_tick) : tsc_per_bus_tick_{tsc_per_bus_tick} {}

    // Power-up values (11.4.7.1): counts and divide configuration 0.
    void reset();
    void disarm() { expiry_.reset(); }
    [[nodiscard]] std::optional<std::uint64_t> expiry() const { return expiry_; }

    // TSC-deadline mode: the deadline MSR value; 0 disarms.
    [[nodiscard]] std::uint64_t deadline() const { return expiry_.value_or(0); }
    void set_deadline(std::uint64_t deadline);

    // One-shot and periodic mode: writing the initial count (re)starts the
    // count at `now`, 0 stops it. The divide configuration in force then
    // applies until the next start.
    [[nodiscard]] std::uint32_t initial_count() const { return initial_count_; }
    void start(std::uint32_t count, std::uint64_t now);
    [[nodiscard]] std::uint32_t divide_config() const { return divide_config_; }
    void set_divide_config(std::uint32_t value) { divide_config_ = value; }
    [[nodiscard]] std::uint32_t current_count(TimerMode mode, std::uint64_t now) const;

    // Whether the timer expired at or before `now`. An expiry disarms the
    // TSC-deadline and one-shot modes; periodic mode reloads, once for all
    // periods that passed (they raise one interrupt).
    [[nodiscard]] bool expire(TimerMode mode, std::uint64_t now);

private:
    std::uint32_t tsc_per_bus_tick_;
    std::uint32_t initial_count_{0};
    std::uint32_t divide_config_{0};
    std::uint64_t start_{0};   // TSC of the initial-count write
    std::uint64_t period_{0};  // TSC ticks per count, latched with it
    std::optional<std::uint64_t> expiry_;
};

}  // namespace boxy::vmm
