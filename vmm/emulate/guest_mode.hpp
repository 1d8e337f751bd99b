// SPDX-License-Identifier: MIT
//
// Which decoder mode the guest runs in, and where its instruction pointer
// points in the linear address space. Both come from state the VMCB holds
// (CR0, EFER, RFLAGS, the CS descriptor cache) and feed the page walk and
// the decoder of an emulated instruction.
#pragma once

#include "instruction_length.hpp"

#include <cstdint>

namespace boxy::vmm::emulate {

// Architectural bits the emulators read (APM Vol. 2, 3.1.1 "CR0", 3.1.3
// "CR4", 3.1.7 "EFER", 3.1.6 "RFLAGS"; SDM Vol. 3A, 2.5).
inline constexpr std::uint64_t kCr0Pe = std::uint64_t{1} << 0;
inline constexpr std::uint64_t kCr0Wp = std::uint64_t{1} << 16;
inline constexpr std::uint64_t kCr0Pg = std::uint64_t{1} << 31;
inline constexpr std::uint64_t kCr4Pse = std::uint64_t{1} << 4;
inline constexpr std::uint64_t kCr4Pae = std::uint64_t{1} << 5;
inline constexpr std::uint64_t kCr4La57 = std::uint64_t{1} << 12;
inline constexpr std::uint64_t kCr4Smep = std::uint64_t{1} << 20;
inline constexpr std::uint64_t kEferLma = std::uint64_t{1} << 10;
inline constexpr std::uint64_t kEferNxe = std::uint64_t{1} << 11;
inline constexpr std::uint64_t kRflagsVm = std::uint64_t{1} << 17;

// The parts of the CS descriptor cache that matter here. In the VMCB's
// segment `attrib` (APM Vol. 2, 15.5.1) L is bit 9 and D/B bit 10.
struct CodeSegment {
    std::uint64_t base;
    bool long_mode;   // CS.L
    bool default_32;  // CS.D
};

// APM Vol. 2, 1.2 "Modes of Operation" (Table 1-1): with EFER.LMA set, CS.L
// picks 64-bit mode, otherwise compatibility mode whose operand size CS.D
// picks; without LMA, CR0.PE=0 is real mode, RFLAGS.VM=1 virtual-8086 mode
// (decoded like real mode), and CS.D again picks 16- or 32-bit code.
[[nodiscard]] constexpr CpuMode cpu_mode_of(std::uint64_t cr0, std::uint64_t efer,
                                            std::uint64_t rflags, CodeSegment cs)
{
    if ((efer & kEferLma) != 0) {
        if (cs.long_mode) {
            return CpuMode::long64;
        }
        return cs.default_32 ? CpuMode::protected32 : CpuMode::protected16;
    }
    if ((cr0 & kCr0Pe) == 0 || (rflags & kRflagsVm) != 0) {
        return CpuMode::real16;
    }
    return cs.default_32 ? CpuMode::protected32 : CpuMode::protected16;
}

// Linear address of the instruction at RIP: in 64-bit mode the CS base is
// treated as 0 (APM Vol. 2, 4.12.1); elsewhere it is CS.base + EIP (IP in
// 16-bit code), and linear addresses are 32 bits wide. In real mode the sum
// may exceed 1 MiB (up to 0x10FFEF, the A20 wrap is not modelled).
[[nodiscard]] constexpr std::uint64_t code_linear_address(CpuMode mode, CodeSegment cs,
                                                          std::uint64_t rip)
{
    switch (mode) {
        case CpuMode::real16:
        case CpuMode::protected16: return (cs.base + (rip & 0xFFFF)) & 0xFFFF'FFFF;
        case CpuMode::protected32: return (cs.base + (rip & 0xFFFF'FFFF)) & 0xFFFF'FFFF;
        case CpuMode::long64: break;
    }
    return rip;
}

}  // namespace boxy::vmm::emulate
