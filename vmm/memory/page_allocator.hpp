// SPDX-License-Identifier: MIT
//
// Physical page allocator over one contiguous VMM-owned region: the page
// pool that the EFI loader reserves at boot (docs/architecture.md, "Memory
// ownership"). The VMM has no heap, so the bookkeeping lives in the first
// pages of the region itself: a header and two bitmaps (page in use; page
// starts an allocated run). The second bitmap lets free() reject anything
// that is not exactly one earlier allocation (double frees, frees of a page
// inside a run, wrong sizes) with an error instead of corrupting the pool.
//
// PageAllocator is a handle, like a pointer: all state is in the region, so
// copies share one pool and stay consistent. It is NOT thread-safe: callers
// serialise every call on one pool with a lock (Spinlock, spinlock.hpp),
// including calls made through a NestedPageTable built on it.
//
// Physical addresses reach memory through `mapping`, where the region is
// visible in the current address space: in the VMM the pool is
// identity-mapped (mapping == base), in host tests it is a heap buffer.
#pragma once

#include "memory/address.hpp"
#include "memory/memory_error.hpp"
#include "memory/spinlock.hpp"  // what callers lock a shared pool with

#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>

namespace boxy::vmm {

class PageAllocator {
public:
    // An empty allocator: owns nothing, every allocation fails.
    constexpr PageAllocator() = default;

    // Takes over `pages` 4 KiB pages at physical `base`, visible at the
    // page-aligned `mapping`. Overwrites the bookkeeping pages; the content
    // of the other pages is irrelevant (they are zeroed on allocation).
    [[nodiscard]] static Result<PageAllocator, MemoryError> create(PhysAddr base, PageCount pages,
                                                                   std::byte* mapping);

    // One zeroed 4 KiB page.
    [[nodiscard]] Result<PhysAddr, MemoryError> allocate_page();
    // `count` physically contiguous zeroed pages whose first page is aligned
    // to `alignment` bytes (a power of two; 4 KiB or less means any page).
    [[nodiscard]] Result<PhysAddr, MemoryError> allocate_run(PageCount count,
                                                             std::uint64_t alignment = kPageSize4K);

    // Frees what one allocate_page() / allocate_run(count) returned. Any
    // other argument is an error and changes nothing.
    [[nodiscard]] Result<void, MemoryError> free_page(PhysAddr page);
    [[nodiscard]] Result<void, MemoryError> free_run(PhysAddr first, PageCount count);

    [[nodiscard]] bool valid() const { return header_ != nullptr; }
    // The whole region, bookkeeping pages included.
    [[nodiscard]] PhysRange region() const;
    [[nodiscard]] bool contains(PhysAddr address) const { return region().contains(address); }
    [[nodiscard]] PageCount free_pages() const;
    // Pages that can ever be allocated: the region minus the bookkeeping.
    [[nodiscard]] PageCount usable_pages() const;
    [[nodiscard]] PageCount bookkeeping_pages() const;

    // Where a physical address of the region is visible; nullptr outside it.
    [[nodiscard]] std::byte* to_virtual(PhysAddr address) const;

    // Bookkeeping pages needed for a region of `pages` pages.
    [[nodiscard]] static PageCount bookkeeping_pages_for(PageCount pages);

private:
    struct Header;

    PageAllocator(Header* header, std::byte* mapping) : header_{header}, mapping_{mapping} {}

    [[nodiscard]] std::uint64_t* used_bits() const;
    [[nodiscard]] std::uint64_t* start_bits() const;
    [[nodiscard]] std::uint64_t page_count() const;
    [[nodiscard]] std::uint64_t find_free_from(std::uint64_t index) const;
    [[nodiscard]] std::uint64_t find_used_in(std::uint64_t first, std::uint64_t end) const;
    [[nodiscard]] Result<std::uint64_t, MemoryError> find_run(std::uint64_t count,
                                                              std::uint64_t alignment) const;
    [[nodiscard]] Result<std::uint64_t, MemoryError> check_run(PhysAddr first,
                                                               std::uint64_t count) const;

    Header* header_{nullptr};
    std::byte* mapping_{nullptr};
};

}  // namespace boxy::vmm
