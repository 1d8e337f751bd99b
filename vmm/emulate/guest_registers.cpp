// SPDX-License-Identifier: MIT
#include "emulate/guest_registers.hpp"

namespace boxy::vmm::emulate {
namespace {

// Indexed by Gpr: the encoding order of the registers.
constexpr std::uint64_t GuestRegisters::*kGprMembers[kGprCount] = {
    &GuestRegisters::rax, &GuestRegisters::rcx, &GuestRegisters::rdx, &GuestRegisters::rbx,
    &GuestRegisters::rsp, &GuestRegisters::rbp, &GuestRegisters::rsi, &GuestRegisters::rdi,
    &GuestRegisters::r8,  &GuestRegisters::r9,  &GuestRegisters::r10, &GuestRegisters::r11,
    &GuestRegisters::r12, &GuestRegisters::r13, &GuestRegisters::r14, &GuestRegisters::r15,
};

constexpr std::uint64_t kLow8 = 0xFF;
constexpr std::uint64_t kHigh8 = 0xFF00;
constexpr std::uint64_t kLow16 = 0xFFFF;
constexpr std::uint64_t kLow32 = 0xFFFF'FFFF;

// Gpr values come from the decoder's fixed mapping, never from guest data
// directly; the mask keeps a corrupt value inside the table all the same.
constexpr std::uint8_t index_of(Gpr gpr)
{
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(gpr) & (kGprCount - 1));
}

}  // namespace

std::uint64_t& gpr_ref(GuestRegisters& regs, Gpr gpr)
{
    return regs.*kGprMembers[index_of(gpr)];
}

std::uint64_t gpr_value(const GuestRegisters& regs, Gpr gpr)
{
    return regs.*kGprMembers[index_of(gpr)];
}

std::uint64_t read_register(const GuestRegisters& regs, RegisterOperand operand)
{
    const std::uint64_t full = gpr_value(regs, operand.gpr);
    switch (operand.part) {
        case RegisterPart::low8: return full & kLow8;
        case RegisterPart::high8: return (full & kHigh8) >> 8;
        case RegisterPart::low16: return full & kLow16;
        case RegisterPart::low32: return full & kLow32;
        case RegisterPart::full64: break;
    }
    return full;
}

void write_register(GuestRegisters& regs, RegisterOperand operand, std::uint64_t value,
                    CpuMode mode)
{
    std::uint64_t& full = gpr_ref(regs, operand.gpr);
    switch (operand.part) {
        case RegisterPart::low8: full = (full & ~kLow8) | (value & kLow8); return;
        case RegisterPart::high8: full = (full & ~kHigh8) | ((value & kLow8) << 8); return;
        case RegisterPart::low16: full = (full & ~kLow16) | (value & kLow16); return;
        case RegisterPart::low32:
            if (mode == CpuMode::long64) {
                full = value & kLow32;
            } else {
                full = (full & ~kLow32) | (value & kLow32);
            }
            return;
        case RegisterPart::full64: full = value; return;
    }
}

void advance_rip(GuestRegisters& regs, CpuMode mode, std::uint8_t length)
{
    const std::uint64_t next = regs.rip + length;
    switch (mode) {
        case CpuMode::real16:
        case CpuMode::protected16: regs.rip = next & kLow16; return;
        case CpuMode::protected32: regs.rip = next & kLow32; return;
        case CpuMode::long64: regs.rip = next; return;
    }
}

}  // namespace boxy::vmm::emulate
