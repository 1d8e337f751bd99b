// SPDX-License-Identifier: MIT
//
// The guest's general-purpose register file, vendor-neutral: the SVM backend
// fills it from the VMCB (RAX, RSP, RIP, RFLAGS live there; APM Vol. 2,
// 15.5.1 and Appendix B) plus the GPRs its exit stub saved, and copies it
// back before VMRUN. The emulators in vmm/emulate read and write registers
// only through the views below, which follow the x86 rules for partial
// register writes (APM Vol. 1, 3.1.2.3 "General-Purpose Registers in 64-bit
// mode"; SDM Vol. 1, 3.4.1.1).
#pragma once

#include "instruction_length.hpp"

#include <cstdint>

namespace boxy::vmm::emulate {

struct GuestRegisters {
    std::uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
    std::uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    std::uint64_t rip, rflags;
};

// The sixteen GPRs in the order of their 4-bit encoding (ModRM.reg with
// REX.R, APM Vol. 3, 1.4.1, Table 1-3).
enum class Gpr : std::uint8_t {
    rax,
    rcx,
    rdx,
    rbx,
    rsp,
    rbp,
    rsi,
    rdi,
    r8,
    r9,
    r10,
    r11,
    r12,
    r13,
    r14,
    r15,
};
inline constexpr std::uint8_t kGprCount = 16;

// Which bits of a GPR an operand names: AL/AX/EAX/RAX are the low 1, 2, 4
// or 8 bytes; AH, CH, DH and BH (encodable only without a REX prefix) are
// bits 15:8 of RAX, RCX, RDX and RBX.
enum class RegisterPart : std::uint8_t { low8, high8, low16, low32, full64 };

struct RegisterOperand {
    Gpr gpr;
    RegisterPart part;

    [[nodiscard]] constexpr std::uint8_t width() const
    {
        switch (part) {
            case RegisterPart::low8:
            case RegisterPart::high8: return 1;
            case RegisterPart::low16: return 2;
            case RegisterPart::low32: return 4;
            case RegisterPart::full64: break;
        }
        return 8;
    }
    friend constexpr bool operator==(RegisterOperand, RegisterOperand) = default;
};

[[nodiscard]] std::uint64_t& gpr_ref(GuestRegisters& regs, Gpr gpr);
[[nodiscard]] std::uint64_t gpr_value(const GuestRegisters& regs, Gpr gpr);

// The operand's value, zero-extended to 64 bits.
[[nodiscard]] std::uint64_t read_register(const GuestRegisters& regs, RegisterOperand operand);

// Writes the low width() bytes of `value` into the operand with the CPU's
// merge rules: an 8- or 16-bit write keeps every other bit of the GPR; a
// 32-bit write in 64-bit mode clears bits 63:32 (APM Vol. 1, 3.1.2.3). In
// the other modes bits 63:32 are not architecturally visible and are left
// unchanged.
void write_register(GuestRegisters& regs, RegisterOperand operand, std::uint64_t value,
                    CpuMode mode);

// RIP after an emulated instruction of `length` bytes: IP and EIP wrap at
// 16 and 32 bits outside 64-bit mode (the code segment's operand size; SDM
// Vol. 1, 3.5 "Instruction Pointer"). RFLAGS.TF single-step traps are the
// caller's business.
void advance_rip(GuestRegisters& regs, CpuMode mode, std::uint8_t length);

}  // namespace boxy::vmm::emulate
