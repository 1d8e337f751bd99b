// SPDX-License-Identifier: MIT
//
// The I/O APIC of a service VM: the register interface of the Intel 82093AA
// ("82093AA I/O Advanced Programmable Interrupt Controller (IOAPIC)"
// datasheet, 3.0 "Register Description"), 24 pins, with the EOI register of
// the later I/O(x)APICs (version 0x20, as in the ICH/PCH datasheets).
//
// Devices drive pins with set_level(); the model delivers fixed interrupts
// to vCPUs through an InterruptSink:
//   - edge-triggered pins on a rising edge;
//   - level-triggered pins while asserted, once per remote-IRR cycle: the
//     delivery sets remote IRR (and asks for BOXY_INJECT_LEVEL), the
//     guest's EOI for the vector (an EOI exit, or a write of the EOI
//     register) clears it, and a pin still asserted is delivered again;
//   - masked pins are not delivered; a level pin unmasked while asserted
//     is delivered then, an edge that came while masked is lost (3.2.4).
// Destinations: physical mode names an APIC ID (= vCPU index), 0xFF all
// vCPUs; logical mode is a bitmap of vCPUs (bit i: APIC ID i), which is
// the xAPIC flat model and, for the 8 bits an I/O APIC holds, x2APIC
// cluster 0. Lowest priority goes to the first vCPU of the set. SMI, NMI,
// INIT and ExtINT cannot be injected through the ABI: counted, dropped.
// The pin polarity bit is stored but not applied: devices drive "asserted".
//
// Everything the guest writes is bounded: unknown offsets, widths and
// register indices are counted and ignored. Not thread-safe: the caller
// serialises (machine.hpp's lock).
#pragma once

#include "acpi.hpp"
#include "interrupts.hpp"
#include "io_bus.hpp"

#include <array>
#include <cstdint>

namespace boxy::vm {

// A redirection table entry (3.2.4), a raw 64-bit word with named fields.
class RedirectionEntry {
public:
    static constexpr std::uint64_t kVectorMask = 0xFF;
    static constexpr unsigned kDeliveryModeShift = 8;
    static constexpr std::uint64_t kLogical = 1ULL << 11;
    static constexpr std::uint64_t kDeliveryStatus = 1ULL << 12;  // read-only
    static constexpr std::uint64_t kActiveLow = 1ULL << 13;
    static constexpr std::uint64_t kRemoteIrr = 1ULL << 14;  // read-only
    static constexpr std::uint64_t kLevelTriggered = 1ULL << 15;
    static constexpr std::uint64_t kMasked = 1ULL << 16;
    static constexpr unsigned kDestinationShift = 56;
    // Bits the guest may write: vector, delivery mode, destination mode,
    // polarity, trigger mode, mask; and the destination field.
    static constexpr std::uint64_t kWritable = 0x0000'0000'0001'AFFF | (0xFFULL << 56);

    enum class DeliveryMode : std::uint8_t {
        fixed = 0,
        lowest_priority = 1,
        smi = 2,
        nmi = 4,
        init = 5,
        ext_int = 7,
    };

    constexpr RedirectionEntry() = default;
    constexpr explicit RedirectionEntry(std::uint64_t raw) : raw_{raw} {}

    [[nodiscard]] constexpr std::uint64_t raw() const { return raw_; }
    [[nodiscard]] constexpr std::uint8_t vector() const
    {
        return static_cast<std::uint8_t>(raw_ & kVectorMask);
    }
    [[nodiscard]] constexpr std::uint8_t delivery_mode() const
    {
        return static_cast<std::uint8_t>((raw_ >> kDeliveryModeShift) & 7);
    }
    [[nodiscard]] constexpr bool logical() const { return (raw_ & kLogical) != 0; }
    [[nodiscard]] constexpr bool remote_irr() const { return (raw_ & kRemoteIrr) != 0; }
    [[nodiscard]] constexpr bool level_triggered() const { return (raw_ & kLevelTriggered) != 0; }
    [[nodiscard]] constexpr bool masked() const { return (raw_ & kMasked) != 0; }
    [[nodiscard]] constexpr std::uint8_t destination() const
    {
        return static_cast<std::uint8_t>(raw_ >> kDestinationShift);
    }

