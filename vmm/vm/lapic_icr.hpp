// SPDX-License-Identifier: MIT
//
// IPIs a local APIC sends: the x2APIC interrupt command register (SDM Vol.
// 3A, 11.6.1, 11.12.9) decoded into an IpiRequest, which the VMM routes
// between a VM's vCPUs (the APIC model knows no other vCPU), and which
// vCPUs a destination selects (11.12.10).
#pragma once

#include <cstdint>
#include <optional>

namespace boxy::vmm {

enum class IpiDelivery : std::uint8_t {
    fixed,
    lowest_priority,  // to one of the destinations (the VMM picks)
    nmi,
    init,
    startup,  // SIPI: vector is the start page number
};

enum class IpiDestination : std::uint8_t {
    physical,            // destination_id is an x2APIC ID
    logical,             // destination_id is cluster (31:16) and member bitmap (15:0)
    self,                // the sender
    all_including_self,  // shorthand 10b, or destination FFFF_FFFFH (11.12.9)
    all_excluding_self,
};

// The logical x2APIC ID the LDR holds (11.12.10.2): cluster x2APIC ID[19:4]
// in bits 31:16, one bit for x2APIC ID[3:0] in bits 15:0.
[[nodiscard]] constexpr std::uint32_t logical_x2apic_id(std::uint32_t x2apic_id)
{
    return ((x2apic_id >> 4) << 16) | (std::uint32_t{1} << (x2apic_id & 0xF));
}

// An IPI from an ICR write, for the VMM to deliver with accept() (fixed,
// lowest priority) or its own INIT/SIPI/NMI handling on each target.
struct IpiRequest {
    IpiDelivery delivery{IpiDelivery::fixed};
    std::uint8_t vector{0};  // fixed, lowest priority, startup; 0 otherwise
    IpiDestination destination{IpiDestination::physical};
    std::uint32_t destination_id{0};  // physical and logical only
    std::uint32_t source_id{0};       // the sender's x2APIC ID

    // Whether the vCPU with this x2APIC ID is a destination (11.12.10).
    [[nodiscard]] constexpr bool targets(std::uint32_t x2apic_id) const
    {
        switch (destination) {
            case IpiDestination::physical: return x2apic_id == destination_id;
            case IpiDestination::logical: {
                const std::uint32_t ldr = logical_x2apic_id(x2apic_id);
                return (ldr >> 16) == (destination_id >> 16) &&
                       (ldr & destination_id & 0xFFFF) != 0;
            }
            case IpiDestination::self: return x2apic_id == source_id;
            case IpiDestination::all_including_self: return true;
            case IpiDestination::all_excluding_self: return x2apic_id != source_id;
        }
        return false;
    }
};

// ICR bits 12 (delivery status, gone in x2APIC mode), 13, 17:16 and 31:20
// are reserved: a WRMSR setting them faults (11.12.1.3).
inline constexpr std::uint64_t kIcrReserved = 0xFFF3'3000;

struct IcrDecode {
    std::optional<IpiRequest> ipi{};  // empty: nothing to send
    bool illegal_vector{false};       // ESR "send illegal vector" (11.5.3)
};

// Decodes an ICR value without reserved bits, written to the APIC with
// x2APIC ID `source_id`.
[[nodiscard]] IcrDecode decode_icr(std::uint64_t icr, std::uint32_t source_id);

}  // namespace boxy::vmm
