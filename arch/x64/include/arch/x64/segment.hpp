// SPDX-License-Identifier: MIT
//
// Segment descriptors (Intel SDM Vol. 3, 3.4.5 "Segment Descriptors"; AMD APM
// Vol. 2, 4.8). Used to capture the running firmware's segment registers
// into a guest state: hidden base, limit and attributes come from the GDT.
#pragma once

#include <cstdint>

namespace boxy::x64 {

struct SegmentState {
    std::uint16_t selector;
    // Descriptor bits 40-47 in bits 0-7 and bits 52-55 in bits 8-11: the
    // AMD VMCB attribute format; VMX access rights derive from it.
    std::uint16_t attributes;
    std::uint32_t limit;
    std::uint64_t base;
};

// Reads the descriptor `selector` names from the GDT at `gdt_base` (mapped at
// that address). `system` selects the 16-byte long-mode form (TSS, LDT),
// whose base has 64 bits. A null selector gives an unusable segment
// (attributes 0).
[[nodiscard]] SegmentState read_segment(std::uint64_t gdt_base, std::uint16_t gdt_limit,
                                        std::uint16_t selector, bool system);

// The pure part, for tests: decode from the descriptor's two quadwords.
[[nodiscard]] SegmentState decode_descriptor(std::uint16_t selector, std::uint64_t low,
                                             std::uint64_t high, bool system);

}  // namespace boxy::x64
