// SPDX-License-Identifier: MIT
//
// x86 memory types, with the encodings shared by the MTRRs, the PAT and
// EPT leaf entries (SDM Vol. 3A, "Memory Type Range Registers (MTRRs)",
// table "Memory Types That Can Be Encoded in MTRRs"; APM Vol. 2, 7.7
// "Memory-Type Range Registers"). UC- exists only as a PAT type and has no
// value here.
#pragma once

#include <cstdint>

namespace boxy::vmm {

enum class MemoryType : std::uint8_t {
    uncacheable = 0,
    write_combining = 1,
    write_through = 4,
    write_protected = 5,
    write_back = 6,
};

}  // namespace boxy::vmm
