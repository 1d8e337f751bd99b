// SPDX-License-Identifier: MIT
#include "rtc.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>

using boxy::vm::CmosRtc;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// Nanoseconds since the epoch of a UTC date and time.
std::int64_t utc_ns(int year, unsigned month, unsigned day, int hours, int minutes, int seconds)
{
    using namespace std::chrono;
    const sys_days date{std::chrono::year{year} / std::chrono::month{month} /
                        std::chrono::day{day}};
    const auto time = sys_seconds{date} + std::chrono::hours{hours} +
                      std::chrono::minutes{minutes} + std::chrono::seconds{seconds};
    return time.time_since_epoch().count() * kSecond;
}

struct Rtc {
    // Saturday 2026-11-21 13:45:07.5 UTC.
    std::int64_t now = utc_ns(2026, 11, 21, 13, 45, 7) + (kSecond / 2);
    CmosRtc rtc{[this] { return now; }};

    std::uint8_t read(std::uint8_t index)
    {
        rtc.port_write(CmosRtc::kIndexPort, 1, index);
        return static_cast<std::uint8_t>(rtc.port_read(CmosRtc::kDataPort, 1));
    }
    void write(std::uint8_t index, std::uint8_t value)
    {
        rtc.port_write(CmosRtc::kIndexPort, 1, index);
        rtc.port_write(CmosRtc::kDataPort, 1, value);
    }

    // The time registers as Linux's mc146818_get_time reads them, after it
    // waited for update-in-progress to clear; how many reads of register
    // A that took goes to `uip_reads`.
    struct Time {
        std::uint8_t seconds, minutes, hours, day, month, year, century;
    };
    Time read_time_like_linux(int& uip_reads)
    {
        uip_reads = 0;
        for (int attempt = 0; attempt < 10'000; ++attempt) {
            const std::uint8_t seconds = read(CmosRtc::kSeconds);
            ++uip_reads;
            if ((read(CmosRtc::kRegisterA) & CmosRtc::kUpdateInProgress) != 0) {
                now += 100'000;  // udelay(100)
                continue;
            }
            if (seconds != read(CmosRtc::kSeconds)) {
                continue;
            }
            return {seconds,
                    read(CmosRtc::kMinutes),
                    read(CmosRtc::kHours),
                    read(CmosRtc::kDayOfMonth),
                    read(CmosRtc::kMonth),
                    read(CmosRtc::kYear),
                    read(CmosRtc::kCentury)};
        }
        FAIL("update in progress never cleared");
        return {};
    }
};

}  // namespace

TEST_CASE("rtc: the host's UTC time in BCD, 24-hour, as a PC's firmware leaves it", "[rtc]")
{
    Rtc r;
    CHECK(r.read(CmosRtc::kSeconds) == 0x07);
    CHECK(r.read(CmosRtc::kMinutes) == 0x45);
    CHECK(r.read(CmosRtc::kHours) == 0x13);
    CHECK(r.read(CmosRtc::kDayOfWeek) == 7);  // Saturday; Sunday is 1
    CHECK(r.read(CmosRtc::kDayOfMonth) == 0x21);
    CHECK(r.read(CmosRtc::kMonth) == 0x11);
    CHECK(r.read(CmosRtc::kYear) == 0x26);
    CHECK(r.read(CmosRtc::kCentury) == 0x20);
    CHECK(r.read(CmosRtc::kRegisterA) == 0x26);
    CHECK(r.read(CmosRtc::kRegisterB) == CmosRtc::kHours24);
    CHECK(r.read(CmosRtc::kRegisterD) == CmosRtc::kValidRam);

    r.now += 53 * kSecond;  // 13:46:00.5
    CHECK(r.read(CmosRtc::kSeconds) == 0x00);
    CHECK(r.read(CmosRtc::kMinutes) == 0x46);
}

