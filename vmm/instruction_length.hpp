// SPDX-License-Identifier: MIT
//
// Instruction lengths for exits that do not report them. AMD's NRIP-save
// (APM Vol. 2, 15.7.1) hands the VMM the next RIP; without it (QEMU TCG has
// none) the VMM decodes the guest instruction at RIP itself, with Zydis's
// decoder built freestanding (cmake/Zydis.cmake).
#pragma once

#include <boxy/result.hpp>

#include <cstdint>
#include <span>

namespace boxy::vmm {

enum class CpuMode : std::uint8_t { real16, protected16, protected32, long64 };

enum class DecodeError : std::uint8_t {
    no_bytes,   // empty input
    invalid,    // not a valid instruction in this mode
    truncated,  // the bytes end inside the instruction
};

// Length in bytes (1..15) of the instruction at the start of `bytes`.
[[nodiscard]] Result<std::uint8_t, DecodeError> instruction_length(
    std::span<const std::uint8_t> bytes, CpuMode mode);

}  // namespace boxy::vmm
