// SPDX-License-Identifier: MIT
#include "emulate/mmio_decode.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <vector>

using namespace boxy::vmm::emulate;
using boxy::vmm::CpuMode;

namespace {

// Distinct bytes in every register, so a wrong register or width shows.
GuestRegisters sample_registers()
{
    GuestRegisters regs{};
    regs.rax = 0x1111'2222'3333'4444;
    regs.rcx = 0xAAAA'BBBB'CCCC'DDEE;
    regs.rdx = 0x0102'0304'0506'0708;
    regs.rbx = 0xFFFF'FFFF'FEE0'0300;
    regs.rsp = 0x7FFF'0000'0000'1234;
    regs.r8 = 0x8888'8888'8888'8801;
    regs.r15 = 0xF15F'15F1'5F15'F15F;
    return regs;
}

MmioAccess decode_ok(std::initializer_list<std::uint8_t> bytes, CpuMode mode = CpuMode::long64,
                     const GuestRegisters& regs = sample_registers())
{
    const std::vector<std::uint8_t> code(bytes);
    auto access = decode_mmio_access(code, mode, regs);
    REQUIRE(access.has_value());
    CHECK(access->mode == mode);
    return *access;
}

MmioDecodeError decode_error(std::initializer_list<std::uint8_t> bytes,
                             CpuMode mode = CpuMode::long64)
{
    const std::vector<std::uint8_t> code(bytes);
    auto access = decode_mmio_access(code, mode, sample_registers());
    REQUIRE_FALSE(access.has_value());
    return access.error();
}

constexpr RegisterOperand kEcx{Gpr::rcx, RegisterPart::low32};

}  // namespace

