// SPDX-License-Identifier: MIT
//
// Helpers for the local APIC tests: MSR accesses that must succeed or must
// fault, and a vCPU's APIC as the guest leaves it after enabling it.
#pragma once

#include "vm/lapic.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

namespace boxy::vmm::test {

inline constexpr std::uint32_t kSvrEnabled = 0x1FF;  // SVR: software-enabled, spurious FFH

inline std::uint64_t read(const Lapic& lapic, std::uint32_t msr)
{
    const auto value = lapic.read_msr(msr);
    REQUIRE(value.has_value());
    return *value;
}

inline MsrWriteEffect write(Lapic& lapic, std::uint32_t msr, std::uint64_t value)
{
    const auto effect = lapic.write_msr(msr, value);
    REQUIRE(effect.has_value());
    return *effect;
}

inline bool read_faults(const Lapic& lapic, std::uint32_t msr)
{
    const auto value = lapic.read_msr(msr);
    return !value && value.error() == LapicFault::general_protection;
}

inline bool write_faults(Lapic& lapic, std::uint32_t msr, std::uint64_t value)
{
    const auto effect = lapic.write_msr(msr, value);
    return !effect && effect.error() == LapicFault::general_protection;
}

// A software-enabled APIC, the state a guest runs in after its APIC setup.
inline Lapic enabled_lapic(std::uint32_t x2apic_id = 3, std::uint32_t tsc_per_bus_tick = 0)
{
    Lapic lapic{LapicConfig{.x2apic_id = x2apic_id, .tsc_per_bus_tick = tsc_per_bus_tick}};
    write(lapic, lapic_msr::kSvr, kSvrEnabled);
    return lapic;
}

// The ESR after the write that latches it (SDM Vol. 3A, 11.5.3).
inline std::uint64_t latched_esr(Lapic& lapic)
{
    write(lapic, lapic_msr::kEsr, 0);
    return read(lapic, lapic_msr::kEsr);
}

}  // namespace boxy::vmm::test