TEST_CASE("rtc: binary data mode and the 12-hour format", "[rtc]")
{
    Rtc r;
    r.write(CmosRtc::kRegisterB, CmosRtc::kBinary);  // binary, 12-hour
    CHECK(r.read(CmosRtc::kMinutes) == 45);
    CHECK(r.read(CmosRtc::kHours) == (1 | CmosRtc::kPm));
    CHECK(r.read(CmosRtc::kYear) == 26);
    CHECK(r.read(CmosRtc::kCentury) == 20);

    r.now = utc_ns(2026, 11, 21, 0, 30, 0);
    CHECK(r.read(CmosRtc::kHours) == 12);  // 12 AM
    r.now = utc_ns(2026, 11, 21, 12, 30, 0);
    CHECK(r.read(CmosRtc::kHours) == (12 | CmosRtc::kPm));

    r.write(CmosRtc::kRegisterB, 0);  // BCD, 12-hour
    r.now = utc_ns(2026, 11, 21, 23, 59, 59);
    CHECK(r.read(CmosRtc::kHours) == (0x11 | CmosRtc::kPm));
}

TEST_CASE("rtc: update in progress only in the last 244 us of a second", "[rtc]")
{
    Rtc r;
    CHECK((r.read(CmosRtc::kRegisterA) & CmosRtc::kUpdateInProgress) == 0);
    r.now = utc_ns(2026, 11, 21, 13, 45, 7) + kSecond - CmosRtc::kUpdatePendingNs - 1;
    CHECK((r.read(CmosRtc::kRegisterA) & CmosRtc::kUpdateInProgress) == 0);
    r.now += 1;
    CHECK((r.read(CmosRtc::kRegisterA) & CmosRtc::kUpdateInProgress) != 0);
    CHECK(r.read(CmosRtc::kSeconds) == 0x07);
    r.now += CmosRtc::kUpdatePendingNs;
    CHECK((r.read(CmosRtc::kRegisterA) & CmosRtc::kUpdateInProgress) == 0);
    CHECK(r.read(CmosRtc::kSeconds) == 0x08);

    // Linux's read, started inside the window, waits it out in one or two
    // polls: the second a whole-second poll loop took before.
    r.now = utc_ns(2026, 11, 21, 13, 45, 7) + kSecond - 100'000;
    int polls = 0;
    const auto time = r.read_time_like_linux(polls);
    CHECK(polls <= 2);
    CHECK(time.seconds == 0x08);
    CHECK(time.century == 0x20);
}

TEST_CASE("rtc: the guest sets the clock as Linux's mc146818_set_time does", "[rtc]")
{
    Rtc r;
    const std::uint8_t control = r.read(CmosRtc::kRegisterB);
    r.write(CmosRtc::kRegisterB, control | CmosRtc::kSet);
    const std::uint8_t divider = r.read(CmosRtc::kRegisterA);
    r.write(CmosRtc::kRegisterA, divider | 0x60);  // RTC_DIV_RESET2
    r.write(CmosRtc::kYear, 0x30);
    r.write(CmosRtc::kMonth, 0x01);
    r.write(CmosRtc::kDayOfMonth, 0x02);
    r.write(CmosRtc::kHours, 0x03);
    r.write(CmosRtc::kMinutes, 0x04);
    r.write(CmosRtc::kSeconds, 0x05);
    r.write(CmosRtc::kCentury, 0x20);
    // Held: the registers keep what was written while time passes.
    r.now += 3 * kSecond;
    CHECK(r.read(CmosRtc::kSeconds) == 0x05);
    CHECK((r.read(CmosRtc::kRegisterA) & CmosRtc::kUpdateInProgress) == 0);
    r.write(CmosRtc::kRegisterB, control);
    r.write(CmosRtc::kRegisterA, divider);

    CHECK(r.read(CmosRtc::kSeconds) == 0x05);
    CHECK(r.read(CmosRtc::kYear) == 0x30);
    CHECK(r.rtc.offset_ns() == utc_ns(2030, 1, 2, 3, 4, 5) - r.now);
    r.now += kSecond - 1;
    CHECK(r.read(CmosRtc::kSeconds) == 0x05);
    r.now += 1;  // the first update comes a second after SET cleared
    CHECK(r.read(CmosRtc::kSeconds) == 0x06);
    CHECK(r.read(CmosRtc::kDayOfWeek) == 4);  // 2030-01-02 is a Wednesday
}

