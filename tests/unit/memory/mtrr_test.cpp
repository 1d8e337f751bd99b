// SPDX-License-Identifier: MIT
//
// The host MTRRs as EPT memory types (vmm/memory/mtrr.hpp): fixed ranges,
// variable-range precedence (SDM Vol. 3A, 12.11.4.1), disabled MTRRs, a
// typical firmware layout, errors, and the ranges fed to the EPT identity
// map. A brute-force cross-check compares decoded ranges with the
// per-address lookup over pseudo-random MTRR settings.
#include "memory/mtrr.hpp"

#include "test_pool.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

using namespace boxy::vmm;
using namespace boxy::vmm::test;

namespace {

constexpr std::uint64_t kEnable = 1U << 11;
constexpr std::uint64_t kFixedEnable = 1U << 10;
constexpr std::uint64_t kFixedSupported = 1U << 8;
constexpr std::uint64_t kWcSupported = 1U << 10;
constexpr std::uint64_t kValid = 1U << 11;

constexpr std::uint64_t kUc = 0;
constexpr std::uint64_t kWc = 1;
constexpr std::uint64_t kWt = 4;
constexpr std::uint64_t kWp = 5;
constexpr std::uint64_t kWb = 6;

constexpr std::uint64_t kGiB = kPageSize1G;
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

// Eight sub-ranges of one type, as a fixed-range MSR.
constexpr std::uint64_t all_eight(std::uint64_t type)
{
    return type * 0x0101'0101'0101'0101ULL;
}

// A variable range over [base, base + size), size a power of two.
VariableMtrr variable(std::uint64_t base, std::uint64_t size, std::uint64_t type,
                      unsigned address_bits)
{
    const std::uint64_t address_mask = ((std::uint64_t{1} << address_bits) - 1) & ~0xFFFULL;
    return VariableMtrr{base | type, (address_mask & ~(size - 1)) | kValid};
}

MtrrState state_with(std::uint64_t default_type, unsigned variable_count, bool fixed = false)
{
    MtrrState state;
    state.physical_address_bits = 46;
    state.capabilities = variable_count | kFixedSupported | kWcSupported;
    state.default_type = default_type | kEnable | (fixed ? kFixedEnable : 0);
    return state;
}

struct Decoded {
    MtrrMap map;
    std::vector<MemoryTypeRange> ranges;
};

Decoded decode(const MtrrState& state)
{
    std::array<MemoryTypeRange, kMaxMtrrRanges> out{};
    auto map = decode_mtrrs(state, out);
    REQUIRE(map.has_value());
    return Decoded{*map, std::vector<MemoryTypeRange>(out.begin(), out.begin() + map->count)};
}

MemoryTypeRange range(std::uint64_t begin, std::uint64_t end, MemoryType type)
{
    return MemoryTypeRange{PhysRange::from_to(PhysAddr{begin}, PhysAddr{end}), type};
}

void check_ranges(const std::vector<MemoryTypeRange>& actual,
                  const std::vector<MemoryTypeRange>& expected)
{
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        INFO("range " << i << ": " << std::hex << actual[i].range.base.raw() << " + "
                      << actual[i].range.size);
        CHECK(actual[i].range.base == expected[i].range.base);
        CHECK(actual[i].range.size == expected[i].range.size);
        CHECK(actual[i].type == expected[i].type);
    }
}

MemoryType type_at(const MtrrState& state, std::uint64_t address)
{
    auto type = mtrr_type_at(state, address);
    REQUIRE(type.has_value());
    return *type;
}

// A PC firmware layout: default WB; fixed ranges with RAM below 640 KiB,
// the legacy VGA window UC, option ROMs UC, the BIOS area WP; a variable
// UC hole for the 32-bit MMIO window at 3-4 GiB.
MtrrState firmware_layout()
{
    MtrrState state = state_with(kWb, 10, true);
    state.fixed[0] = all_eight(kWb);  // 0-512 KiB
    state.fixed[1] = all_eight(kWb);  // 512-640 KiB
    state.fixed[2] = all_eight(kUc);  // A0000-BFFFF
    for (std::size_t i = 3; i < 9; ++i) {
        state.fixed[i] = all_eight(kUc);  // C0000-EFFFF
    }
    state.fixed[9] = all_eight(kWp);   // F0000-F7FFF
    state.fixed[10] = all_eight(kWp);  // F8000-FFFFF
    state.variable[0] = variable(3 * kGiB, kGiB, kUc, 46);
    return state;
}

}  // namespace

