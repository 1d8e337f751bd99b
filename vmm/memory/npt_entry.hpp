// SPDX-License-Identifier: MIT
//
// AMD nested page table (NPT) entries. Nested tables use the ordinary
// long-mode 4-level format (APM Vol. 2, 15.25.5 "Nested Table Walk"; entry
// layouts in 5.3.3, figures "4-Kbyte PML4E/PDPE/PDE/PTE-Long Mode" and the
// 2-Mbyte and 1-Gbyte variants):
//
//   bit 0 P, 1 R/W, 2 U/S, 3 PWT, 4 PCD, 5 A, 6 D (leaves), 7 PS in PDPE/PDE
//   (PAT in a 4 KiB PTE), 12 PAT (2M/1G leaves), 51:12 address, 63 NX.
//
// Every nested walk access is a user access (15.25.5), so U/S is set at every
// level, or the guest faults on every access. NX stays clear: the host VM
// executes wherever it likes; the VMM is protected by not being mapped.
#pragma once

#include "memory/address.hpp"
#include "memory/memory_type.hpp"

#include <cstdint>

namespace boxy::vmm {

class NptEntry {
public:
    static constexpr std::uint64_t kPresent = std::uint64_t{1} << 0;
    static constexpr std::uint64_t kWritable = std::uint64_t{1} << 1;
    static constexpr std::uint64_t kUser = std::uint64_t{1} << 2;
    static constexpr std::uint64_t kWriteThrough = std::uint64_t{1} << 3;  // PWT
    static constexpr std::uint64_t kCacheDisable = std::uint64_t{1} << 4;  // PCD
    static constexpr std::uint64_t kAccessed = std::uint64_t{1} << 5;
    static constexpr std::uint64_t kDirty = std::uint64_t{1} << 6;
    static constexpr std::uint64_t kLargePage = std::uint64_t{1} << 7;  // PS, in PDPE and PDE only
    static constexpr std::uint64_t kPat4K = std::uint64_t{1} << 7;      // PAT, in a 4 KiB PTE
    static constexpr std::uint64_t kPatLarge = std::uint64_t{1} << 12;  // PAT, in a 2M/1G leaf
    static constexpr std::uint64_t kNoExecute = std::uint64_t{1} << 63;
    static constexpr std::uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000;

    constexpr NptEntry() = default;
    constexpr explicit NptEntry(std::uint64_t raw) : raw_{raw} {}

    // A non-leaf entry pointing at the next table.
    [[nodiscard]] static constexpr NptEntry table(PhysAddr next)
    {
        return NptEntry{(next.raw() & kAddressMask) | kPresent | kWritable | kUser};
    }

    // A read/write/execute leaf mapping `frame` (aligned to `size`).
    //
    // Memory type: the nested entry selects a type through the host's PAT
    // MSR, and the guest's own type (guest PAT, and the MTRRs) is combined
    // with it (APM Vol. 2, 15.25.8 "Combining Memory Types, MTRRs"). The
    // VMM leaves the host IA32_PAT at its reset value (PA0 WB, PA1 WT, PA2
    // UC-, PA3 UC; APM Vol. 2, 7.8 "Page-Attribute Table Mechanism"), so
    // PWT and PCD suffice: WB -> index 0, WT -> 1, UC -> 3. WC and WP have
    // no reset-PAT index and become UC, which is never less strict. For the
    // host VM, pass WB everywhere: it imposes nothing, the guest decides.
    [[nodiscard]] static constexpr NptEntry leaf(PhysAddr frame, PageSize size, MemoryType type)
    {
        std::uint64_t raw = (frame.raw() & kAddressMask) | kPresent | kWritable | kUser;
        if (size != PageSize::size_4k) {
            raw |= kLargePage;
        }
        switch (type) {
            case MemoryType::write_back: break;
            case MemoryType::write_through: raw |= kWriteThrough; break;
            case MemoryType::uncacheable:
            case MemoryType::write_combining:
            case MemoryType::write_protected: raw |= kWriteThrough | kCacheDisable; break;
        }
        return NptEntry{raw};
    }

    [[nodiscard]] constexpr std::uint64_t raw() const { return raw_; }
    [[nodiscard]] constexpr bool present() const { return (raw_ & kPresent) != 0; }
    [[nodiscard]] constexpr bool writable() const { return (raw_ & kWritable) != 0; }
    [[nodiscard]] constexpr bool user() const { return (raw_ & kUser) != 0; }
    [[nodiscard]] constexpr bool no_execute() const { return (raw_ & kNoExecute) != 0; }
    // PS: meaningful in a PDPE or PDE only (in a PTE, bit 7 is PAT).
    [[nodiscard]] constexpr bool large() const { return (raw_ & kLargePage) != 0; }

    // Next table of a non-leaf entry.
    [[nodiscard]] constexpr PhysAddr address() const { return PhysAddr{raw_ & kAddressMask}; }
    // Frame of a leaf of `size`; the low address bits of a large leaf hold
    // PAT (bit 12) or are reserved.
    [[nodiscard]] constexpr PhysAddr frame(PageSize size) const
    {
        return PhysAddr{raw_ & kAddressMask & ~(bytes_of(size) - 1)};
    }

    // Inverse of leaf()'s encoding; PCD alone (UC-) also reads as UC.
    [[nodiscard]] constexpr MemoryType memory_type() const
    {
        if ((raw_ & kCacheDisable) != 0) {
            return MemoryType::uncacheable;
        }
        return (raw_ & kWriteThrough) != 0 ? MemoryType::write_through : MemoryType::write_back;
    }

    // The `child_size` leaf mapping `offset` bytes into this `own_size`
    // leaf, with the same permissions and memory type. The PAT bit moves
    // between bit 12 (large leaves) and bit 7 (4 KiB leaves).
    [[nodiscard]] constexpr NptEntry split(PageSize own_size, std::uint64_t offset,
                                           PageSize child_size) const
    {
        const bool pat =
            own_size == PageSize::size_4k ? (raw_ & kPat4K) != 0 : (raw_ & kPatLarge) != 0;
        std::uint64_t raw = raw_ & ~kAddressMask & ~kLargePage;  // flags, PAT-4K/PS bit cleared
        if (child_size == PageSize::size_4k) {
            raw |= pat ? kPat4K : 0;
        } else {
            raw |= kLargePage | (pat ? kPatLarge : 0);
        }
        return NptEntry{raw | ((frame(own_size).raw() + offset) & kAddressMask)};
    }

    constexpr bool operator==(const NptEntry&) const = default;

private:
    std::uint64_t raw_{0};
};

static_assert(sizeof(NptEntry) == 8, "an NPT entry is one 64-bit word (APM Vol. 2, 5.3.3)");

}  // namespace boxy::vmm