TEST_CASE("mmio decode: mov [rax], ecx")
{
    const MmioAccess access = decode_ok({0x89, 0x08});
    CHECK(access.direction == MmioDirection::write);
    CHECK(access.width == 4);
    CHECK(access.value == 0xCCCC'DDEE);
    CHECK(access.length == 2);
}

TEST_CASE("mmio decode: Linux's xAPIC stores")
{
    // mov [0xffffffffff5fc300], eax (SIB, no base, disp32): the fixmap ICR.
    const MmioAccess sib = decode_ok({0x89, 0x04, 0x25, 0x00, 0xC3, 0x5F, 0xFF});
    CHECK(sib.direction == MmioDirection::write);
    CHECK(sib.width == 4);
    CHECK(sib.value == 0x3333'4444);
    CHECK(sib.length == 7);
    // mov [moffs64], eax (A3).
    const MmioAccess moffs = decode_ok({0xA3, 0x00, 0xC3, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
    CHECK(moffs.width == 4);
    CHECK(moffs.value == 0x3333'4444);
    CHECK(moffs.length == 9);
}

TEST_CASE("mmio decode: immediates")
{
    // mov dword [rip + 0x100], 0x12345678
    const MmioAccess rip = decode_ok({0xC7, 0x05, 0x00, 0x01, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12});
    CHECK(rip.direction == MmioDirection::write);
    CHECK(rip.width == 4);
    CHECK(rip.value == 0x1234'5678);
    CHECK(rip.length == 10);
    // mov byte [rax], 0x5a
    const MmioAccess byte = decode_ok({0xC6, 0x00, 0x5A});
    CHECK(byte.width == 1);
    CHECK(byte.value == 0x5A);
    CHECK(byte.length == 3);
    // mov word [rax], 0x1234 (operand-size prefix)
    const MmioAccess word = decode_ok({0x66, 0xC7, 0x00, 0x34, 0x12});
    CHECK(word.width == 2);
    CHECK(word.value == 0x1234);
    CHECK(word.length == 5);
    // mov qword [rax], -1: imm32 sign-extended to 64 bits
    const MmioAccess qword = decode_ok({0x48, 0xC7, 0x00, 0xFF, 0xFF, 0xFF, 0xFF});
    CHECK(qword.width == 8);
    CHECK(qword.value == ~std::uint64_t{0});
    // mov dword [rax], 0x80000000 is not sign-extended into the upper half
    const MmioAccess high = decode_ok({0xC7, 0x00, 0x00, 0x00, 0x00, 0x80});
    CHECK(high.value == 0x8000'0000);
}

TEST_CASE("mmio decode: byte and word stores from registers")
{
    const MmioAccess ah = decode_ok({0x88, 0x23});  // mov [rbx], ah
    CHECK(ah.width == 1);
    CHECK(ah.value == 0x44);                        // AH of RAX = 0x...4444
    const MmioAccess cl = decode_ok({0x88, 0x08});  // mov [rax], cl
    CHECK(cl.value == 0xEE);
    const MmioAccess spl = decode_ok({0x40, 0x88, 0x20});  // REX: mov [rax], spl
    CHECK(spl.value == 0x34);
    const MmioAccess cx = decode_ok({0x66, 0x89, 0x08});  // mov [rax], cx
    CHECK(cx.width == 2);
    CHECK(cx.value == 0xDDEE);
    CHECK(cx.length == 3);
}

TEST_CASE("mmio decode: REX registers r8-r15")
{
    const MmioAccess r8d = decode_ok({0x44, 0x89, 0x00});  // mov [rax], r8d
    CHECK(r8d.width == 4);
    CHECK(r8d.value == 0x8888'8801);
    const MmioAccess r15 = decode_ok({0x4C, 0x89, 0x38});  // mov [rax], r15
    CHECK(r15.width == 8);
    CHECK(r15.value == 0xF15F'15F1'5F15'F15F);
    const MmioAccess r8b = decode_ok({0x44, 0x88, 0x00});  // mov [rax], r8b
    CHECK(r8b.width == 1);
    CHECK(r8b.value == 0x01);
    // mov [r9 + r10*4 + 0x10], r15d: REX.RXB
    const MmioAccess sib = decode_ok({0x47, 0x89, 0x7C, 0x91, 0x10});
    CHECK(sib.value == 0x5F15'F15F);
    CHECK(sib.length == 5);
}

TEST_CASE("mmio decode: 16- and 32-bit code")
{
    // Real mode, mov [bx], ax: 16-bit operands and addressing by default.
    const MmioAccess real = decode_ok({0x89, 0x07}, CpuMode::real16);
    CHECK(real.direction == MmioDirection::write);
    CHECK(real.width == 2);
    CHECK(real.value == 0x4444);
    CHECK(real.length == 2);
    // Real mode with an operand-size prefix: mov [bx], eax.
    const MmioAccess real32 = decode_ok({0x66, 0x89, 0x07}, CpuMode::real16);
    CHECK(real32.width == 4);
    CHECK(real32.value == 0x3333'4444);
    // 32-bit protected mode: mov [0xfee00300], ecx (disp32, no ModRM base).
    const MmioAccess prot = decode_ok({0x89, 0x0D, 0x00, 0x03, 0xE0, 0xFE}, CpuMode::protected32);
    CHECK(prot.width == 4);
    CHECK(prot.value == 0xCCCC'DDEE);
    CHECK(prot.length == 6);
    // 0x40 is INC EAX outside long mode, not a REX prefix.
    CHECK(decode_error({0x40, 0x88, 0x20}, CpuMode::protected32) ==
          MmioDecodeError::unsupported_instruction);
}

TEST_CASE("mmio decode: loads")
{
    const MmioAccess ecx = decode_ok({0x8B, 0x08});  // mov ecx, [rax]
    CHECK(ecx.direction == MmioDirection::read);
    CHECK(ecx.width == 4);
    CHECK(ecx.reg == kEcx);
    CHECK(ecx.length == 2);
    const MmioAccess moffs = decode_ok({0xA1, 0x20, 0x00, 0xE0, 0xFE, 0, 0, 0, 0});  // eax
    CHECK(moffs.reg == RegisterOperand{Gpr::rax, RegisterPart::low32});
    CHECK(moffs.length == 9);
    const MmioAccess r9 = decode_ok({0x4C, 0x8B, 0x08});  // mov r9, [rax]
    CHECK(r9.reg == RegisterOperand{Gpr::r9, RegisterPart::full64});
    CHECK(r9.width == 8);
    const MmioAccess bh = decode_ok({0x8A, 0x38});  // mov bh, [rax]
    CHECK(bh.reg == RegisterOperand{Gpr::rbx, RegisterPart::high8});
    CHECK(bh.width == 1);
}

TEST_CASE("mmio apply: register-write semantics of loads")
{
    GuestRegisters regs = sample_registers();
    // 32-bit load in 64-bit mode: zero-extended.
    apply_mmio_read(regs, decode_ok({0x8B, 0x08}), 0xFFFF'FFFF'0000'0014);
    CHECK(regs.rcx == 0x14);
    // 32-bit load in 32-bit code: bits 63:32 are not touched.
    regs = sample_registers();
    apply_mmio_read(regs, decode_ok({0x8B, 0x08}, CpuMode::protected32), 0x14);
    CHECK(regs.rcx == 0xAAAA'BBBB'0000'0014);
    // AH merges into bits 15:8 only.
    regs = sample_registers();
    apply_mmio_read(regs, decode_ok({0x8A, 0x20}), 0x1AB);  // mov ah, [rax]
    CHECK(regs.rax == 0x1111'2222'3333'AB44);
    // 16-bit loads merge.
    regs = sample_registers();
    apply_mmio_read(regs, decode_ok({0x66, 0x8B, 0x08}), 0x9876'5432);  // mov cx, [rax]
    CHECK(regs.rcx == 0xAAAA'BBBB'CCCC'5432);
    // Low byte with REX: SIL, not DH.
    regs = sample_registers();
    regs.rsi = 0x5555'5555'5555'5555;
    apply_mmio_read(regs, decode_ok({0x40, 0x8A, 0x30}), 0x7F);  // mov sil, [rax]
    CHECK(regs.rsi == 0x5555'5555'5555'557F);
    CHECK(regs.rdx == sample_registers().rdx);
    // 64-bit loads replace the register.
    regs = sample_registers();
    apply_mmio_read(regs, decode_ok({0x4C, 0x8B, 0x00}), 0x0123'4567'89AB'CDEF);  // r8
    CHECK(regs.r8 == 0x0123'4567'89AB'CDEF);
    // A store leaves the registers alone.
    regs = sample_registers();
    apply_mmio_read(regs, decode_ok({0x89, 0x08}), 0);
    CHECK(regs.rcx == sample_registers().rcx);
}

TEST_CASE("mmio decode: xchg loads and stores")
{
    const MmioAccess xchg = decode_ok({0x87, 0x08});  // xchg [rax], ecx
    CHECK(xchg.direction == MmioDirection::exchange);
    CHECK(xchg.width == 4);
    CHECK(xchg.value == 0xCCCC'DDEE);
    CHECK(xchg.reg == kEcx);
    GuestRegisters regs = sample_registers();
    apply_mmio_read(regs, xchg, 0x42);
    CHECK(regs.rcx == 0x42);
    // 86 is the byte form.
    const MmioAccess byte = decode_ok({0x86, 0x20});  // xchg [rax], ah
    CHECK(byte.reg == RegisterOperand{Gpr::rax, RegisterPart::high8});
    CHECK(byte.value == 0x44);
}

TEST_CASE("mmio decode: refusals")
{
    CHECK(decode_error({}) == MmioDecodeError::no_bytes);
    CHECK(decode_error({0x01, 0x08}) == MmioDecodeError::unsupported_instruction);        // add
    CHECK(decode_error({0x83, 0x08, 0x01}) == MmioDecodeError::unsupported_instruction);  // or
    CHECK(decode_error({0x8D, 0x00}) == MmioDecodeError::unsupported_instruction);        // lea
    CHECK(decode_error({0xF3, 0xAB}) == MmioDecodeError::unsupported_instruction);  // rep stosd
    CHECK(decode_error({0x0F, 0xC3, 0x08}) == MmioDecodeError::unsupported_instruction);  // movnti
    CHECK(decode_error({0x0F, 0x11, 0x00}) == MmioDecodeError::unsupported_instruction);  // movups
    CHECK(decode_error({0x89, 0xC8}) == MmioDecodeError::no_memory_operand);  // mov eax, ecx
    CHECK(decode_error({0xC7, 0xC0, 1, 0, 0, 0}) == MmioDecodeError::no_memory_operand);
    CHECK(decode_error({0x87, 0xC8}) == MmioDecodeError::no_memory_operand);        // xchg eax, ecx
    CHECK(decode_error({0x0F, 0x22, 0xD8}) == MmioDecodeError::no_memory_operand);  // mov cr3
    CHECK(decode_error({0x8C, 0x18}) == MmioDecodeError::unsupported_operand);      // mov [rax], ds
    CHECK(decode_error({0x8E, 0x18}) == MmioDecodeError::unsupported_operand);      // mov ds, [rax]
    CHECK(decode_error({0xF0, 0x89, 0x08}) == MmioDecodeError::invalid);            // lock mov
    CHECK(decode_error({0xC7, 0x05, 0x00, 0x01}) == MmioDecodeError::truncated);
    CHECK(decode_error({0x89}) == MmioDecodeError::truncated);
}

TEST_CASE("mmio decode: only the first instruction counts")
{
    // mov [rax], ecx followed by garbage: length 2, the rest ignored.
    const MmioAccess access = decode_ok(
        {0x89, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
    CHECK(access.length == 2);
}
