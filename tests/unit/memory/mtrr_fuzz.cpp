// SPDX-License-Identifier: MIT
//
// The MTRR decoder reads MSRs the firmware (or a hostile host, at late
// launch) set up. Fuzz every MSR value and the address width, and check
// what decode_mtrrs() promises: with a kMaxMtrrRanges output it never runs
// out of room, and its ranges are sorted, disjoint, page aligned, never the
// default type, and agree with the per-address lookup.
#include "fuzz_input.hpp"
#include "memory/mtrr.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

using namespace boxy::vmm;

namespace {

using boxy::fuzz::require;
using Input = boxy::fuzz::FuzzInput;

MemoryType lookup(const MtrrState& state, std::uint64_t address)
{
    auto type = mtrr_type_at(state, address);
    require(type.has_value());
    return *type;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    Input input{data, size};
    MtrrState state;
    const std::uint64_t shape = input.u64();
    state.physical_address_bits = 30 + static_cast<unsigned>(shape % 24);  // some invalid
    // Mostly valid types, so decoding gets past validation: keep a byte's
    // low 3 bits and map the reserved 2, 3, 7 to UC unless asked not to.
    const bool raw_types = (shape & 0x100) != 0;
    auto sanitize = [raw_types](std::uint64_t value, unsigned bytes) {
        if (raw_types) {
            return value;
        }
        for (unsigned i = 0; i < bytes; ++i) {
            std::uint64_t type = (value >> (8 * i)) & 7;
            if (type == 2 || type == 3 || type == 7) {
                type = 0;
            }
            value = (value & ~(0xFFULL << (8 * i))) | (type << (8 * i));
        }
        return value;
    };
    state.capabilities = input.u64() & 0x1FF;
    state.capabilities = (state.capabilities & ~0xFFULL) | ((state.capabilities & 0xFF) % 40);
    state.default_type = sanitize(input.u64() & 0xC07, 1);
    for (std::uint64_t& fixed : state.fixed) {
        fixed = sanitize(input.u64(), 8);
    }
    for (VariableMtrr& variable : state.variable) {
        variable.base = sanitize(input.u64() & ~0xF00ULL, 1);
        // A contiguous mask (all ones from a bit between 12 and 52 up) unless
        // bit 0 asks for the raw value; bit 11 is the valid bit either way.
        const std::uint64_t mask = input.u64();
        const auto lowest = static_cast<unsigned>(12 + (mask >> 58) % 41);
        const std::uint64_t contiguous = ~((std::uint64_t{1} << lowest) - 1);
        variable.mask = (mask & 0x800) | ((mask & 1) != 0 ? mask & ~0xFFFULL : contiguous);
    }

    std::array<MemoryTypeRange, kMaxMtrrRanges> out{};
    auto map = decode_mtrrs(state, out);
    auto probe = mtrr_type_at(state, 0);
    require(map.has_value() == probe.has_value());
    if (!map) {
        require(map.error() != MtrrError::output_too_small);
        return 0;
    }
    require(map->count <= out.size());
    std::uint64_t previous_end = 0;
    for (std::size_t i = 0; i < map->count; ++i) {
        const MemoryTypeRange& r = out[i];
        require(r.range.size > 0 && r.range.is_page_aligned() && r.range.within_phys_limit());
        require(r.range.base.raw() >= previous_end);
        require(r.type != map->default_type);
        require(lookup(state, r.range.base.raw()) == r.type);
        require(lookup(state, r.range.end().raw() - 1) == r.type);
        if (r.range.base.raw() > previous_end) {
            require(lookup(state, previous_end) == map->default_type);
        }
        previous_end = r.range.end().raw();
    }
    // A short output either fits the same ranges or says it is too small.
    std::array<MemoryTypeRange, 4> small{};
    auto short_map = decode_mtrrs(state, small);
    require(short_map.has_value() == (map->count <= small.size()));
    return 0;
}
