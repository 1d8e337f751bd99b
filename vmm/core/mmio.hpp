// SPDX-License-Identifier: MIT
//
// Emulation of one guest instruction that touched guest-physical memory the
// VMM does not map (a nested page fault): fetch it through the guest's own
// page tables, decode it (vmm/emulate, Zydis), let a device model perform the
// access, write back a loaded value and advance RIP. Works without decode
// assists or NRIP-save, which QEMU TCG lacks.
#pragma once

#include "emulate/guest_paging.hpp"
#include "exits.hpp"
#include "instruction_length.hpp"

#include <array>
#include <cstdint>

namespace boxy::vmm {

struct MmioRequest {
    std::uint64_t gpa;
    std::uint8_t width;  // 1, 2, 4 or 8 bytes
    bool write;
    std::uint64_t value;  // in for writes, out for reads
};

// A device model: performs `request` (fills value for reads).
struct MmioDevice {
    void (*access)(void* context, PerCpu& cpu, MmioRequest& request);
    void* context;
};

// Emulates the instruction at the guest's RIP against `device`. On success
// guest.rip is advanced and the action is `resume`; an instruction the
// emulator cannot perform injects #GP into the guest and logs why.
[[nodiscard]] ExitAction emulate_mmio(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest,
                                      const MmioDevice& device);

// The guest instruction at RIP, fetched through the guest's own page tables
// with `memory` reading guest-physical bytes (the host VM's RAM, or a
// service VM's through its nested tables), and the mode to decode it in.
struct FetchedInstruction {
    std::array<std::uint8_t, emulate::kMaxInstructionBytes> bytes{};
    std::size_t count{0};
    CpuMode mode{CpuMode::long64};
};
[[nodiscard]] bool fetch_at_rip(const GuestControl& guest, std::uint8_t cpl,
                                const emulate::GuestPhysReader& memory, FetchedInstruction& out);

// Length of the guest instruction at RIP, decoded by Zydis from bytes fetched
// through the guest's page tables: how the VMM skips an exiting instruction
// when the CPU has no NRIP-save. 0 if it cannot be fetched or decoded.
[[nodiscard]] std::uint8_t instruction_length_at_rip(const ExitInfo& exit,
                                                     const GuestControl& guest);

}  // namespace boxy::vmm
