// SPDX-License-Identifier: MIT
//
// The local APIC model takes MSR accesses straight from a guest. Fuzz
// sequences of MSR reads and writes (x2APIC range, IA32_APIC_BASE,
// IA32_TSC_DEADLINE) mixed with accepted interrupts, injections, EOIs,
// INITs and time, and check after every step what the VMM relies on:
// pending() is a legal vector in IRR above the PPR class, IRR/ISR/TMR never
// hold vectors 0-15, PPR is at least the TPR and in-service class, the
// timer's next deadline lies in the future, and IPIs to send carry legal
// vectors.
#include "fuzz_input.hpp"
#include "vm/lapic.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

using namespace boxy::vmm;

namespace {

using boxy::fuzz::require;
using Input = boxy::fuzz::FuzzInput;

// Mostly the model's MSRs, sometimes a neighbour.
std::uint32_t pick_msr(Input& input)
{
    const auto choice = input.next<std::uint16_t>();
    switch (choice % 8) {
        case 0: return lapic_msr::kApicBase;
        case 1: return lapic_msr::kTscDeadline;
        case 2: return 0x700U + (choice >> 3) % 0x300;
        default: return lapic_msr::kFirst + (choice >> 3) % 0x100;
    }
}

// Values with few bits set pass the reserved-bit checks often enough.
std::uint64_t pick_value(Input& input)
{
    const auto shape = input.next<std::uint8_t>();
    switch (shape % 4) {
        case 0: return input.next<std::uint8_t>();
        case 1: return input.next<std::uint32_t>() & 0x000C'CFFF;  // ICR/LVT/SVR fields
        case 2: return input.next<std::uint64_t>() & 0xFFFF'FFFF'000C'CFFF;
        default: return input.next<std::uint64_t>();
    }
}

void check_invariants(const Lapic& lapic, std::uint64_t now)
{
    const std::uint8_t ppr = lapic.ppr();
    require((ppr & 0xF0) >= (lapic.tpr() & 0xF0));
    if (const auto vector = lapic.pending()) {
        require(*vector >= 16);
        require((*vector & 0xF0) > (ppr & 0xF0));
        require(lapic.has_pending_for_halt());
    } else {
        require(!lapic.has_pending_for_halt());
    }
    if (const auto deadline = lapic.next_deadline()) {
        require(*deadline > now);
    }
    const std::uint64_t deadline = lapic.tsc_deadline();
    require(deadline == 0 || deadline > now);
    if (lapic.mode() != LapicMode::x2apic) {
        return;
    }
    // The 256-bit registers, through the guest's eyes.
    std::array<std::uint32_t, 3> first{lapic_msr::kIrr0, lapic_msr::kIsr0, lapic_msr::kTmr0};
    for (const std::uint32_t msr : first) {
        const auto low = lapic.read_msr(msr);
        require(low.has_value() && (*low & 0xFFFF) == 0);
    }
    if (const auto vector = lapic.pending()) {
        const auto irr = lapic.read_msr(lapic_msr::kIrr0 + *vector / 32);
        require(irr.has_value() && ((*irr >> (*vector % 32)) & 1) != 0);
    }
    const auto in_service = lapic.read_msr(lapic_msr::kPpr);
    require(in_service.has_value() && *in_service == ppr);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    Input input{data, size};
    const auto config_bits = input.next<std::uint32_t>();
    Lapic lapic{LapicConfig{.x2apic_id = config_bits & 0x3F,
                            .bootstrap_processor = (config_bits & 0x40) != 0,
                            .physical_address_bits = 32 + (config_bits >> 8) % 21,
                            .tsc_per_bus_tick = (config_bits >> 16) % 5}};
    std::uint64_t now = 0;
    for (unsigned step = 0; step < 256 && !input.empty(); ++step) {
        const auto operation = input.next<std::uint8_t>();
        switch (operation % 9) {
            case 0: static_cast<void>(lapic.read_msr(pick_msr(input))); break;
            case 1:
            case 2: {
                const std::uint32_t msr = pick_msr(input);
                const auto effect = lapic.write_msr(msr, pick_value(input));
                if (effect && effect->ipi) {
                    const IpiRequest& ipi = *effect->ipi;
                    require(ipi.source_id == lapic.x2apic_id());
                    if (ipi.delivery == IpiDelivery::fixed ||
                        ipi.delivery == IpiDelivery::lowest_priority) {
                        require(ipi.vector >= 16);
                    }
                }
                require(!effect || !effect->ipi || msr == lapic_msr::kIcr);
                break;
            }
            case 3: {
                const auto vector = input.next<std::uint8_t>();
                const bool accepted = lapic.accept(vector, (operation & 0x80) != 0);
                require(!accepted || (vector >= 16 && lapic.software_enabled()));
                break;
            }
            case 4:
                if (const auto vector = lapic.pending()) {
                    require(lapic.acknowledge(*vector));
                } else {
                    static_cast<void>(lapic.acknowledge(input.next<std::uint8_t>()));
                }
                break;
            case 5: static_cast<void>(lapic.write_msr(lapic_msr::kEoi, 0)); break;
            case 6:
                now += input.next<std::uint16_t>();
                lapic.advance(now);
                break;
            case 7: lapic.set_tsc_deadline(now + input.next<std::uint16_t>()); break;
            default:
                if ((operation & 0xF0) == 0xF0) {
                    lapic.init_reset();
                } else {
                    lapic.set_tpr(input.next<std::uint8_t>());
                }
                break;
        }
        check_invariants(lapic, now);
    }
    return 0;
}
