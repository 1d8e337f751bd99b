// SPDX-License-Identifier: MIT
//
// Channel 2 of the 8254 programmable interval timer (ports 0x42, 0x43) and
// the PC's system control port B (0x61) that gates it and reads its output:
// what Linux times its early TSC calibration against (quick_pit_calibrate,
// pit_calibrate_tsc in arch/x86/kernel/tsc.c), which runs before the FADT
// says the platform has no legacy timer. Without it, port 0x42 read as all
// ones and the calibration spun on it for 100,000 reads, each an exit
// (docs/benchmarks.md). Channels 0 and 1 are not there: service VMs take
// their timer interrupts from the local APIC (ACPI hardware-reduced), so a
// control word for them is counted and ignored, as are 0x40/0x41 (unclaimed).
//
// The counter runs at 1.193182 MHz of the host's monotonic clock while the
// gate (0x61 bit 0) is high. Modes (8254 data sheet): 0 and 4 count down
// once (OUT rises at terminal count in mode 0, pulses low in mode 4) and
// then wrap and go on counting; 2 and 3 reload (OUT low for the last count
// in mode 2, high for the first half in mode 3, which counts by two); 1
// and 5 are the gate-triggered forms of 0 and 4 and start on a rising
// gate. Counter latch, read-back (count and status), LSB / MSB / LSB-then-
// MSB access; BCD counting is recorded in the status but counts in binary.
// Not thread-safe: the caller serialises (machine.hpp's lock).
#pragma once

#include "io_bus.hpp"

#include <cstdint>
#include <functional>
#include <optional>

namespace boxy::vm {

class PitChannel2 final : public PortDevice {
public:
    static constexpr std::uint16_t kCounterPort = 0x42;
    static constexpr std::uint16_t kControlPort = 0x43;
    static constexpr std::uint16_t kPortB = 0x61;
    static constexpr std::uint64_t kFrequencyHz = 1'193'182;  // 14.31818 MHz / 12

    // Port B bits (IBM PC/AT technical reference; Linux's tsc.c uses 0, 1, 5).
    static constexpr std::uint8_t kGate = 0x01;
    static constexpr std::uint8_t kSpeaker = 0x02;
    static constexpr std::uint8_t kPortBWritable = 0x0F;  // gate, speaker, parity/IOCHK enables
    static constexpr std::uint8_t kRefresh = 0x10;        // toggles every 15.085 us
    static constexpr std::uint8_t kOut2 = 0x20;

    // `now_ns`: a monotonic clock in nanoseconds (tests pass a fake one).
    explicit PitChannel2(std::function<std::uint64_t()> now_ns);

    [[nodiscard]] std::uint32_t port_read(std::uint16_t port, std::uint32_t width) override;
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) override;

    [[nodiscard]] std::uint64_t ignored_accesses() const { return ignored_accesses_; }

private:
    enum class Access : std::uint8_t { latch = 0, lsb = 1, msb = 2, word = 3 };

    [[nodiscard]] std::uint64_t ticks_now() const;
    // Ticks counted since the count was loaded (or the gate triggered).
    [[nodiscard]] std::uint64_t elapsed() const;
    [[nodiscard]] std::uint16_t count() const;
    [[nodiscard]] bool out() const;
    [[nodiscard]] std::uint8_t status() const;
    [[nodiscard]] std::uint8_t read_counter();
    void write_counter(std::uint8_t value);
    void write_control(std::uint8_t value);
    void set_gate(bool high);
    void start();

    std::function<std::uint64_t()> now_ns_;
    std::uint8_t port_b_{0};
    std::uint8_t mode_{0};
    Access access_{Access::word};
    bool bcd_{false};
    std::uint32_t reload_{0x10000};  // the programmed count; 0 means 65536
    bool loaded_{false};             // a count was written (OUT and counting start)
    bool waiting_for_msb_{false};    // word access: the LSB came, the MSB not yet
    std::uint8_t pending_lsb_{0};
    bool read_msb_next_{false};  // word access: the next read is the MSB
    std::optional<std::uint16_t> latched_count_;
    bool latched_msb_next_{false};
    std::optional<std::uint8_t> latched_status_;
    // Counting: start_tick_ on the channel's clock; frozen_ while the gate
    // is low in modes that pause (0, 2, 3, 4).
    std::uint64_t start_tick_{0};
    std::optional<std::uint64_t> frozen_;
    bool triggered_{false};  // modes 1 and 5: a rising gate started the count
    std::uint64_t ignored_accesses_{0};
};

}  // namespace boxy::vm
