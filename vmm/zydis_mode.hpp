// SPDX-License-Identifier: MIT
//
// The Zydis machine mode and stack width for a guest CPU mode: one mapping
// for every decoder user in the VMM (instruction lengths, MMIO emulation).
#pragma once

#include "instruction_length.hpp"

#include <Zydis/Decoder.h>

namespace boxy::vmm {

struct ZydisMode {
    ZydisMachineMode machine;
    ZydisStackWidth stack;
};

[[nodiscard]] constexpr ZydisMode zydis_mode(CpuMode mode)
{
    switch (mode) {
        case CpuMode::real16: return {ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16};
        case CpuMode::protected16: return {ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16};
        case CpuMode::protected32: return {ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32};
        case CpuMode::long64: break;
    }
    return {ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64};
}

}  // namespace boxy::vmm
