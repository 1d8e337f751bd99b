// SPDX-License-Identifier: MIT
//
// Decoding of the guest instruction behind an intercepted MMIO access (the
// xAPIC page, write-protected in the nested page tables so that the VMM sees
// ICR writes, design.md "Boot flow" point 5). The nested page fault gives
// the guest-physical address and whether the access was a write (APM Vol.
// 2, 15.25.6); this decoder supplies the rest: the width, the value stored
// or the register loaded, and the instruction length to skip.
//
// Split as decode (may fail, changes nothing) and apply (cannot fail): the
// VMM decodes, performs the device access, then calls apply_mmio_read for
// loads and advance_rip for all.
//
// Supported (Zydis decodes, these are the accepted mnemonics and forms):
//   MOV m, r      88 / 89, A2 / A3 (moffs)     store a GPR
//   MOV m, imm    C6 /0, C7 /0                  store an immediate
//   MOV r, m      8A / 8B, A0 / A1 (moffs)     load into a GPR
//   XCHG m, r     86 / 87                       load and store (implicitly locked)
// Anything else that touches memory (ADD, OR, string instructions, MOVNTI,
// SSE moves, segment-register moves, ...) is refused with a typed error,
// and the VMM leaves the guest's state untouched.
#pragma once

#include "emulate/guest_registers.hpp"
#include "instruction_length.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <span>

namespace boxy::vmm::emulate {

enum class MmioDirection : std::uint8_t {
    read,      // device to register
    write,     // register or immediate to device
    exchange,  // XCHG: read the device into `reg`, write `value` to it
};

struct MmioAccess {
    MmioDirection direction;
    std::uint8_t width;  // bytes: 1, 2, 4 or 8
    // write and exchange: the bytes stored, zero-extended from `width`.
    std::uint64_t value;
    // read and exchange: the register that receives the device's value.
    RegisterOperand reg;
    CpuMode mode;         // the mode decoded in; fixes the register-write rules
    std::uint8_t length;  // instruction bytes, 1..15
};

enum class MmioDecodeError : std::uint8_t {
    no_bytes,                 // empty input
    truncated,                // the bytes end inside the instruction
    invalid,                  // not a valid instruction in this mode
    unsupported_instruction,  // valid, but not one the emulator performs
    no_memory_operand,        // neither operand is memory (e.g. MOV between registers)
    unsupported_operand,      // a non-GPR register (segment, control, vector), a REP prefix, ...
    unsupported_width,        // a memory operand not 1, 2, 4 or 8 bytes wide
};

[[nodiscard]] Result<MmioAccess, MmioDecodeError> decode_mmio_access(
    std::span<const std::uint8_t> bytes, CpuMode mode, const GuestRegisters& regs);

// Completes a read or an exchange: `value` is what the device returned, of
// access.width bytes (higher bits are ignored). Writes the destination with
// x86's rules: 8- and 16-bit loads (including AH..BH) merge into the GPR,
// 32-bit loads in 64-bit mode clear bits 63:32. A write access changes
// nothing. Does not touch RIP: see advance_rip.
void apply_mmio_read(GuestRegisters& regs, const MmioAccess& access, std::uint64_t value);

}  // namespace boxy::vmm::emulate
