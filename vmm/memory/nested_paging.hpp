// SPDX-License-Identifier: MIT
//
// Nested page tables (AMD NPT, Intel EPT): the second translation stage from
// guest-physical to host-physical addresses. One builder serves both; the
// entry format is the template parameter (npt_entry.hpp, ept_entry.hpp).
//
// For the host VM, identity_map() maps guest-physical = host-physical for
// [0, top) except the holes (the VMM's own memory), which are not mapped at
// all (docs/architecture.md, "Memory ownership"). It uses the largest pages
// allowed and splits only where a hole or a memory-type boundary is not
// aligned, so the tables are minimal: a table exists only where its span is
// neither one leaf nor empty.
//
// Limits: 4-level tables translate 48-bit guest-physical addresses, so
// guest-physical ranges end at kNestedPagingLimit (256 TiB); host frames may
// go up to 2^52. Table pages come from a PageAllocator.
//
// Concurrency and TLBs: not thread-safe. Callers hold the allocator's lock
// and serialise changes to one table. Entries are written with single
// release-ordered 64-bit stores, and a split installs a fully written child
// table, so a CPU walking the tables concurrently sees either the old or the
// new translation for every address. Cached translations survive until the
// caller invalidates them (INVEPT; SVM's TLB_CONTROL in the VMCB) after
// map() or unmap(), and before reusing unmapped memory. Table pages that
// map() and unmap() free go straight back to the allocator while CPUs may
// still cache them as paging structures, so invalidate before releasing
// the pool lock (before anyone can allocate and rewrite them).
#pragma once

#include "memory/address.hpp"
#include "memory/ept_entry.hpp"
#include "memory/memory_error.hpp"
#include "memory/memory_type.hpp"
#include "memory/npt_entry.hpp"
#include "memory/page_allocator.hpp"

#include <boxy/result.hpp>

#include <concepts>
#include <cstdint>
#include <span>
#include <type_traits>

namespace boxy::vmm {

// The entry format a NestedPageTable is built from. See NptEntry and
// EptEntry for the two implementations and what each member means.
template <class E>
concept NestedPagingEntry = sizeof(E) == 8 && std::is_trivially_copyable_v<E>&& requires(
                                                  E e, PhysAddr address, PageSize size,
                                                  MemoryType type, std::uint64_t raw)
{
    E{raw};
    {
        E::table(address)
        } -> std::same_as<E>;
    {
        E::leaf(address, size, type)
        } -> std::same_as<E>;
    {
        e.raw()
        } -> std::same_as<std::uint64_t>;
    {
        e.present()
        } -> std::same_as<bool>;
    {
        e.large()
        } -> std::same_as<bool>;
    {
        e.address()
        } -> std::same_as<PhysAddr>;
    {
        e.frame(size)
        } -> std::same_as<PhysAddr>;
    {
        e.memory_type()
        } -> std::same_as<MemoryType>;
    {
        e.split(size, raw, size)
        } -> std::same_as<E>;
};

inline constexpr std::uint64_t kNestedPagingLimit = std::uint64_t{1} << 48;

struct MemoryTypeRange {
    PhysRange range;
    MemoryType type{MemoryType::write_back};
};

struct IdentityMapConfig {
    // Guest-physical [0, top) is mapped; 4 KiB aligned, <= kNestedPagingLimit.
    PhysAddr top;
    // size_1g only where the CPU supports 1 GiB nested pages (CPUID
    // Fn8000_0001 EDX[26] on AMD; IA32_VMX_EPT_VPID_CAP bit 17 on Intel).
    PageSize largest_page{PageSize::size_2m};
    // Never mapped; may overlap each other and extend past top.
    std::span<const PhysRange> holes;
    // Applied in order over default_memory_type: a later range overrides an
    // earlier one where they overlap.
    std::span<const MemoryTypeRange> memory_types;
    MemoryType default_memory_type{MemoryType::write_back};
};

// The top of the host VM's identity map, given the end of the highest range
// the firmware reports (memory map, PCI apertures): at least 4 GiB, so the
// 32-bit MMIO window (local APIC, I/O APIC, HPET, 32-bit BARs), which
// memory maps need not list, is mapped; rounded up to 1 GiB; at most
// kNestedPagingLimit.
[[nodiscard]] constexpr PhysAddr identity_map_top(PhysAddr highest_end)
{
    constexpr std::uint64_t kMinimum = std::uint64_t{4} * kPageSize1G;
    if (highest_end.raw() >= kNestedPagingLimit) {
        return PhysAddr{kNestedPagingLimit};
    }
    const std::uint64_t top = align_up(highest_end.raw(), kPageSize1G);
    return PhysAddr{top < kMinimum ? kMinimum : top};
}

struct Translation {
    PhysAddr address;    // host-physical address of the byte
    PageSize page_size;  // size of the leaf that maps it
    MemoryType memory_type;
};

// A handle to one tree of nested page tables, like PageAllocator: copies
// refer to the same tables; destroy() through one of them invalidates all.
// No destructor, so VMM globals need no exit-time registration.
template <NestedPagingEntry Entry>
class NestedPageTable {
public:
    constexpr NestedPageTable() = default;

