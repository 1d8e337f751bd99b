// SPDX-License-Identifier: MIT
#include "memory/mtrr.hpp"

namespace boxy::vmm {
namespace {

// IA32_MTRRCAP (SDM Vol. 3A, 12.11.1): VCNT in 7:0, FIX in bit 8.
constexpr std::uint64_t kVariableCountMask = 0xFF;
constexpr std::uint64_t kFixedSupported = 1U << 8;
// IA32_MTRR_DEF_TYPE (12.11.2.1): type in 7:0, FE in bit 10, E in bit 11.
constexpr std::uint64_t kTypeMask = 0xFF;
constexpr std::uint64_t kFixedEnable = 1U << 10;
constexpr std::uint64_t kEnable = 1U << 11;
// IA32_MTRR_PHYSMASKn (12.11.2.3): V in bit 11.
constexpr std::uint64_t kMaskValid = 1U << 11;

constexpr std::uint64_t kOneMiB = std::uint64_t{1} << 20;
constexpr unsigned kMinAddressBits = 32;
constexpr unsigned kMaxAddressBits = 52;

// The fixed-range MTRRs (12.11.2.2 "Fixed Range MTRRs"): each MSR holds eight
// one-byte types for eight consecutive sub-ranges of one size, the lowest
// address in the lowest byte.
struct FixedRangeLayout {
    std::uint64_t base;
    std::uint64_t sub_range_size;
};
constexpr std::array<FixedRangeLayout, 11> kFixedLayout{{{0x00000, 0x10000},
                                                         {0x80000, 0x4000},
                                                         {0xA0000, 0x4000},
                                                         {0xC0000, 0x1000},
                                                         {0xC8000, 0x1000},
                                                         {0xD0000, 0x1000},
                                                         {0xD8000, 0x1000},
                                                         {0xE0000, 0x1000},
                                                         {0xE8000, 0x1000},
                                                         {0xF0000, 0x1000},
                                                         {0xF8000, 0x1000}}};
constexpr std::size_t kSubRangesPerMsr = 8;
constexpr std::size_t kFixedSubRanges = kFixedLayout.size() * kSubRangesPerMsr;  // 88

// Range boundaries: 0, the fixed sub-range ends, the variable range ends,
// and 2^MAXPHYADDR.
constexpr std::size_t kMaxBoundaries = 1 + kFixedSubRanges + 2 * kMaxVariableMtrrs + 1;
static_assert(kMaxMtrrRanges >= kMaxBoundaries - 1);

[[nodiscard]] bool is_valid_type(std::uint64_t raw)
{
    switch (raw) {
        case static_cast<std::uint64_t>(MemoryType::uncacheable):
        case static_cast<std::uint64_t>(MemoryType::write_combining):
        case static_cast<std::uint64_t>(MemoryType::write_through):
        case static_cast<std::uint64_t>(MemoryType::write_protected):
        case static_cast<std::uint64_t>(MemoryType::write_back): return true;
        default: return false;
    }
}

// The state after validate(): types and masks are known to be good.
struct Decoded {
    const MtrrState& state;
    std::uint64_t limit;  // 2^MAXPHYADDR
    bool enabled;
    bool fixed_enabled;
    MemoryType default_type;
    std::size_t variable_count;
};

struct VariableRange {
    bool valid;
    std::uint64_t begin;
    std::uint64_t end;
    MemoryType type;
};

// A valid variable range covers every address with (address & mask) ==
// (base & mask) (12.11.2.3). With a contiguous mask that is one aligned
// block of ~mask + 1 bytes; masks with holes are legal but describe
// scattered blocks no firmware uses, and are refused.
[[nodiscard]] Result<VariableRange, MtrrError> variable_range(const VariableMtrr& mtrr,
                                                              std::uint64_t limit)
{
    if ((mtrr.mask & kMaskValid) == 0) {
        return VariableRange{false, 0, 0, MemoryType::uncacheable};
    }
    const std::uint64_t address_bits = (limit - 1) & ~(kPageSize4K - 1);
    const std::uint64_t mask = mtrr.mask & address_bits;
    const std::uint64_t size = (~mask & address_bits) + kPageSize4K;
    if (!is_power_of_two(size) || mask != (address_bits & ~(size - 1))) {
        return make_error(MtrrError::non_contiguous_mask);
    }
    const std::uint64_t type = mtrr.base & kTypeMask;
    if (!is_valid_type(type)) {
        return make_error(MtrrError::invalid_memory_type);
    }
    const std::uint64_t begin = mtrr.base & mask;
    return VariableRange{true, begin, begin + size, static_cast<MemoryType>(type)};
}

[[nodiscard]] Result<Decoded, MtrrError> validate(const MtrrState& state)
{
    if (state.physical_address_bits < kMinAddressBits ||
        state.physical_address_bits > kMaxAddressBits) {
        return make_error(MtrrError::bad_physical_address_width);
    }
    const std::uint64_t limit = std::uint64_t{1} << state.physical_address_bits;
    // All memory is UC with the MTRRs disabled (12.11.2.1); nothing else
    // in the state matters then.
    if ((state.default_type & kEnable) == 0) {
        return Decoded{state, limit, false, false, MemoryType::uncacheable, 0};
    }
    const std::uint64_t default_raw = state.default_type & kTypeMask;
    if (!is_valid_type(default_raw)) {
        return make_error(MtrrError::invalid_memory_type);
    }
    const std::size_t count = state.capabilities & kVariableCountMask;
    if (count > kMaxVariableMtrrs) {
        return make_error(MtrrError::too_many_variable_ranges);
    }
    const bool fixed =
        (state.capabilities & kFixedSupported) != 0 && (state.default_type & kFixedEnable) != 0;
    if (fixed) {
        for (const std::uint64_t msr : state.fixed) {
            for (std::size_t i = 0; i < kSubRangesPerMsr; ++i) {
                if (!is_valid_type((msr >> (8 * i)) & 0xFF)) {
                    return make_error(MtrrError::invalid_memory_type);
                }
            }
        }
    }
    for (std::size_t i = 0; i < count; ++i) {
        BOXY_TRY(variable_range(state.variable[i], limit));
    }
    return Decoded{state, limit, true, fixed, static_cast<MemoryType>(default_raw), count};
}

[[nodiscard]] MemoryType fixed_type_at(const MtrrState& state, std::uint64_t address)
{
    for (std::size_t msr = kFixedLayout.size(); msr-- > 0;) {
        const FixedRangeLayout& layout = kFixedLayout[msr];
        if (address >= layout.base) {
            const std::uint64_t index = (address - layout.base) / layout.sub_range_size;
            return static_cast<MemoryType>((state.fixed[msr] >> (8 * index)) & 0xFF);
        }
    }
    return MemoryType::uncacheable;  // unreachable: the first range starts at 0
}

// The type at `address` of validated MTRRs (12.11.4.1 "MTRR Precedences").
[[nodiscard]] MemoryType type_at(const Decoded& mtrrs, std::uint64_t address)
{
    if (!mtrrs.enabled) {
        return MemoryType::uncacheable;
    }
    if (mtrrs.fixed_enabled && address < kOneMiB) {
        return fixed_type_at(mtrrs.state, address);
    }
    // Which types the matching variable ranges have, one bit per type.
    unsigned matched = 0;
    for (std::size_t i = 0; i < mtrrs.variable_count; ++i) {
        const auto range = variable_range(mtrrs.state.variable[i], mtrrs.limit);
        if (range && range->valid && address >= range->begin && address < range->end) {
            matched |= 1U << static_cast<unsigned>(range->type);
        }
    }
    const auto bit = [](MemoryType type) { return 1U << static_cast<unsigned>(type); };
    if (matched == 0) {
        return mtrrs.default_type;
    }
    if (is_power_of_two(matched)) {  // one type, however many ranges
        return static_cast<MemoryType>(__builtin_ctz(matched));
    }
    if (matched == (bit(MemoryType::write_through) | bit(MemoryType::write_back))) {
        return MemoryType::write_through;
    }
    // UC wins over anything; every other overlap is undefined in the SDM,
    // and UC is the one choice that never caches what must not be cached.
    return MemoryType::uncacheable;
}

// Sorts and deduplicates boundaries[0, count); returns the new count. An
// insertion sort: at most kMaxBoundaries values, and no library needed.
[[nodiscard]] std::size_t sort_unique(std::array<std::uint64_t, kMaxBoundaries>& boundaries,
                                      std::size_t count)
{
    for (std::size_t i = 1; i < count; ++i) {
        const std::uint64_t value = boundaries[i];
        std::size_t j = i;
        for (; j > 0 && boundaries[j - 1] > value; --j) {
            boundaries[j] = boundaries[j - 1];
        }
        boundaries[j] = value;
    }
    std::size_t unique = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (unique == 0 || boundaries[unique - 1] != boundaries[i]) {
            boundaries[unique++] = boundaries[i];
        }
    }
    return unique;
}

// Appends [begin, end) of `type` unless it is the default type.
[[nodiscard]] Result<void, MtrrError> emit(std::span<MemoryTypeRange> out, MtrrMap& map,
                                           std::uint64_t begin, std::uint64_t end, MemoryType type)
{
    if (type == map.default_type) {
        return {};
    }
    if (map.count == out.size()) {
        return make_error(MtrrError::output_too_small);
    }
    out[map.count++] = MemoryTypeRange{PhysRange::from_to(PhysAddr{begin}, PhysAddr{end}), type};
    return {};
}

}  // namespace

