// SPDX-License-Identifier: MIT
//
// Proves the freestanding Zydis build usable: this links the VMM's decode
// library as compiled for the freestanding world (no libc, ZYAN_NO_LIBC).
#include "instruction_length.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

using boxy::vmm::CpuMode;
using boxy::vmm::DecodeError;
using boxy::vmm::instruction_length;

TEST_CASE("freestanding zydis: lengths of instructions a VMM must skip")
{
    const std::array<std::uint8_t, 2> cpuid{0x0F, 0xA2};
    CHECK(instruction_length(cpuid, CpuMode::long64).value() == 2);
    const std::array<std::uint8_t, 3> vmmcall{0x0F, 0x01, 0xD9};
    CHECK(instruction_length(vmmcall, CpuMode::long64).value() == 3);
    const std::array<std::uint8_t, 3> xsetbv{0x0F, 0x01, 0xD1};
    CHECK(instruction_length(xsetbv, CpuMode::protected32).value() == 3);
    // mov rax, [rip + 0x12345678]: REX.W + opcode + ModRM + disp32
    const std::array<std::uint8_t, 7> rip_load{0x48, 0x8B, 0x05, 0x78, 0x56, 0x34, 0x12};
    CHECK(instruction_length(rip_load, CpuMode::long64).value() == 7);
    // out dx, al in real mode (firmware and AP start-up code).
    const std::array<std::uint8_t, 1> out_dx{0xEE};
    CHECK(instruction_length(out_dx, CpuMode::real16).value() == 1);
    // The same bytes differ by mode: mov eax, imm32 vs mov ax, imm16.
    const std::array<std::uint8_t, 5> mov_imm{0xB8, 1, 2, 3, 4};
    CHECK(instruction_length(mov_imm, CpuMode::long64).value() == 5);
    CHECK(instruction_length(mov_imm, CpuMode::real16).value() == 3);
}

TEST_CASE("freestanding zydis: invalid and truncated input")
{
    CHECK(instruction_length({}, CpuMode::long64).error() == DecodeError::no_bytes);
    const std::array<std::uint8_t, 2> ud{0x0F, 0xFF};  // UD0 needs a ModRM
    CHECK(instruction_length(ud, CpuMode::long64).error() == DecodeError::truncated);
    const std::array<std::uint8_t, 1> aaa{0x37};  // AAA is invalid in 64-bit mode
    CHECK(instruction_length(aaa, CpuMode::long64).error() == DecodeError::invalid);
    const std::array<std::uint8_t, 3> cut_mov{0x48, 0x8B, 0x05};
    CHECK(instruction_length(cut_mov, CpuMode::long64).error() == DecodeError::truncated);
    std::array<std::uint8_t, 16> prefixes{};
    prefixes.fill(0x66);  // more than 15 bytes of prefixes
    CHECK(instruction_length(prefixes, CpuMode::long64).error() == DecodeError::invalid);
}
