// SPDX-License-Identifier: MIT
#include "instruction_length.hpp"

#include <Zydis/Decoder.h>

namespace boxy::vmm {
namespace {

struct ZydisMode {
    ZydisMachineMode machine;
    ZydisStackWidth stack;
};

ZydisMode zydis_mode(CpuMode mode)
{
    switch (mode) {
        case CpuMode::real16: return {ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16};
        case CpuMode::protected16: return {ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16};
        case CpuMode::protected32: return {ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32};
        case CpuMode::long64: break;
    }
    return {ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64};
}

}  // namespace

Result<std::uint8_t, DecodeError> instruction_length(std::span<const std::uint8_t> bytes,
                                                     CpuMode mode)
{
    if (bytes.empty()) {
        return make_error(DecodeError::no_bytes);
    }
    const ZydisMode zmode = zydis_mode(mode);
    ZydisDecoder decoder;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, zmode.machine, zmode.stack))) {
        return make_error(DecodeError::invalid);
    }
    // Only the length is needed: skip operand decoding (ZydisDecoderDecodeInstruction
    // with no operand buffer, Zydis 4 Decoder.h).
    ZydisDecoderContext context;
    ZydisDecodedInstruction instruction;
    const ZyanStatus status =
        ZydisDecoderDecodeInstruction(&decoder, &context, bytes.data(), bytes.size(), &instruction);
    if (status == ZYDIS_STATUS_NO_MORE_DATA) {
        return make_error(DecodeError::truncated);
    }
    if (!ZYAN_SUCCESS(status)) {
        return make_error(DecodeError::invalid);
    }
    return instruction.length;
}

}  // namespace boxy::vmm
