// SPDX-License-Identifier: MIT
#include "emulate/mmio_decode.hpp"

#include "zydis_mode.hpp"

#include <Zydis/Decoder.h>

namespace boxy::vmm::emulate {
namespace {

// Zydis lists each GPR class in encoding order (AL, CL, DL, BL, AH, CH,
// DH, BH, SPL, BPL, SIL, DIL, R8B..R15B; AX..R15W; EAX..R15D; RAX..R15), so
// an offset into a class is the register's encoding.
constexpr int kLegacyByteRegisters = 4;  // AL..BL
constexpr int kHighByteRegisters = 4;    // AH..BH, encodings 4..7 without REX

Gpr gpr_at(int encoding)
{
    return static_cast<Gpr>(static_cast<std::uint8_t>(encoding));
}

Result<RegisterOperand, MmioDecodeError> register_operand(ZydisRegister reg)
{
    if (reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_R15B) {
        const int offset = reg - ZYDIS_REGISTER_AL;
        if (offset < kLegacyByteRegisters) {
            return RegisterOperand{gpr_at(offset), RegisterPart::low8};
        }
        if (offset < kLegacyByteRegisters + kHighByteRegisters) {
            return RegisterOperand{gpr_at(offset - kLegacyByteRegisters), RegisterPart::high8};
        }
        // SPL (offset 8) is encoding 4: the high-byte slots come first.
        return RegisterOperand{gpr_at(offset - kHighByteRegisters), RegisterPart::low8};
    }
    if (reg >= ZYDIS_REGISTER_AX && reg <= ZYDIS_REGISTER_R15W) {
        return RegisterOperand{gpr_at(reg - ZYDIS_REGISTER_AX), RegisterPart::low16};
    }
    if (reg >= ZYDIS_REGISTER_EAX && reg <= ZYDIS_REGISTER_R15D) {
        return RegisterOperand{gpr_at(reg - ZYDIS_REGISTER_EAX), RegisterPart::low32};
    }
    if (reg >= ZYDIS_REGISTER_RAX && reg <= ZYDIS_REGISTER_R15) {
        return RegisterOperand{gpr_at(reg - ZYDIS_REGISTER_RAX), RegisterPart::full64};
    }
    return make_error(MmioDecodeError::unsupported_operand);
}

constexpr std::uint64_t width_mask(std::uint8_t width)
{
    return width >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8U * width)) - 1;
}

bool is_memory(const ZydisDecodedOperand& operand)
{
    // AGEN (LEA) and MIB (bound tables) name an address without accessing it.
    return operand.type == ZYDIS_OPERAND_TYPE_MEMORY && operand.mem.type == ZYDIS_MEMOP_TYPE_MEM;
}

// A register operand that pairs with a memory operand of `width` bytes.
Result<RegisterOperand, MmioDecodeError> gpr_partner(const ZydisDecodedOperand& operand,
                                                     std::uint8_t width)
{
    if (operand.type != ZYDIS_OPERAND_TYPE_REGISTER) {
        return make_error(MmioDecodeError::unsupported_operand);
    }
    auto reg = register_operand(operand.reg.value);
    if (!reg) {
        return reg;
    }
    if (reg->width() != width) {
        return make_error(MmioDecodeError::unsupported_operand);
    }
    return reg;
}

struct Decoded {
    ZydisDecodedInstruction instruction;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
};

Result<MmioAccess, MmioDecodeError> decode_mov(const Decoded& decoded, bool memory_first,
                                               MmioAccess access, const GuestRegisters& regs)
{
    const ZydisDecodedOperand& other = decoded.operands[memory_first ? 1 : 0];
    if (!memory_first) {
        // MOV r, m: a load.
        auto reg = gpr_partner(other, access.width);
        if (!reg) {
            return make_error(reg.error());
        }
        access.direction = MmioDirection::read;
        access.reg = *reg;
        return access;
    }
    access.direction = MmioDirection::write;
    if (other.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        // Zydis sign-extends the immediate of C7 to 64 bits, as the CPU
        // does for a REX.W store (APM Vol. 3, MOV).
        access.value = other.imm.value.u & width_mask(access.width);
        return access;
    }
    auto reg = gpr_partner(other, access.width);
    if (!reg) {
        return make_error(reg.error());
    }
    access.value = read_register(regs, *reg);
    return access;
}

Result<MmioAccess, MmioDecodeError> decode_xchg(const Decoded& decoded, bool memory_first,
                                                MmioAccess access, const GuestRegisters& regs)
{
    auto reg = gpr_partner(decoded.operands[memory_first ? 1 : 0], access.width);
    if (!reg) {
        return make_error(reg.error());
    }
    access.direction = MmioDirection::exchange;
    access.reg = *reg;
    access.value = read_register(regs, *reg);
    return access;
}

}  // namespace

Result<MmioAccess, MmioDecodeError> decode_mmio_access(std::span<const std::uint8_t> bytes,
                                                       CpuMode mode, const GuestRegisters& regs)
{
    if (bytes.empty()) {
        return make_error(MmioDecodeError::no_bytes);
    }
    const ZydisMode zmode = zydis_mode(mode);
    ZydisDecoder decoder;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, zmode.machine, zmode.stack))) {
        return make_error(MmioDecodeError::invalid);
    }
    Decoded decoded;
    const ZyanStatus status = ZydisDecoderDecodeFull(&decoder, bytes.data(), bytes.size(),
                                                     &decoded.instruction, decoded.operands);
    if (status == ZYDIS_STATUS_NO_MORE_DATA) {
        return make_error(MmioDecodeError::truncated);
    }
    if (!ZYAN_SUCCESS(status)) {
        return make_error(MmioDecodeError::invalid);
    }

    const ZydisMnemonic mnemonic = decoded.instruction.mnemonic;
    if (mnemonic != ZYDIS_MNEMONIC_MOV && mnemonic != ZYDIS_MNEMONIC_XCHG) {
        return make_error(MmioDecodeError::unsupported_instruction);
    }
    // Both have exactly two visible operands; at most one is memory.
    if (decoded.instruction.operand_count_visible != 2) {
        return make_error(MmioDecodeError::unsupported_instruction);
    }
    const bool memory_first = is_memory(decoded.operands[0]);
    if (!memory_first && !is_memory(decoded.operands[1])) {
        return make_error(MmioDecodeError::no_memory_operand);
    }
    const ZydisDecodedOperand& memory = decoded.operands[memory_first ? 0 : 1];
    const unsigned width_bits = memory.size;
    if (width_bits != 8 && width_bits != 16 && width_bits != 32 && width_bits != 64) {
        return make_error(MmioDecodeError::unsupported_width);
    }

    MmioAccess access{};
    access.width = static_cast<std::uint8_t>(width_bits / 8);
    access.mode = mode;
    access.length = decoded.instruction.length;
    if (mnemonic == ZYDIS_MNEMONIC_XCHG) {
        return decode_xchg(decoded, memory_first, access, regs);
    }
    return decode_mov(decoded, memory_first, access, regs);
}

void apply_mmio_read(GuestRegisters& regs, const MmioAccess& access, std::uint64_t value)
{
    if (access.direction == MmioDirection::write) {
        return;
    }
    write_register(regs, access.reg, value & width_mask(access.width), access.mode);
}

}  // namespace boxy::vmm::emulate