    constexpr void set_remote_irr(bool set) { raw_ = set ? raw_ | kRemoteIrr : raw_ & ~kRemoteIrr; }

private:
    // 3.2.4: after reset every pin is masked, everything else zero.
    std::uint64_t raw_{kMasked};
};

// What the guest did that the model refused or could not deliver.
struct IoApicStats {
    std::uint64_t delivered{0};             // injections the sink accepted
    std::uint64_t inject_failures{0};       // injections the sink refused
    std::uint64_t lost_while_masked{0};     // rising edges on masked edge-triggered pins
    std::uint64_t no_destination{0};        // a destination naming no vCPU
    std::uint64_t bad_vector{0};            // vectors 0-15, which the ABI refuses
    std::uint64_t unsupported_delivery{0};  // SMI, NMI, INIT, ExtINT, reserved
    std::uint64_t bad_access{0};            // wrong offset, width or register index
    std::uint64_t bad_pin{0};               // set_level on a pin above 23 (a model bug)
};

class IoApic final : public MmioDevice {
public:
    static constexpr std::uint32_t kPins = kIoApicPins;
    // Register offsets in the MMIO page (3.1, and the EOI register of the
    // I/O(x)APIC).
    static constexpr std::uint64_t kRegisterSelect = 0x00;
    static constexpr std::uint64_t kWindow = 0x10;
    static constexpr std::uint64_t kEoi = 0x40;
    // Register indices (3.2).
    static constexpr std::uint8_t kIdIndex = 0x00;
    static constexpr std::uint8_t kVersionIndex = 0x01;
    static constexpr std::uint8_t kArbitrationIndex = 0x02;
    static constexpr std::uint8_t kRedirectionIndex = 0x10;  // two per pin, low word first
    // 3.2.2: maximum redirection entry (23) in bits 23:16, version in 7:0.
    static constexpr std::uint32_t kVersion = ((kPins - 1) << 16) | 0x20;

    // The I/O APIC's ID is `id` (the MADT's); vCPUs are 0..vcpu_count-1.
    IoApic(InterruptSink& sink, std::uint32_t vcpu_count, std::uint8_t id);

    // A guest access at `offset` in the I/O APIC page, `width` bytes.
    [[nodiscard]] std::uint64_t mmio_read(std::uint64_t offset, std::uint32_t width) override;
    void mmio_write(std::uint64_t offset, std::uint32_t width, std::uint64_t value) override;

    // A device's line into `pin` changed level.
    void set_level(std::uint32_t pin, bool asserted);
    // The guest ended a level-triggered interrupt with `vector` (an EOI exit).
    void end_of_interrupt(std::uint8_t vector);

    [[nodiscard]] RedirectionEntry entry(std::uint32_t pin) const { return entries_.at(pin); }
    [[nodiscard]] bool level(std::uint32_t pin) const { return levels_.at(pin); }
    [[nodiscard]] const IoApicStats& stats() const { return stats_; }

private:
    [[nodiscard]] std::uint32_t read_register(std::uint8_t index);
    void write_register(std::uint8_t index, std::uint32_t value);
    void write_entry(std::uint32_t pin, std::uint64_t written);
    // Delivers a level pin that is asserted, unmasked and not in service.
    void service_level(std::uint32_t pin);
    // Injects the entry's interrupt; false when nothing was delivered.
    bool deliver(RedirectionEntry entry);

    InterruptSink* sink_;
    std::uint32_t vcpu_count_;
    std::uint32_t id_;  // bits 27:24 of the ID register
    std::uint8_t select_{0};
    std::array<RedirectionEntry, kPins> entries_{};
    std::array<bool, kPins> levels_{};
    IoApicStats stats_;
};

}  // namespace boxy::vm
