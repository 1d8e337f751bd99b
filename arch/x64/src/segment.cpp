// SPDX-License-Identifier: MIT
#include <arch/x64/segment.hpp>

namespace boxy::x64 {

SegmentState decode_descriptor(std::uint16_t selector, std::uint64_t low, std::uint64_t high,
                               bool system)
{
    SegmentState s{};
    s.selector = selector;
    std::uint32_t limit = static_cast<std::uint32_t>((low & 0xFFFF) | ((low >> 32) & 0xF0000));
    const bool granular = ((low >> 55) & 1) != 0;
    if (granular) {
        limit = (limit << 12) | 0xFFF;
    }
    s.limit = limit;
    s.base = ((low >> 16) & 0xFFFFFF) | (((low >> 56) & 0xFF) << 24);
    if (system) {
        s.base |= (high & 0xFFFFFFFF) << 32;
    }
    s.attributes = static_cast<std::uint16_t>(((low >> 40) & 0xFF) | (((low >> 52) & 0xF) << 8));
    return s;
}

SegmentState read_segment(std::uint64_t gdt_base, std::uint16_t gdt_limit, std::uint16_t selector,
                          bool system)
{
    const std::uint16_t index = selector & 0xFFF8;
    // Null selector, or one past the GDT limit (or in the LDT, bit 2): an
    // unusable segment rather than a read of random memory.
    if (index == 0 || (selector & 4) != 0 || index + (system ? 15U : 7U) > gdt_limit) {
        SegmentState s{};
        s.selector = selector;
        return s;
    }
    // The GDT is identity-mapped firmware memory at this point.
    const auto* entry = reinterpret_cast<const volatile std::uint64_t*>(gdt_base + index);
    return decode_descriptor(selector, entry[0], system ? entry[1] : 0, system);
}

}  // namespace boxy::x64
