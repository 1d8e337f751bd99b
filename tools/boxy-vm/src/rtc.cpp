// SPDX-License-Identifier: MIT
#include "rtc.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace boxy::vm {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
// Register A's reset value: the 32.768 kHz time base, 1024 Hz rate (what a
// PC's firmware leaves); register B's: 24-hour, BCD, no interrupts.
constexpr std::uint8_t kRegisterAReset = 0x26;
constexpr std::uint8_t kRegisterBReset = CmosRtc::kHours24;
// The years a guest can set: the 64-bit nanosecond offset stays in range
// (2^63 ns is 292 years from 1970) and 1970 is where Unix time starts.
constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2199;
constexpr int kYearsPerCentury = 100;
constexpr unsigned kHoursPerHalfDay = 12;

std::int64_t floor_div(std::int64_t value, std::int64_t divisor)
{
    const std::int64_t quotient = value / divisor;
    return (value % divisor < 0) ? quotient - 1 : quotient;
}

// A register's value in register B's data mode: binary, or two BCD digits.
class Format {
public:
    explicit Format(std::uint8_t register_b) : register_b_{register_b} {}

    [[nodiscard]] std::uint8_t encode(unsigned value) const
    {
        value %= 100;
        if (binary()) {
            return static_cast<std::uint8_t>(value);
        }
        return static_cast<std::uint8_t>(((value / 10) << 4) | (value % 10));
    }

    [[nodiscard]] unsigned decode(std::uint8_t raw) const
    {
        return binary() ? raw : ((raw >> 4) * 10U) + (raw & 0x0FU);
    }

    [[nodiscard]] std::uint8_t encode_hours(unsigned hours) const
    {
        if (hours24()) {
            return encode(hours);
        }
        const unsigned twelve =
            (hours % kHoursPerHalfDay == 0) ? kHoursPerHalfDay : hours % kHoursPerHalfDay;
        return static_cast<std::uint8_t>(encode(twelve) |
                                         (hours >= kHoursPerHalfDay ? CmosRtc::kPm : 0));
    }

    [[nodiscard]] unsigned decode_hours(std::uint8_t raw) const
    {
        if (hours24()) {
            return decode(raw);
        }
        const unsigned twelve = decode(raw & static_cast<std::uint8_t>(~CmosRtc::kPm));
        return (twelve % kHoursPerHalfDay) + ((raw & CmosRtc::kPm) != 0 ? kHoursPerHalfDay : 0);
    }

private:
    [[nodiscard]] bool binary() const { return (register_b_ & CmosRtc::kBinary) != 0; }
    [[nodiscard]] bool hours24() const { return (register_b_ & CmosRtc::kHours24) != 0; }

    std::uint8_t register_b_;
};

bool is_time_register(std::uint8_t index)
{
    switch (index) {
        case CmosRtc::kSeconds:
        case CmosRtc::kMinutes:
        case CmosRtc::kHours:
        case CmosRtc::kDayOfWeek:
        case CmosRtc::kDayOfMonth:
        case CmosRtc::kMonth:
        case CmosRtc::kYear:
        case CmosRtc::kCentury: return true;
        default: return false;
    }
}

}  // namespace

CmosRtc::CmosRtc(std::function<std::int64_t()> realtime_ns)
    : realtime_ns_{std::move(realtime_ns)},
      last_c_read_second_{floor_div(std::max<std::int64_t>(realtime_ns_(), 0), kNsPerSecond)}
{
    ram_[kRegisterA] = kRegisterAReset;
    ram_[kRegisterB] = kRegisterBReset;
    ram_[kRegisterD] = kValidRam;
}

std::int64_t CmosRtc::guest_now_ns() const
{
    return std::max<std::int64_t>(realtime_ns_() + offset_ns_, 0);
}

void CmosRtc::store_time(std::int64_t seconds)
{
    using namespace std::chrono;
    const sys_seconds time{std::chrono::seconds{seconds}};
    const sys_days day = floor<days>(time);
    const year_month_day date{day};
    const hh_mm_ss clock{time - day};
    const Format format{ram_[kRegisterB]};
    const int year = static_cast<int>(date.year());

    ram_[kSeconds] = format.encode(static_cast<unsigned>(clock.seconds().count()));
    ram_[kMinutes] = format.encode(static_cast<unsigned>(clock.minutes().count()));
    ram_[kHours] = format.encode_hours(static_cast<unsigned>(clock.hours().count()));
    ram_[kDayOfWeek] = format.encode(weekday{day}.c_encoding() + 1);  // Sunday is 1
    ram_[kDayOfMonth] = format.encode(static_cast<unsigned>(date.day()));
    ram_[kMonth] = format.encode(static_cast<unsigned>(date.month()));
    ram_[kYear] = format.encode(static_cast<unsigned>(year % kYearsPerCentury));
    ram_[kCentury] = format.encode(static_cast<unsigned>(year / kYearsPerCentury));
}

