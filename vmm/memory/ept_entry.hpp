// SPDX-License-Identifier: MIT
//
// Intel extended page table (EPT) entries (SDM Vol. 3C, 29.3.2 "EPT
// Translation Mechanism", tables 29-1 to 29-6; chapter numbers of the 2023+
// editions, 28.2.2 in older ones):
//
//   bit 0 read, 1 write, 2 execute (supervisor execute with mode-based
//   execute control), 5:3 memory type (leaves), 6 ignore PAT (leaves),
//   7 large page (PDPTE, PDE; reserved in the PML4E), 8 accessed, 9 dirty
//   (leaves), 10 user execute, 51:12 address, 63 suppress #VE.
//
// An entry is present when any of bits 2:0 is set. Write without read is a
// misconfiguration (29.3.3.1), so every entry here is R+W+X.
#pragma once

#include "memory/address.hpp"
#include "memory/memory_type.hpp"

#include <cstdint>

namespace boxy::vmm {

class EptEntry {
public:
    static constexpr std::uint64_t kRead = std::uint64_t{1} << 0;
    static constexpr std::uint64_t kWrite = std::uint64_t{1} << 1;
    static constexpr std::uint64_t kExecute = std::uint64_t{1} << 2;
    static constexpr std::uint64_t kPermissionMask = kRead | kWrite | kExecute;
    static constexpr unsigned kMemoryTypeShift = 3;
    static constexpr std::uint64_t kMemoryTypeMask = std::uint64_t{7} << kMemoryTypeShift;
    static constexpr std::uint64_t kIgnorePat = std::uint64_t{1} << 6;
    static constexpr std::uint64_t kLargePage = std::uint64_t{1} << 7;
    static constexpr std::uint64_t kAccessed = std::uint64_t{1} << 8;
    static constexpr std::uint64_t kDirty = std::uint64_t{1} << 9;
    static constexpr std::uint64_t kUserExecute = std::uint64_t{1} << 10;
    static constexpr std::uint64_t kSuppressVe = std::uint64_t{1} << 63;
    static constexpr std::uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000;

    constexpr EptEntry() = default;
    constexpr explicit EptEntry(std::uint64_t raw) : raw_{raw} {}

    // A non-leaf entry pointing at the next table; bits 7:3 are reserved
    // there and stay zero.
    [[nodiscard]] static constexpr EptEntry table(PhysAddr next)
    {
        return EptEntry{(next.raw() & kAddressMask) | kPermissionMask};
    }

    // A read/write/execute leaf of `type`. Ignore-PAT stays clear, so the
    // guest's PAT type combines with `type` as it would with an MTRR type
    // (SDM Vol. 3C, 29.3.7.2 "Memory Type Used for Translated
    // Guest-Physical Addresses"). The guest's own MTRRs are not consulted
    // under EPT, so MMIO must get UC here, not WB: callers pass ranges
    // derived from the host MTRRs or the firmware memory map.
    [[nodiscard]] static constexpr EptEntry leaf(PhysAddr frame, PageSize size, MemoryType type)
    {
        std::uint64_t raw = (frame.raw() & kAddressMask) | kPermissionMask |
                            (static_cast<std::uint64_t>(type) << kMemoryTypeShift);
        if (size != PageSize::size_4k) {
            raw |= kLargePage;
        }
        return EptEntry{raw};
    }

    [[nodiscard]] constexpr std::uint64_t raw() const { return raw_; }
    [[nodiscard]] constexpr bool present() const { return (raw_ & kPermissionMask) != 0; }
    [[nodiscard]] constexpr bool readable() const { return (raw_ & kRead) != 0; }
    [[nodiscard]] constexpr bool writable() const { return (raw_ & kWrite) != 0; }
    [[nodiscard]] constexpr bool executable() const { return (raw_ & kExecute) != 0; }
    [[nodiscard]] constexpr bool ignore_pat() const { return (raw_ & kIgnorePat) != 0; }
    // Meaningful in a PDPTE or PDE only (bit 7 is ignored in a 4 KiB PTE).
    [[nodiscard]] constexpr bool large() const { return (raw_ & kLargePage) != 0; }

    [[nodiscard]] constexpr PhysAddr address() const { return PhysAddr{raw_ & kAddressMask}; }
    [[nodiscard]] constexpr PhysAddr frame(PageSize size) const
    {
        return PhysAddr{raw_ & kAddressMask & ~(bytes_of(size) - 1)};
    }
    [[nodiscard]] constexpr MemoryType memory_type() const
    {
        return static_cast<MemoryType>((raw_ & kMemoryTypeMask) >> kMemoryTypeShift);
    }

    // The `child_size` leaf mapping `offset` bytes into this `own_size`
    // leaf, with the same permissions and memory type.
    [[nodiscard]] constexpr EptEntry split(PageSize own_size, std::uint64_t offset,
                                           PageSize child_size) const
    {
        std::uint64_t raw = raw_ & ~kAddressMask & ~kLargePage;
        if (child_size != PageSize::size_4k) {
            raw |= kLargePage;
        }
        return EptEntry{raw | ((frame(own_size).raw() + offset) & kAddressMask)};
    }

    constexpr bool operator==(const EptEntry&) const = default;

private:
    std::uint64_t raw_{0};
};

static_assert(sizeof(EptEntry) == 8, "an EPT entry is one 64-bit word (SDM Vol. 3C, 29.3.2)");

// The EPT pointer (VMCS field; SDM Vol. 3C, 25.6.11 "Extended-Page-Table
// Pointer (EPTP)"): bits 2:0 the memory type of EPT paging-structure
// accesses (WB; IA32_VMX_EPT_VPID_CAP bit 14 says the CPU supports it),
// bits 5:3 the page-walk length minus one (4-level: 3), bit 6 enables
// accessed/dirty flags, bits 51:12 the PML4 table.
[[nodiscard]] constexpr std::uint64_t ept_pointer(PhysAddr pml4, bool accessed_dirty = false)
{
    constexpr std::uint64_t kWalkLength4 = std::uint64_t{3} << 3;
    constexpr std::uint64_t kAccessedDirty = std::uint64_t{1} << 6;
    return (pml4.raw() & EptEntry::kAddressMask) |
           static_cast<std::uint64_t>(MemoryType::write_back) | kWalkLength4 |
           (accessed_dirty ? kAccessedDirty : 0);
}

}  // namespace boxy::vmm