TEST_CASE("rtc: a write to a running clock moves it and keeps its phase", "[rtc]")
{
    Rtc r;
    r.write(CmosRtc::kMinutes, 0x50);
    CHECK(r.read(CmosRtc::kMinutes) == 0x50);
    CHECK(r.read(CmosRtc::kSeconds) == 0x07);
    r.now += kSecond / 2;  // 13:50:08.0: the update stays on the host's second
    CHECK(r.read(CmosRtc::kSeconds) == 0x08);
    CHECK(r.rtc.offset_ns() == 5 * 60 * kSecond);
}

TEST_CASE("rtc: whatever the guest writes, the clock stays a valid time from 1970 to 2199", "[rtc]")
{
    Rtc r;
    const auto set_time = [&r](std::uint8_t century, std::uint8_t year, std::uint8_t month,
                               std::uint8_t day, std::uint8_t hours) {
        r.write(CmosRtc::kRegisterB, CmosRtc::kHours24 | CmosRtc::kSet);
        r.write(CmosRtc::kCentury, century);
        r.write(CmosRtc::kYear, year);
        r.write(CmosRtc::kMonth, month);
        r.write(CmosRtc::kDayOfMonth, day);
        r.write(CmosRtc::kHours, hours);
        r.write(CmosRtc::kMinutes, 0xFF);
        r.write(CmosRtc::kSeconds, 0x00);
        r.write(CmosRtc::kRegisterB, CmosRtc::kHours24);
    };
    set_time(0x99, 0x99, 0x99, 0x45, 0xFF);  // 9999, month 99, day 45, hour 165
    CHECK(r.read(CmosRtc::kCentury) == 0x21);
    CHECK(r.read(CmosRtc::kYear) == 0x99);
    CHECK(r.read(CmosRtc::kMonth) == 0x12);
    CHECK(r.read(CmosRtc::kDayOfMonth) == 0x31);
    CHECK(r.read(CmosRtc::kHours) == 0x23);
    CHECK(r.read(CmosRtc::kMinutes) == 0x59);

    set_time(0x19, 0x69, 0x02, 0x30, 0x00);  // 1969: before Unix time
    CHECK(r.read(CmosRtc::kCentury) == 0x19);
    CHECK(r.read(CmosRtc::kYear) == 0x70);
    CHECK(r.read(CmosRtc::kMonth) == 0x02);
    CHECK(r.read(CmosRtc::kDayOfMonth) == 0x28);  // February 1970 has 28 days

    set_time(0x00, 0x24, 0x02, 0x30, 0x00);  // no century: Linux's rule, 2024
    CHECK(r.read(CmosRtc::kCentury) == 0x20);
    CHECK(r.read(CmosRtc::kDayOfMonth) == 0x29);  // a leap year
    CHECK(r.rtc.offset_ns() < 0);
}

TEST_CASE("rtc: register C's update flag, read-only C and D, CMOS RAM and bad accesses", "[rtc]")
{
    Rtc r;
    CHECK(r.read(CmosRtc::kRegisterC) == 0);
    r.now += kSecond;
    CHECK(r.read(CmosRtc::kRegisterC) == CmosRtc::kUpdateEnded);
    CHECK(r.read(CmosRtc::kRegisterC) == 0);  // reading cleared it

    r.write(CmosRtc::kRegisterC, 0xFF);
    r.write(CmosRtc::kRegisterD, 0x00);
    CHECK(r.read(CmosRtc::kRegisterD) == CmosRtc::kValidRam);
    CHECK(r.rtc.ignored_accesses() == 2);

    r.write(0x0E, 0xA5);
    r.write(0x7F, 0x5A);
    CHECK(r.read(0x0E) == 0xA5);
    CHECK(r.read(0x7F) == 0x5A);
    CHECK(r.read(0x40) == 0x00);

    // Bit 7 of the index masks NMI and is not part of the register number.
    r.rtc.port_write(CmosRtc::kIndexPort, 1, 0x80 | 0x0E);
    CHECK(r.rtc.nmi_masked());
    CHECK(r.rtc.port_read(CmosRtc::kDataPort, 1) == 0xA5);

    CHECK(r.rtc.port_read(CmosRtc::kIndexPort, 1) == 0xFF);  // write-only
    CHECK(r.rtc.port_read(CmosRtc::kDataPort, 2) == 0xFFFF);
    r.rtc.port_write(CmosRtc::kDataPort, 4, 0);
    CHECK(r.read(0x0E) == 0xA5);
    CHECK(r.rtc.ignored_accesses() == 5);
}