TEST_CASE("mtrr: a typical firmware layout, WB default with a UC hole at 3-4 GiB")
{
    const MtrrState state = firmware_layout();
    const Decoded decoded = decode(state);
    CHECK(decoded.map.default_type == MemoryType::write_back);
    check_ranges(decoded.ranges, {range(0xA'0000, 0xF'0000, MemoryType::uncacheable),
                                  range(0xF'0000, kMiB, MemoryType::write_protected),
                                  range(3 * kGiB, 4 * kGiB, MemoryType::uncacheable)});
    CHECK(type_at(state, 0x9'FFFF) == MemoryType::write_back);
    CHECK(type_at(state, 0xA'0000) == MemoryType::uncacheable);
    CHECK(type_at(state, 0xF'FFFF) == MemoryType::write_protected);
    CHECK(type_at(state, 3 * kGiB - 1) == MemoryType::write_back);
    CHECK(type_at(state, 3 * kGiB) == MemoryType::uncacheable);
    CHECK(type_at(state, 4 * kGiB) == MemoryType::write_back);
}

TEST_CASE("mtrr: fixed ranges take every sub-range's own type")
{
    MtrrState state = state_with(kWb, 0, true);
    // 64K_00000: the second 64 KiB UC; 16K_80000: byte 3 (0x8C000) WT;
    // 4K_C8000: byte 7 (0xCF000) WC.
    state.fixed[0] = all_eight(kWb) & ~(0xFFULL << 8);
    state.fixed[1] = (all_eight(kWb) & ~(0xFFULL << 24)) | (kWt << 24);
    state.fixed[2] = all_eight(kWb);
    for (std::size_t i = 3; i < 11; ++i) {
        state.fixed[i] = all_eight(kWb);
    }
    state.fixed[4] = (all_eight(kWb) & ~(0xFFULL << 56)) | (kWc << 56);
    const Decoded decoded = decode(state);
    check_ranges(decoded.ranges, {range(0x1'0000, 0x2'0000, MemoryType::uncacheable),
                                  range(0x8'C000, 0x9'0000, MemoryType::write_through),
                                  range(0xC'F000, 0xD'0000, MemoryType::write_combining)});
}

TEST_CASE("mtrr: fixed ranges only with FE set and FIX supported, and only below 1 MiB")
{
    MtrrState state = firmware_layout();
    state.variable[1] = variable(0, 2 * kGiB, kWt, 46);  // overlaps the fixed area
    // FE set: below 1 MiB the fixed ranges win over the WT variable range.
    CHECK(type_at(state, 0x5'0000) == MemoryType::write_back);
    CHECK(type_at(state, 0xA'0000) == MemoryType::uncacheable);
    CHECK(type_at(state, kMiB) == MemoryType::write_through);

    MtrrState no_fe = state;
    no_fe.default_type &= ~kFixedEnable;
    CHECK(type_at(no_fe, 0x5'0000) == MemoryType::write_through);
    CHECK(type_at(no_fe, 0xA'0000) == MemoryType::write_through);
    check_ranges(decode(no_fe).ranges, {range(0, 2 * kGiB, MemoryType::write_through),
                                        range(3 * kGiB, 4 * kGiB, MemoryType::uncacheable)});

    MtrrState no_fix = state;
    no_fix.capabilities &= ~kFixedSupported;
    CHECK(type_at(no_fix, 0xA'0000) == MemoryType::write_through);
}

TEST_CASE("mtrr: overlapping variable ranges, UC wins")
{
    // The classic layout with a UC default: WB over 0-4 GiB, UC at 3-4 GiB.
    MtrrState state = state_with(kUc, 8);
    state.variable[0] = variable(0, 4 * kGiB, kWb, 46);
    state.variable[1] = variable(3 * kGiB, kGiB, kUc, 46);
    const Decoded decoded = decode(state);
    CHECK(decoded.map.default_type == MemoryType::uncacheable);
    check_ranges(decoded.ranges, {range(0, 3 * kGiB, MemoryType::write_back)});

    // UC wins in either order.
    std::swap(state.variable[0], state.variable[1]);
    check_ranges(decode(state).ranges, {range(0, 3 * kGiB, MemoryType::write_back)});
    CHECK(type_at(state, 3 * kGiB + 5) == MemoryType::uncacheable);
}

TEST_CASE("mtrr: overlapping variable ranges, WT wins over WB")
{
    MtrrState state = state_with(kUc, 8);
    state.variable[0] = variable(kGiB, kGiB / 2, kWt, 46);
    state.variable[1] = variable(0, 2 * kGiB, kWb, 46);
    check_ranges(decode(state).ranges, {range(0, kGiB, MemoryType::write_back),
                                        range(kGiB, kGiB + kGiB / 2, MemoryType::write_through),
                                        range(kGiB + kGiB / 2, 2 * kGiB, MemoryType::write_back)});
}

TEST_CASE("mtrr: an overlap the SDM leaves undefined resolves to UC")
{
    MtrrState state = state_with(kWb, 8);
    state.variable[0] = variable(0, 2 * kGiB, kWb, 46);
    state.variable[1] = variable(kGiB, kGiB / 2, kWc, 46);
    check_ranges(decode(state).ranges, {range(kGiB, kGiB + kGiB / 2, MemoryType::uncacheable)});
    // Three overlapping: WT and WB would be WT, but WP makes it undefined.
    state.variable[2] = variable(0, 4 * kGiB, kWt, 46);
    state.variable[1] = variable(kGiB, kGiB / 2, kWp, 46);
    CHECK(type_at(state, kGiB) == MemoryType::uncacheable);
    CHECK(type_at(state, 0) == MemoryType::write_through);
}

TEST_CASE("mtrr: ranges of one type merge, identical overlaps are that type")
{
    MtrrState state = state_with(kUc, 8);
    state.variable[0] = variable(0, kGiB, kWb, 46);
    state.variable[1] = variable(kGiB, kGiB, kWb, 46);
    state.variable[2] = variable(kGiB, kGiB / 4, kWb, 46);
    // Disabled entries (V clear) are ignored, whatever they hold.
    state.variable[3] = VariableMtrr{2 * kGiB | kWt, 0};
    check_ranges(decode(state).ranges, {range(0, 2 * kGiB, MemoryType::write_back)});
}

TEST_CASE("mtrr: a variable range past MAXPHYADDR bits is cut to the address width")
{
    MtrrState state = state_with(kUc, 8);
    state.physical_address_bits = 36;
    // The top 32 GiB of a 64 GiB physical address space, base written with
    // bits above MAXPHYADDR (ignored).
    state.variable[0] = VariableMtrr{(std::uint64_t{1} << 40) | (32 * kGiB) | kWb,
                                     (0xF'FFFF'FFFF'F000ULL & ~(32 * kGiB - 1)) | kValid};
    check_ranges(decode(state).ranges, {range(32 * kGiB, 64 * kGiB, MemoryType::write_back)});
}

TEST_CASE("mtrr: disabled MTRRs make everything UC")
{
    MtrrState state = firmware_layout();
    state.default_type &= ~kEnable;
    const Decoded decoded = decode(state);
    CHECK(decoded.map.default_type == MemoryType::uncacheable);
    CHECK(decoded.ranges.empty());
    CHECK(type_at(state, 0) == MemoryType::uncacheable);
    CHECK(type_at(state, 8 * kGiB) == MemoryType::uncacheable);
}

TEST_CASE("mtrr: errors are values")
{
    std::array<MemoryTypeRange, kMaxMtrrRanges> out{};
    auto error_of = [&](const MtrrState& state) {
        auto map = decode_mtrrs(state, out);
        REQUIRE_FALSE(map.has_value());
        return map.error();
    };

    SECTION("output too small")
    {
        const MtrrState state = firmware_layout();
        std::array<MemoryTypeRange, 2> small{};
        auto map = decode_mtrrs(state, small);
        REQUIRE_FALSE(map.has_value());
        CHECK(map.error() == MtrrError::output_too_small);
        std::array<MemoryTypeRange, 3> exact{};
        CHECK(decode_mtrrs(state, exact).has_value());
    }
    SECTION("reserved memory types")
    {
        MtrrState state = firmware_layout();
        state.default_type = (state.default_type & ~0xFFULL) | 2;
        CHECK(error_of(state) == MtrrError::invalid_memory_type);
        state = firmware_layout();
        state.fixed[5] |= 7ULL << 16;
        CHECK(error_of(state) == MtrrError::invalid_memory_type);
        state = firmware_layout();
        state.variable[2] = variable(8 * kGiB, kGiB, 3, 46);
        CHECK(error_of(state) == MtrrError::invalid_memory_type);
        // Beyond VCNT nothing is read.
        state.capabilities = (state.capabilities & ~0xFFULL) | 2;
        CHECK(decode_mtrrs(state, out).has_value());
    }
    SECTION("a mask with holes")
    {
        MtrrState state = state_with(kWb, 8);
        state.variable[0] = VariableMtrr{kUc, (0x3FFF'FFFF'F000ULL & ~kGiB) | kValid};
        CHECK(error_of(state) == MtrrError::non_contiguous_mask);
    }
    SECTION("unsupported sizes")
    {
        MtrrState state = firmware_layout();
        state.physical_address_bits = 20;
        CHECK(error_of(state) == MtrrError::bad_physical_address_width);
        state.physical_address_bits = 53;
        CHECK(error_of(state) == MtrrError::bad_physical_address_width);
        state = firmware_layout();
        state.capabilities = (state.capabilities & ~0xFFULL) | (kMaxVariableMtrrs + 1);
        CHECK(error_of(state) == MtrrError::too_many_variable_ranges);
    }
}

TEST_CASE("mtrr: the decoded ranges drive the EPT identity map")
{
    const MtrrState state = firmware_layout();
    std::array<MemoryTypeRange, kMaxMtrrRanges> out{};
    auto map = decode_mtrrs(state, out);
    REQUIRE(map.has_value());

    TestPool pool{64};
    IdentityMapConfig config;
    config.top = PhysAddr{8 * kGiB};
    config.largest_page = PageSize::size_1g;
    config.memory_types = std::span<const MemoryTypeRange>{out.data(), map->count};
    config.default_memory_type = map->default_type;
    auto table = EptPageTable::identity_map(pool.allocator, config);
    REQUIRE(table.has_value());

    auto translation = [&](std::uint64_t address) {
        auto t = table->translate(PhysAddr{address});
        REQUIRE(t.has_value());
        return *t;
    };
    for (const std::uint64_t address :
         {std::uint64_t{0}, std::uint64_t{0x9'F000}, std::uint64_t{0xA'0000},
          std::uint64_t{0xE'F000}, std::uint64_t{0xF'0000}, kMiB, 3 * kGiB - 1, 3 * kGiB,
          4 * kGiB - 1, 4 * kGiB, 7 * kGiB}) {
        INFO("address " << std::hex << address);
        CHECK(translation(address).memory_type == type_at(state, address));
    }
    // Large pages wherever the type allows: the hole is one 1 GiB page.
    CHECK(translation(3 * kGiB).page_size == PageSize::size_1g);
    CHECK(translation(5 * kGiB).page_size == PageSize::size_1g);
    CHECK(translation(2 * kMiB).page_size == PageSize::size_2m);
    CHECK(translation(0xA'0000).page_size == PageSize::size_4k);
}

TEST_CASE("mtrr: decoded ranges agree with the per-address lookup")
{
    // A fixed-seed LCG: varied yet reproducible MTRR settings.
    std::uint64_t seed = 0x2545'F491'4F6C'DD1DULL;
    auto next = [&seed]() {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return seed >> 33;
    };
    constexpr std::array<std::uint64_t, 5> kTypes{kUc, kWc, kWt, kWp, kWb};
    for (int round = 0; round < 200; ++round) {
        const unsigned bits = 32 + static_cast<unsigned>(next() % 21);
        MtrrState state = state_with(kTypes[next() % kTypes.size()], 8, next() % 2 == 0);
        state.physical_address_bits = bits;
        for (std::uint64_t& fixed : state.fixed) {
            for (unsigned i = 0; i < 8; ++i) {
                fixed |= kTypes[next() % kTypes.size()] << (8 * i);
            }
        }
        for (std::size_t i = 0; i < 8; ++i) {
            const unsigned size_bits = 12 + static_cast<unsigned>(next() % (bits - 12));
            const std::uint64_t size = std::uint64_t{1} << size_bits;
            const std::uint64_t limit = std::uint64_t{1} << bits;
            const std::uint64_t base = (next() * kPageSize4K) % limit & ~(size - 1);
            state.variable[i] = variable(base, size, kTypes[next() % kTypes.size()], bits);
            if (next() % 4 == 0) {
                state.variable[i].mask &= ~kValid;
            }
        }
        INFO("round " << round);
        const Decoded decoded = decode(state);
        // Sorted, disjoint, page aligned, never the default type; and each
        // range's first, last and middle byte and the byte after a gap have
        // the type the lookup gives.
        std::uint64_t previous_end = 0;
        for (const MemoryTypeRange& r : decoded.ranges) {
            CHECK(r.range.base.raw() >= previous_end);
            CHECK(r.range.is_page_aligned());
            CHECK(r.range.size > 0);
            CHECK(r.type != decoded.map.default_type);
            for (const std::uint64_t address :
                 {r.range.base.raw(), r.range.base.raw() + r.range.size / 2,
                  r.range.end().raw() - 1}) {
                CHECK(type_at(state, address) == r.type);
            }
            if (r.range.base.raw() > previous_end) {
                CHECK(type_at(state, previous_end) == decoded.map.default_type);
                CHECK(type_at(state, r.range.base.raw() - 1) == decoded.map.default_type);
            }
            previous_end = r.range.end().raw();
        }
        if (previous_end < (std::uint64_t{1} << bits)) {
            CHECK(type_at(state, previous_end) == decoded.map.default_type);
        }
    }
}