Result<MemoryType, MtrrError> mtrr_type_at(const MtrrState& state, std::uint64_t address)
{
    auto mtrrs = validate(state);
    if (!mtrrs) {
        return make_error(mtrrs.error());
    }
    return type_at(*mtrrs, address);
}

Result<MtrrMap, MtrrError> decode_mtrrs(const MtrrState& state, std::span<MemoryTypeRange> out)
{
    auto validated = validate(state);
    if (!validated) {
        return make_error(validated.error());
    }
    const Decoded& mtrrs = *validated;
    MtrrMap map{mtrrs.default_type, 0};
    if (!mtrrs.enabled) {
        return map;
    }

    // The type is constant between consecutive boundaries, so one lookup
    // per interval resolves the whole address space.
    std::array<std::uint64_t, kMaxBoundaries> boundaries{};
    std::size_t count = 0;
    boundaries[count++] = 0;
    boundaries[count++] = mtrrs.limit;
    if (mtrrs.fixed_enabled) {
        for (const FixedRangeLayout& layout : kFixedLayout) {
            for (std::size_t i = 1; i <= kSubRangesPerMsr; ++i) {
                boundaries[count++] = layout.base + i * layout.sub_range_size;
            }
        }
    }
    for (std::size_t i = 0; i < mtrrs.variable_count; ++i) {
        const auto range = variable_range(state.variable[i], mtrrs.limit);
        if (range && range->valid) {
            boundaries[count++] = range->begin;
            boundaries[count++] = range->end;
        }
    }
    count = sort_unique(boundaries, count);

    // Adjacent intervals of one type merge into one range.
    std::uint64_t run_begin = 0;
    MemoryType run_type = type_at(mtrrs, 0);
    for (std::size_t i = 1; i + 1 < count; ++i) {
        const MemoryType type = type_at(mtrrs, boundaries[i]);
        if (type != run_type) {
            BOXY_TRY(emit(out, map, run_begin, boundaries[i], run_type));
            run_begin = boundaries[i];
            run_type = type;
        }
    }
    BOXY_TRY(emit(out, map, run_begin, mtrrs.limit, run_type));
    return map;
}

}  // namespace boxy::vmm
