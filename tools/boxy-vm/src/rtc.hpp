// SPDX-License-Identifier: MIT
//
// The PC's CMOS real-time clock, a Motorola MC146818A behind ports 0x70
// (index, bit 7 masks NMI) and 0x71 (data): the wall clock a service VM's
// Linux reads once at boot (read_persistent_clock64 -> mach_get_cmos_time
// in arch/x86/kernel/rtc.c), whatever the FADT says. Without it every
// register read as all ones, the update-in-progress bit never cleared,
// mc146818_avoid_UIP polled it for a whole second (40,000 exits) and the
// guest's clock started in 1970 (docs/benchmarks.md).
//
// The time of day counts on the host's CLOCK_REALTIME (UTC) plus an offset
// the guest sets by writing the clock: with SET (register B bit 7) the
// registers hold still and take the guest's writes, and clearing SET starts
// the clock from them, the next update one second later (data sheet,
// "Update cycle"). A write to a time register without SET moves the clock
// the same way. Registers follow register B's data mode (BCD or binary)
// and 12/24-hour format; the century is register 0x32, which the FADT's
// CENTURY field names. Update-in-progress (register A bit 7) is set for
// the last 244 us of each second, as on the chip, so a reader that waits
// for it waits at most that long.
//
// Not modelled: interrupts (IRQ 8 is not wired; the FADT says there is no
// CMOS RTC, so Linux binds no rtc-cmos driver and never asks for one),
// alarms and the periodic rate (their registers only store), and the
// divider's reset and test modes (the clock always runs). Register C
// reports the update-ended flag for a guest that polls it. The 114 bytes
// of CMOS RAM (0x0E-0x7F) store what the guest writes, zero at start, and
// are not kept across runs.
//
// Not thread-safe: the caller serialises (machine.hpp's lock).
#pragma once

#include "acpi.hpp"
#include "io_bus.hpp"

#include <array>
#include <cstdint>
#include <functional>

namespace boxy::vm {

class CmosRtc final : public PortDevice {
public:
    static constexpr std::uint16_t kIndexPort = 0x70;
    static constexpr std::uint16_t kDataPort = 0x71;

    // Register numbers (MC146818A data sheet, "Address Map").
    static constexpr std::uint8_t kSeconds = 0x00;
    static constexpr std::uint8_t kMinutes = 0x02;
    static constexpr std::uint8_t kHours = 0x04;
    static constexpr std::uint8_t kDayOfWeek = 0x06;
    static constexpr std::uint8_t kDayOfMonth = 0x07;
    static constexpr std::uint8_t kMonth = 0x08;
    static constexpr std::uint8_t kYear = 0x09;
    static constexpr std::uint8_t kRegisterA = 0x0A;
    static constexpr std::uint8_t kRegisterB = 0x0B;
    static constexpr std::uint8_t kRegisterC = 0x0C;
    static constexpr std::uint8_t kRegisterD = 0x0D;
    static constexpr std::uint8_t kCentury = kRtcCenturyRegister;  // PC/AT convention

    // Register bits.
    static constexpr std::uint8_t kUpdateInProgress = 0x80;       // A
    static constexpr std::uint8_t kSet = 0x80;                    // B: hold the clock for writes
    static constexpr std::uint8_t kUpdateInterruptEnable = 0x10;  // B
    static constexpr std::uint8_t kBinary = 0x04;                 // B: data mode, else BCD
    static constexpr std::uint8_t kHours24 = 0x02;                // B: else 12-hour
    static constexpr std::uint8_t kUpdateEnded = 0x10;            // C
    static constexpr std::uint8_t kValidRam = 0x80;               // D
    static constexpr std::uint8_t kPm = 0x80;  // hours register in 12-hour format

    // How long before each second's update the update-in-progress bit is
    // set (data sheet, "Update-In-Progress bit": t_BUC = 244 us).
    static constexpr std::int64_t kUpdatePendingNs = 244'000;

    // `realtime_ns`: nanoseconds since the Unix epoch, UTC (tests pass a
    // fake clock).
    explicit CmosRtc(std::function<std::int64_t()> realtime_ns);

    [[nodiscard]] std::uint32_t port_read(std::uint16_t port, std::uint32_t width) override;
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) override;

    // Bit 7 of the last index written: the guest asked to mask NMI. Kept
    // for completeness; a service VM has no NMI source to mask.
    [[nodiscard]] bool nmi_masked() const { return nmi_masked_; }
    [[nodiscard]] std::uint64_t ignored_accesses() const { return ignored_accesses_; }
    // The guest's clock minus the host's, in nanoseconds.
    [[nodiscard]] std::int64_t offset_ns() const { return offset_ns_; }

private:
    static constexpr std::size_t kRegisterCount = 128;

    [[nodiscard]] std::int64_t guest_now_ns() const;
    [[nodiscard]] bool holding() const { return (ram_[kRegisterB] & kSet) != 0; }
    [[nodiscard]] std::uint8_t read_register(std::uint8_t index);
    void write_register(std::uint8_t index, std::uint8_t value);
    void write_register_b(std::uint8_t value);
    // The time registers (0, 2, 4, 6-9 and the century) from `seconds`
    // since the epoch, in register B's format.
    void store_time(std::int64_t seconds);
    // The time the registers hold, in seconds since the epoch.
    [[nodiscard]] std::int64_t held_time() const;
    // Starts the clock from the registers, its next update a second away.
    void run_from_registers();

    std::function<std::int64_t()> realtime_ns_;
    std::array<std::uint8_t, kRegisterCount> ram_{};
    std::int64_t offset_ns_{0};
    std::uint8_t index_{0};
    bool nmi_masked_{false};
    std::int64_t last_c_read_second_{0};  // for register C's update-ended flag
    std::uint64_t ignored_accesses_{0};
};

}  // namespace boxy::vm