    // A table that maps nothing.
    [[nodiscard]] static Result<NestedPageTable, MemoryError> create(PageAllocator allocator,
                                                                     PageSize largest_page);
    // The host VM's tables (see the file comment). On error, every page
    // taken from the allocator has been returned.
    [[nodiscard]] static Result<NestedPageTable, MemoryError> identity_map(
        PageAllocator allocator, const IdentityMapConfig& config);

    // Maps guest [guest.base, guest.end()) to host [host, host + guest.size)
    // with `type`, replacing what was mapped there. On out_of_memory part of
    // the range may be mapped; nothing outside it changes.
    [[nodiscard]] Result<void, MemoryError> map(PhysRange guest, PhysAddr host, MemoryType type);
    // Removes every translation in `guest`, splitting large pages that
    // straddle its ends. Atomic: on error (out of memory for a split table)
    // no translation has changed. Table pages left empty are freed.
    [[nodiscard]] Result<void, MemoryError> unmap(PhysRange guest);

    [[nodiscard]] Result<Translation, MemoryError> translate(PhysAddr guest) const;

    // Returns every table page to the allocator.
    [[nodiscard]] Result<void, MemoryError> destroy();

    [[nodiscard]] bool valid() const { return root_.raw() != 0; }
    // The top-level table: NPT's nCR3 (VMCB offset 0xB0), or the address in
    // the EPT pointer (ept_pointer()).
    [[nodiscard]] PhysAddr root() const { return root_; }
    [[nodiscard]] PageSize largest_page() const { return largest_page_; }
    // Table pages in use, counted by walking the tree.
    [[nodiscard]] std::uint64_t table_pages() const;

private:
    NestedPageTable(PageAllocator allocator, PhysAddr root, PageSize largest_page)
        : allocator_{allocator}, root_{root}, largest_page_{largest_page}
    {
    }

    [[nodiscard]] Result<void, MemoryError> build_identity(const IdentityMapConfig& config);
    [[nodiscard]] std::uint64_t* table_at(PhysAddr table) const;
    [[nodiscard]] bool leaf_allowed(int level) const;
    [[nodiscard]] Result<PhysAddr, MemoryError> split_leaf(std::uint64_t* slot, int level);
    [[nodiscard]] Result<void, MemoryError> split_at(PhysAddr boundary);
    [[nodiscard]] Result<void, MemoryError> map_in(PhysAddr table, int level,
                                                   std::uint64_t table_base, PhysRange guest,
                                                   PhysAddr host, MemoryType type);
    [[nodiscard]] Result<void, MemoryError> unmap_in(PhysAddr table, int level,
                                                     std::uint64_t table_base, PhysRange guest);
    [[nodiscard]] Result<void, MemoryError> collapse(std::uint64_t* slot, int level);
    [[nodiscard]] Result<void, MemoryError> free_tree(PhysAddr table, int level);
    [[nodiscard]] std::uint64_t count_tables(PhysAddr table, int level) const;

    PageAllocator allocator_;
    PhysAddr root_;
    PageSize largest_page_{PageSize::size_4k};
};

using NptPageTable = NestedPageTable<NptEntry>;
using EptPageTable = NestedPageTable<EptEntry>;

// Instantiated once, in nested_paging.cpp.
extern template class NestedPageTable<NptEntry>;
extern template class NestedPageTable<EptEntry>;

}  // namespace boxy::vmm
