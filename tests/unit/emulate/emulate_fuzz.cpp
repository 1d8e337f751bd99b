// SPDX-License-Identifier: MIT
//
// Everything the MMIO emulation path reads is guest-controlled: control
// registers, page tables, instruction bytes, registers. The input is
//   [0]      paging and access flags (see state_from)
//   [1]      decoder mode, access kind, CPL, MAXPHYADDR
//   [2..9]   CR3        [10..17] linear address of the instruction
//   [18..]   guest memory: every guest-physical address reads the image at
//            its offset modulo the image size, except frames the reader
//            refuses, so walks reach deep into arbitrary tables.
// Any invariant broken below, or a sanitizer report, is a bug.
#include "emulate/guest_mode.hpp"
#include "emulate/guest_paging.hpp"
#include "emulate/mmio_decode.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

using namespace boxy::vmm::emulate;
using boxy::vmm::CpuMode;

namespace {

constexpr std::size_t kHeader = 18;
constexpr std::uint64_t kFrame = 4096;

void require(bool condition)
{
    if (!condition) {
        __builtin_trap();
    }
}

std::uint64_t load64(const std::uint8_t* data)
{
    std::uint64_t value = 0;
    std::memcpy(&value, data, sizeof value);
    return value;
}

struct FuzzMemory {
    std::span<const std::uint8_t> image;
    std::uint8_t refuse_selector;

    bool operator()(std::uint64_t gpa, void* out, std::size_t length) const
    {
        require(length > 0 && length <= kFrame);
        require(gpa / kFrame == (gpa + length - 1) / kFrame);  // the reader contract
        if (image.empty() || ((gpa / kFrame) & 0xF) == (refuse_selector & 0xF)) {
            return false;
        }
        auto* bytes = static_cast<std::uint8_t*>(out);
        for (std::size_t i = 0; i < length; ++i) {
            bytes[i] = image[(gpa + i) % image.size()];
        }
        return true;
    }
};

GuestPagingState state_from(std::uint8_t flags, std::uint8_t extra, std::uint64_t cr3)
{
    GuestPagingState state{};
    state.cr0 = kCr0Pe | ((flags & 0x01) != 0 ? kCr0Pg : 0) | ((flags & 0x40) != 0 ? kCr0Wp : 0);
    state.cr4 = ((flags & 0x02) != 0 ? kCr4Pae : 0) | ((flags & 0x08) != 0 ? kCr4Pse : 0) |
                ((flags & 0x10) != 0 ? kCr4La57 : 0) | ((flags & 0x80) != 0 ? kCr4Smep : 0);
    state.efer = ((flags & 0x04) != 0 ? kEferLma : 0) | ((flags & 0x20) != 0 ? kEferNxe : 0);
    state.cr3 = cr3;
    state.cpl = (extra & 0x10) != 0 ? 3 : 0;
    state.phys_addr_bits = static_cast<std::uint8_t>(28 + (extra >> 5) * 4);  // 28..56
    return state;
}

GuestRegisters registers_from(std::uint64_t seed)
{
    GuestRegisters regs{};
    for (std::uint8_t i = 0; i < kGprCount; ++i) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        gpr_ref(regs, static_cast<Gpr>(i)) = seed;
    }
    regs.rip = seed >> 7;
    return regs;
}

void check_decode(std::span<const std::uint8_t> bytes, CpuMode mode, GuestRegisters regs)
{
    auto access = decode_mmio_access(bytes, mode, regs);
    if (!access) {
        return;
    }
    require(access->length >= 1 && access->length <= bytes.size() && access->length <= 15);
    const std::uint8_t width = access->width;
    require(width == 1 || width == 2 || width == 4 || width == 8);
    if (width < 8) {
        require(access->value < (std::uint64_t{1} << (8U * width)));
    }
    if (access->direction != MmioDirection::write) {
        require(access->reg.width() == width);
    }
    if (access->direction == MmioDirection::read) {
        require(access->value == 0);
    }
    const GuestRegisters before = regs;
    apply_mmio_read(regs, *access, ~std::uint64_t{0});
    if (access->direction == MmioDirection::write) {
        require(std::memcmp(&before, &regs, sizeof regs) == 0);
    } else {
        require(read_register(regs, access->reg) ==
                (width == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8U * width)) - 1));
    }
    advance_rip(regs, mode, access->length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < kHeader) {
        return 0;
    }
    const std::uint8_t flags = data[0];
    const std::uint8_t extra = data[1];
    const GuestPagingState state = state_from(flags, extra, load64(data + 2));
    const std::uint64_t linear = load64(data + 10);
    const auto mode = static_cast<CpuMode>(extra & 0x3);
    const Access access = (extra & 0xC) == 0   ? Access::read
                          : (extra & 0xC) == 4 ? Access::write
                                               : Access::execute;
    const std::span<const std::uint8_t> image{data + kHeader, size - kHeader};
    FuzzMemory memory{image, static_cast<std::uint8_t>(flags ^ extra)};
    const GuestPhysReader reader = guest_phys_reader_for(memory);

    auto where = translate(state, linear, access, reader);
    if (where) {
        require(where->bytes_to_page_end >= 1 && where->bytes_to_page_end <= (1ULL << 30));
        require(where->gpa < (1ULL << 52));
    } else {
        require(where.error().level <= 4);
    }

    std::array<std::uint8_t, kMaxInstructionBytes> code{};
    auto fetched = fetch_instruction_bytes(state, linear, reader, code);
    const GuestRegisters regs = registers_from(linear ^ load64(data + 2));
    if (fetched) {
        require(*fetched >= 1 && *fetched <= code.size());
        check_decode(std::span{code}.first(*fetched), mode, regs);
    }
    // The decoder on its own, straight from the input.
    check_decode(image.first(image.size() < 15 ? image.size() : 15), mode, regs);

    (void)code_linear_address(mode, CodeSegment{linear, false, true}, linear >> 3);
    (void)cpu_mode_of(state.cr0, state.efer, linear, CodeSegment{0, (flags & 1) != 0, true});
    return 0;
}
