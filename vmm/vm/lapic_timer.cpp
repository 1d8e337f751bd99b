// SPDX-License-Identifier: MIT
#include "vm/lapic_timer.hpp"

#include <limits>

namespace boxy::vmm {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// Far-future expiries saturate instead of wrapping around to the past.
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b)
{
    return a > kMax - b ? kMax : a + b;
}

std::uint64_t saturating_multiply(std::uint64_t a, std::uint64_t b)
{
    return b != 0 && a > kMax / b ? kMax : a * b;
}

// The divide configuration register (11.5.4, Figure 11-10): bits 3 and 1:0
// give 111b for divide by 1, otherwise divide by 2^(value+1).
std::uint64_t divisor(std::uint32_t divide_config)
{
    const std::uint32_t code = (divide_config & 3) | ((divide_config >> 1) & 4);
    return code == 7 ? 1 : std::uint64_t{2} << code;
}

}  // namespace

void LapicTimer::reset()
{
    initial_count_ = 0;
    divide_config_ = 0;
    start_ = 0;
    period_ = 0;
    expiry_.reset();
}

void LapicTimer::set_deadline(std::uint64_t deadline)
{
    if (deadline == 0) {
        expiry_.reset();
    } else {
        expiry_ = deadline;
    }
}

void LapicTimer::start(std::uint32_t count, std::uint64_t now)
{
    initial_count_ = count;
    expiry_.reset();
    if (count == 0 || tsc_per_bus_tick_ == 0) {
        return;
    }
    start_ = now;
    period_ = divisor(divide_config_) * tsc_per_bus_tick_;
    expiry_ = saturating_add(now, saturating_multiply(count, period_));
}

// The count runs from the initial count down to 0 (one-shot: then stays;
// periodic: reloads), one per period (11.5.4). TSC-deadline mode reads 0
// (11.5.4.1).
std::uint32_t LapicTimer::current_count(TimerMode mode, std::uint64_t now) const
{
    if (mode == TimerMode::tsc_deadline || !expiry_ || period_ == 0 || initial_count_ == 0 ||
        now < start_) {
        return 0;
    }
    const std::uint64_t ticks = (now - start_) / period_;
    if (mode == TimerMode::periodic) {
        return static_cast<std::uint32_t>(initial_count_ - ticks % initial_count_);
    }
    return ticks >= initial_count_ ? 0 : static_cast<std::uint32_t>(initial_count_ - ticks);
}

bool LapicTimer::expire(TimerMode mode, std::uint64_t now)
{
    if (!expiry_ || *expiry_ > now) {
        return false;
    }
    const std::uint64_t full_period = saturating_multiply(initial_count_, period_);
    if (mode == TimerMode::periodic && full_period != 0) {
        const std::uint64_t missed = (now - *expiry_) / full_period + 1;
        expiry_ = saturating_add(*expiry_, saturating_multiply(missed, full_period));
    } else {
        expiry_.reset();
    }
    return true;
}

}  // namespace boxy::vmm
