// SPDX-License-Identifier: MIT
//
// x86 port I/O (Intel SDM Vol. 1, 18.2 "I/O Port Addressing"). Only for code
// that runs at CPL 0 or with IOPL/bitmap permission: the EFI loader and the
// VMM.
#pragma once

#include <cstdint>

namespace boxy::x64 {

inline void outb(std::uint16_t port, std::uint8_t value)
{
    // OUT imm/DX, AL: the port number goes in DX for ports above 0xFF.
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

[[nodiscard]] inline std::uint8_t inb(std::uint16_t port)
{
    std::uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

// PAUSE hints a spin-wait loop to the CPU (SDM Vol. 2B, "PAUSE").
inline void cpu_relax()
{
    asm volatile("pause" ::: "memory");
}

}  // namespace boxy::x64
