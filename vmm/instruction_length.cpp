// SPDX-License-Identifier: MIT
#include "instruction_length.hpp"

#include "zydis_mode.hpp"

#include <Zydis/Decoder.h>

namespace boxy::vmm {

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