std::int64_t CmosRtc::held_time() const
{
    using namespace std::chrono;
    const Format format{ram_[kRegisterB]};
    // Whatever the guest wrote is clamped into range rather than refused:
    // the chip would count on from garbage, and the clock must stay sane.
    const unsigned yy = std::min(format.decode(ram_[kYear]), 99U);
    const unsigned century = format.decode(ram_[kCentury]);
    int full_year = 0;
    if (century >= kFirstYear / kYearsPerCentury && century < kYearsPerCentury) {
        full_year = static_cast<int>((century * kYearsPerCentury) + yy);
    } else {
        // No century set: Linux's own rule (mc146818_get_time).
        full_year = static_cast<int>(yy) + (yy < 70 ? 2000 : 1900);
    }
    full_year = std::clamp(full_year, kFirstYear, kLastYear);
    const auto month_number = std::clamp(format.decode(ram_[kMonth]), 1U, 12U);
    const year_month ym{std::chrono::year{full_year}, month{month_number}};
    const unsigned last_day = static_cast<unsigned>(year_month_day_last{ym / last}.day());
    const auto day_number = std::clamp(format.decode(ram_[kDayOfMonth]), 1U, last_day);
    const sys_days date{ym / day{day_number}};

    const auto seconds_of_day =
        std::chrono::hours{std::min(format.decode_hours(ram_[kHours]), 23U)} +
        std::chrono::minutes{std::min(format.decode(ram_[kMinutes]), 59U)} +
        std::chrono::seconds{std::min(format.decode(ram_[kSeconds]), 59U)};
    return (sys_seconds{date} + seconds_of_day).time_since_epoch().count();
}

void CmosRtc::run_from_registers()
{
    offset_ns_ = (held_time() * kNsPerSecond) - realtime_ns_();
}

std::uint8_t CmosRtc::read_register(std::uint8_t index)
{
    const std::int64_t now = guest_now_ns();
    const std::int64_t second = floor_div(now, kNsPerSecond);
    switch (index) {
        case kRegisterA: {
            const bool updating =
                !holding() && now - (second * kNsPerSecond) >= kNsPerSecond - kUpdatePendingNs;
            return static_cast<std::uint8_t>(ram_[kRegisterA] | (updating ? kUpdateInProgress : 0));
        }
        case kRegisterC: {
            // Reading C clears its flags (data sheet, "Register C").
            const bool updated = !holding() && second != last_c_read_second_;
            last_c_read_second_ = second;
            return updated ? kUpdateEnded : 0;
        }
        default: break;
    }
    if (is_time_register(index) && !holding()) {
        store_time(second);
    }
    return ram_[index];
}

void CmosRtc::write_register_b(std::uint8_t value)
{
    const bool was_holding = holding();
    const std::int64_t second = floor_div(guest_now_ns(), kNsPerSecond);
    // Setting SET also clears the update-ended interrupt enable (data sheet).
    ram_[kRegisterB] =
        (value & kSet) != 0 ? static_cast<std::uint8_t>(value & ~kUpdateInterruptEnable) : value;
    if (!was_holding && holding()) {
        store_time(second);  // in the new format, ready for the guest's writes
    } else if (was_holding && !holding()) {
        run_from_registers();
    }
}

void CmosRtc::write_register(std::uint8_t index, std::uint8_t value)
{
    switch (index) {
        case kRegisterA: ram_[kRegisterA] = value & ~kUpdateInProgress; return;
        case kRegisterB: write_register_b(value); return;
        case kRegisterC:
        case kRegisterD: ++ignored_accesses_; return;  // read-only
        default: break;
    }
    if (!is_time_register(index) || holding()) {
        ram_[index] = value;
        return;
    }
    // A running clock takes the write and counts on from it, keeping its
    // phase within the second.
    const std::int64_t second = floor_div(guest_now_ns(), kNsPerSecond);
    store_time(second);
    ram_[index] = value;
    offset_ns_ += (held_time() - second) * kNsPerSecond;
}

std::uint32_t CmosRtc::port_read(std::uint16_t port, std::uint32_t width)
{
    if (width != 1 || port != kDataPort) {
        ++ignored_accesses_;  // the index port is write-only on the PC/AT
        return static_cast<std::uint32_t>(all_ones(width));
    }
    return read_register(index_);
}

void CmosRtc::port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value)
{
    if (width != 1) {
        ++ignored_accesses_;
        return;
    }
    const auto byte = static_cast<std::uint8_t>(value);
    if (port == kIndexPort) {
        index_ = byte & (kRegisterCount - 1);
        nmi_masked_ = (byte & 0x80) != 0;
    } else {
        write_register(index_, byte);
    }
}

}  // namespace boxy::vm
