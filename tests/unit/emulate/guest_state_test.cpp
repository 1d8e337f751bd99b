// SPDX-License-Identifier: MIT
#include "emulate/guest_mode.hpp"
#include "emulate/guest_registers.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmm::emulate;
using boxy::vmm::CpuMode;

TEST_CASE("guest registers: every GPR by encoding")
{
    GuestRegisters regs{};
    for (std::uint8_t i = 0; i < kGprCount; ++i) {
        gpr_ref(regs, static_cast<Gpr>(i)) = 0x100U + i;
    }
    CHECK(regs.rax == 0x100);
    CHECK(regs.rcx == 0x101);
    CHECK(regs.rbx == 0x103);
    CHECK(regs.rsp == 0x104);
    CHECK(regs.rdi == 0x107);
    CHECK(regs.r8 == 0x108);
    CHECK(regs.r15 == 0x10F);
    CHECK(regs.rip == 0);
    CHECK(regs.rflags == 0);
    CHECK(gpr_value(regs, Gpr::r12) == 0x10C);
}

TEST_CASE("guest registers: partial reads and writes")
{
    GuestRegisters regs{};
    regs.rdx = 0x1122'3344'5566'7788;
    CHECK(read_register(regs, {Gpr::rdx, RegisterPart::low8}) == 0x88);
    CHECK(read_register(regs, {Gpr::rdx, RegisterPart::high8}) == 0x77);
    CHECK(read_register(regs, {Gpr::rdx, RegisterPart::low16}) == 0x7788);
    CHECK(read_register(regs, {Gpr::rdx, RegisterPart::low32}) == 0x5566'7788);
    CHECK(read_register(regs, {Gpr::rdx, RegisterPart::full64}) == 0x1122'3344'5566'7788);

    write_register(regs, {Gpr::rdx, RegisterPart::high8}, 0xFFAB, CpuMode::long64);
    CHECK(regs.rdx == 0x1122'3344'5566'AB88);
    write_register(regs, {Gpr::rdx, RegisterPart::low8}, 0x01, CpuMode::long64);
    CHECK(regs.rdx == 0x1122'3344'5566'AB01);
    write_register(regs, {Gpr::rdx, RegisterPart::low16}, 0x1'CAFE, CpuMode::long64);
    CHECK(regs.rdx == 0x1122'3344'5566'CAFE);
    write_register(regs, {Gpr::rdx, RegisterPart::low32}, 0x1'0000'0002, CpuMode::protected32);
    CHECK(regs.rdx == 0x1122'3344'0000'0002);
    write_register(regs, {Gpr::rdx, RegisterPart::low32}, 0x1'0000'0003, CpuMode::long64);
    CHECK(regs.rdx == 0x3);
    write_register(regs, {Gpr::rdx, RegisterPart::full64}, ~std::uint64_t{0}, CpuMode::long64);
    CHECK(regs.rdx == ~std::uint64_t{0});

    CHECK(RegisterOperand{Gpr::rax, RegisterPart::high8}.width() == 1);
    CHECK(RegisterOperand{Gpr::rax, RegisterPart::low16}.width() == 2);
    CHECK(RegisterOperand{Gpr::rax, RegisterPart::low32}.width() == 4);
    CHECK(RegisterOperand{Gpr::rax, RegisterPart::full64}.width() == 8);
}

TEST_CASE("guest registers: RIP advances and wraps with the code size")
{
    GuestRegisters regs{};
    regs.rip = 0xFFFE;
    advance_rip(regs, CpuMode::real16, 3);
    CHECK(regs.rip == 0x1);
    regs.rip = 0xFFFF'FFFE;
    advance_rip(regs, CpuMode::protected32, 6);
    CHECK(regs.rip == 0x4);
    regs.rip = 0xFFFF'FFFE;
    advance_rip(regs, CpuMode::long64, 6);
    CHECK(regs.rip == 0x1'0000'0004);
}

TEST_CASE("guest mode: decoder mode from CR0, EFER, RFLAGS and CS")
{
    const CodeSegment cs16{0, false, false};
    const CodeSegment cs32{0, false, true};
    const CodeSegment cs64{0, true, false};
    CHECK(cpu_mode_of(0, 0, 0, cs16) == CpuMode::real16);
    // CR0.PE clear decodes as 16-bit code even with a stale CS.D.
    CHECK(cpu_mode_of(0, 0, 0, cs32) == CpuMode::real16);
    CHECK(cpu_mode_of(kCr0Pe, 0, 0, cs16) == CpuMode::protected16);
    CHECK(cpu_mode_of(kCr0Pe, 0, 0, cs32) == CpuMode::protected32);
    CHECK(cpu_mode_of(kCr0Pe, 0, kRflagsVm, cs32) == CpuMode::real16);  // virtual-8086
    CHECK(cpu_mode_of(kCr0Pe | kCr0Pg, kEferLma, 0, cs64) == CpuMode::long64);
    CHECK(cpu_mode_of(kCr0Pe | kCr0Pg, kEferLma, 0, cs32) == CpuMode::protected32);  // compat
    CHECK(cpu_mode_of(kCr0Pe | kCr0Pg, kEferLma, 0, cs16) == CpuMode::protected16);
    // CS.L without EFER.LMA means nothing.
    CHECK(cpu_mode_of(kCr0Pe, 0, 0, CodeSegment{0, true, true}) == CpuMode::protected32);
}

TEST_CASE("guest mode: linear address of the instruction pointer")
{
    // IP is 16 bits: bit 16 of RIP is dropped.
    CHECK(code_linear_address(CpuMode::real16, {0x9'F000, false, false}, 0x1'0123) == 0x9'F123);
    CHECK(code_linear_address(CpuMode::real16, {0xF'FFF0, false, false}, 0xFFFF) == 0x10'FFEF);
    CHECK(code_linear_address(CpuMode::protected32, {0x1000, false, true}, 0x2000) == 0x3000);
    CHECK(code_linear_address(CpuMode::protected32, {0xFFFF'F000, false, true}, 0x2000) == 0x1000);
    // 64-bit mode ignores the CS base.
    CHECK(code_linear_address(CpuMode::long64, {0x1000, true, false}, 0xFFFF'FFFF'8100'0000) ==
          0xFFFF'FFFF'8100'0000);
}
