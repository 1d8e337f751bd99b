// SPDX-License-Identifier: MIT
//
// The host's MTRRs as memory-type ranges for the nested page tables.
//
// Under EPT the CPU ignores the guest's MTRRs: the memory type of a guest
// access combines the EPT leaf's type with the guest's PAT (SDM Vol. 3C,
// 29.3.7.2 "Memory Type Used for Translated Guest-Physical Addresses"), so
// the VMM must put into the EPT what the MTRRs would have said, or MMIO
// becomes write-back. NPT combines its own type with the MTRRs (APM Vol. 2,
// 15.25.8), so the AMD backend does not need this.
//
// decode_mtrrs() resolves the MTRRs (SDM Vol. 3A, 12.11 "Memory Type Range
// Registers (MTRRs)") into sorted, non-overlapping, page-aligned ranges,
// each one of the types that differ from the default type, with adjacent
// ranges of one type merged. That is what IdentityMapConfig::memory_types
// applies over default_memory_type (nested_paging.hpp), and the ranges are
// exact, so identity_map() splits large pages only where the type changes.
#pragma once

#include "memory/memory_type.hpp"
#include "memory/nested_paging.hpp"

#include <boxy/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace boxy::vmm {

// MTRR MSR numbers (SDM Vol. 4, Table 2-2).
namespace mtrr_msr {
inline constexpr std::uint32_t kCapabilities = 0xFE;  // IA32_MTRRCAP
inline constexpr std::uint32_t kDefaultType = 0x2FF;  // IA32_MTRR_DEF_TYPE
inline constexpr std::uint32_t kPhysBase0 = 0x200;    // IA32_MTRR_PHYSBASEn = 0x200 + 2n
inline constexpr std::uint32_t kPhysMask0 = 0x201;    // IA32_MTRR_PHYSMASKn = 0x201 + 2n
// The fixed-range MTRRs in address order: 64K_00000, 16K_80000,
// 16K_A0000, 4K_C0000 ... 4K_F8000 (12.11.2.2).
inline constexpr std::array<std::uint32_t, 11> kFixed{0x250, 0x258, 0x259, 0x268, 0x269, 0x26A,
                                                      0x26B, 0x26C, 0x26D, 0x26E, 0x26F};
}  // namespace mtrr_msr

// More variable ranges than any CPU has had (8 to 10 in practice; VCNT in
// IA32_MTRRCAP is 8 bits wide).
inline constexpr std::size_t kMaxVariableMtrrs = 32;

struct VariableMtrr {
    std::uint64_t base{0};  // IA32_MTRR_PHYSBASEn: type in 7:0, base in MAXPHYADDR-1:12
    std::uint64_t mask{0};  // IA32_MTRR_PHYSMASKn: valid in bit 11, mask in MAXPHYADDR-1:12
};

// The MSRs as the backend read them (only what IA32_MTRRCAP says exists:
// the fixed ranges if FIX, bit 8, is set, and VCNT variable pairs).
struct MtrrState {
    std::uint64_t capabilities{0};
    std::uint64_t default_type{0};
    std::array<std::uint64_t, 11> fixed{};
    std::array<VariableMtrr, kMaxVariableMtrrs> variable{};
    unsigned physical_address_bits{36};  // MAXPHYADDR, CPUID 0x80000008 EAX[7:0]
};

enum class MtrrError : std::uint8_t {
    output_too_small,            // more ranges than the output span holds
    too_many_variable_ranges,    // IA32_MTRRCAP.VCNT > kMaxVariableMtrrs
    bad_physical_address_width,  // MAXPHYADDR outside 32..52
    invalid_memory_type,         // a reserved type (2, 3, 7..255) in use
    non_contiguous_mask,         // a valid variable range whose mask has holes
};

[[nodiscard]] constexpr std::string_view to_string(MtrrError error)
{
    switch (error) {
        case MtrrError::output_too_small: return "more MTRR ranges than the output holds";
        case MtrrError::too_many_variable_ranges: return "more variable MTRRs than supported";
        case MtrrError::bad_physical_address_width: return "MAXPHYADDR outside 32..52";
        case MtrrError::invalid_memory_type: return "reserved memory type in an MTRR";
        case MtrrError::non_contiguous_mask: return "variable MTRR with a non-contiguous mask";
    }
    return "unknown MTRR error";
}

// The most ranges decode_mtrrs() can produce: one per fixed-range
// sub-range below 1 MiB, plus one between each pair of variable-range
// boundaries above it. An output span this long never overflows.
inline constexpr std::size_t kMaxMtrrRanges = 88 + 2 * kMaxVariableMtrrs + 1;

struct MtrrMap {
    MemoryType default_type{MemoryType::uncacheable};
    std::size_t count{0};  // ranges written to the front of the output span
};

// Resolves the MTRRs over [0, 2^MAXPHYADDR) into `out` (see the file
// comment). MTRRs disabled (IA32_MTRR_DEF_TYPE.E clear): everything is UC,
// so the default type is UC and there are no ranges.
[[nodiscard]] Result<MtrrMap, MtrrError> decode_mtrrs(const MtrrState& state,
                                                      std::span<MemoryTypeRange> out);

// The memory type the MTRRs give one physical address (what the CPU would
// use before combining it with the PAT).
[[nodiscard]] Result<MemoryType, MtrrError> mtrr_type_at(const MtrrState& state,
                                                         std::uint64_t address);

}  // namespace boxy::vmm
