// SPDX-License-Identifier: MIT
#include "memory/page_allocator.hpp"

namespace boxy::vmm {
namespace {

constexpr std::uint64_t kBitsPerWord = 64;
constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};
// "BOXYPOOL" in ASCII: marks a region as initialised by create().
constexpr std::uint64_t kHeaderMagic = 0x4C4F4F50'59584F42;

constexpr std::uint64_t words_for(std::uint64_t bits)
{
    return (bits + kBitsPerWord - 1) / kBitsPerWord;
}
constexpr std::uint64_t bit_of(std::uint64_t index)
{
    return std::uint64_t{1} << (index % kBitsPerWord);
}

bool test_bit(const std::uint64_t* words, std::uint64_t index)
{
    return (words[index / kBitsPerWord] & bit_of(index)) != 0;
}
void set_bit(std::uint64_t* words, std::uint64_t index)
{
    words[index / kBitsPerWord] |= bit_of(index);
}
void clear_bit(std::uint64_t* words, std::uint64_t index)
{
    words[index / kBitsPerWord] &= ~bit_of(index);
}

// Smallest `first + k * step` (k >= 0) that is >= `index`.
constexpr std::uint64_t next_candidate(std::uint64_t first, std::uint64_t step, std::uint64_t index)
{
    if (index <= first) {
        return first;
    }
    return first + (index - first + step - 1) / step * step;
}

}  // namespace

struct PageAllocator::Header {
    std::uint64_t magic;
    std::uint64_t base;   // physical address of page 0
    std::uint64_t pages;  // region size, bookkeeping included
    std::uint64_t
        bookkeeping_pages;  // pages [0, bookkeeping_pages) hold this header and the bitmaps
    std::uint64_t free_pages;
    std::uint64_t search_hint;  // invariant: no page below it is free
    // Followed by two bitmaps of words_for(pages) words each: in use, and
    // first page of an allocated run.
};

PageCount PageAllocator::bookkeeping_pages_for(PageCount pages)
{
    return PageCount::covering(sizeof(Header) +
                               2 * words_for(pages.count()) * sizeof(std::uint64_t));
}

Result<PageAllocator, MemoryError> PageAllocator::create(PhysAddr base, PageCount pages,
                                                         std::byte* mapping)
{
    // The mapping must be page-aligned so that every page's virtual address
    // is, and so that the header and bitmaps are naturally aligned.
    // reinterpret_cast: an address is only inspected, never dereferenced.
    const bool mapping_aligned = is_aligned(reinterpret_cast<std::uintptr_t>(mapping), kPageSize4K);
    if (mapping == nullptr || !mapping_aligned || !base.is_page_aligned()) {
        return make_error(MemoryError::bad_region);
    }
    if (pages.count() > kPhysAddrLimit / kPageSize4K ||
        !PhysRange{base, pages.bytes()}.within_phys_limit()) {
        return make_error(MemoryError::bad_region);
    }
    const std::uint64_t bookkeeping = bookkeeping_pages_for(pages).count();
    if (pages.count() <= bookkeeping) {
        return make_error(MemoryError::bad_region);
    }

    // The region is raw memory we own: the header and bitmaps are created
    // in its first pages. reinterpret_cast: Header is an implicit-lifetime
    // type, and every field is written before it is read.
    auto* header = reinterpret_cast<Header*>(mapping);
    header->magic = kHeaderMagic;
    header->base = base.raw();
    header->pages = pages.count();
    header->bookkeeping_pages = bookkeeping;
    header->free_pages = pages.count() - bookkeeping;
    header->search_hint = bookkeeping;

    PageAllocator allocator{header, mapping};
    const std::uint64_t words = words_for(pages.count());
    std::uint64_t* used = allocator.used_bits();
    std::uint64_t* starts = allocator.start_bits();
    for (std::uint64_t w = 0; w < words; ++w) {
        used[w] = 0;
        starts[w] = 0;
    }
    // The bookkeeping pages are permanently in use. Bits past the end of
    // the region in the last word are marked used so scans never pick them.
    for (std::uint64_t i = 0; i < bookkeeping; ++i) {
        set_bit(used, i);
    }
    for (std::uint64_t i = pages.count(); i < words * kBitsPerWord; ++i) {
        set_bit(used, i);
    }
    return allocator;
}

std::uint64_t* PageAllocator::used_bits() const
{
    // The bitmaps follow the header inside the bookkeeping pages (see
    // Header); reinterpret_cast: u64 arrays created by create().
    return reinterpret_cast<std::uint64_t*>(mapping_ + sizeof(Header));
}

std::uint64_t* PageAllocator::start_bits() const
{
    return used_bits() + words_for(header_->pages);
}

std::uint64_t PageAllocator::page_count() const
{
    return header_ == nullptr ? 0 : header_->pages;
}

PhysRange PageAllocator::region() const
{
    if (header_ == nullptr) {
        return {};
    }
    return PhysRange{PhysAddr{header_->base}, header_->pages * kPageSize4K};
}

PageCount PageAllocator::free_pages() const
{
    return PageCount{header_ == nullptr ? 0 : header_->free_pages};
}

PageCount PageAllocator::bookkeeping_pages() const
{
    return PageCount{header_ == nullptr ? 0 : header_->bookkeeping_pages};
}

PageCount PageAllocator::usable_pages() const
{
    return PageCount{page_count() - bookkeeping_pages().count()};
}

std::byte* PageAllocator::to_virtual(PhysAddr address) const
{
    const PhysRange whole = region();
    if (!whole.contains(address)) {
        return nullptr;
    }
    return mapping_ + (address - whole.base);
}

// First free page at or after `index`; page_count() if none.
std::uint64_t PageAllocator::find_free_from(std::uint64_t index) const
{
    const std::uint64_t* used = used_bits();
    const std::uint64_t pages = page_count();
    while (index < pages) {
        const std::uint64_t word =
            used[index / kBitsPerWord] | (bit_of(index) - 1);  // ignore bits below index
        if (word != kAllOnes) {
            const auto bit = static_cast<std::uint64_t>(__builtin_ctzll(~word));
            const std::uint64_t found = index / kBitsPerWord * kBitsPerWord + bit;
            return found < pages ? found : pages;
        }
        index = (index / kBitsPerWord + 1) * kBitsPerWord;
    }
    return pages;
}

// First page in use in [first, end); `end` if none.
std::uint64_t PageAllocator::find_used_in(std::uint64_t first, std::uint64_t end) const
{
    const std::uint64_t* used = used_bits();
    std::uint64_t index = first;
    while (index < end) {
        const std::uint64_t word =
            used[index / kBitsPerWord] & ~(bit_of(index) - 1);  // ignore bits below index
        if (word != 0) {
            const auto bit = static_cast<std::uint64_t>(__builtin_ctzll(word));
            const std::uint64_t found = index / kBitsPerWord * kBitsPerWord + bit;
            return found < end ? found : end;
        }
        index = (index / kBitsPerWord + 1) * kBitsPerWord;
    }
    return end;
}

// First-fit search for `count` free pages whose physical address is aligned
// to `alignment`. Alignment is of the physical address, not of the page
// index: the region base itself may be less aligned.
Result<std::uint64_t, MemoryError> PageAllocator::find_run(std::uint64_t count,
                                                           std::uint64_t alignment) const
{
    const std::uint64_t pages = page_count();
    const std::uint64_t base = header_->base;
    const std::uint64_t step = alignment / kPageSize4K;
    // First index whose address is aligned, then skip the known-used prefix.
    const std::uint64_t first_aligned = (align_up(base, alignment) - base) / kPageSize4K;
    std::uint64_t candidate = next_candidate(first_aligned, step, header_->search_hint);
    while (candidate < pages && count <= pages - candidate) {
        const std::uint64_t free = find_free_from(candidate);
        candidate = next_candidate(first_aligned, step, free);
        if (candidate >= pages || count > pages - candidate) {
            break;
        }
        const std::uint64_t used = find_used_in(candidate, candidate + count);
        if (used == candidate + count) {
            return candidate;
        }
        candidate = next_candidate(first_aligned, step, used + 1);
    }
    return make_error(MemoryError::out_of_memory);
}

Result<PhysAddr, MemoryError> PageAllocator::allocate_page()
{
    return allocate_run(PageCount{1});
}

Result<PhysAddr, MemoryError> PageAllocator::allocate_run(PageCount count, std::uint64_t alignment)
{
    if (count.count() == 0 || !is_power_of_two(alignment)) {
        return make_error(MemoryError::bad_argument);
    }
    if (header_ == nullptr || count.count() > header_->free_pages) {
        return make_error(MemoryError::out_of_memory);
    }
    if (alignment < kPageSize4K) {
        alignment = kPageSize4K;
    }
    if (alignment > kPhysAddrLimit) {
        return make_error(MemoryError::out_of_memory);
    }
    auto found = find_run(count.count(), alignment);
    if (!found) {
        return make_error(found.error());
    }
    const std::uint64_t first = *found;
    std::uint64_t* used = used_bits();
    for (std::uint64_t i = first; i < first + count.count(); ++i) {
        set_bit(used, i);
    }
    set_bit(start_bits(), first);
    header_->free_pages -= count.count();
    if (first == header_->search_hint) {
        header_->search_hint = first + count.count();
    }
    // Pages may hold a previous owner's data (page tables, a guest's VMCB),
    // so every allocation starts zeroed. Compiles to a memset call: libc on
    // the host, vmm/runtime in the VMM.
    __builtin_memset(mapping_ + first * kPageSize4K, 0, count.bytes());
    return PhysAddr{header_->base + first * kPageSize4K};
}

// Validates that [first, first + count pages) is exactly one allocated run;
// returns its first page index.
Result<std::uint64_t, MemoryError> PageAllocator::check_run(PhysAddr first,
                                                            std::uint64_t count) const
{
    if (count == 0) {
        return make_error(MemoryError::bad_argument);
    }
    if (!first.is_page_aligned()) {
        return make_error(MemoryError::unaligned);
    }
    const PhysRange whole = region();
    if (!whole.contains(first) || count > (whole.end() - first) / kPageSize4K) {
        return make_error(MemoryError::outside_region);
    }
    const std::uint64_t index = (first - whole.base) / kPageSize4K;
    if (index < header_->bookkeeping_pages) {
        return make_error(MemoryError::outside_region);
    }
    const std::uint64_t* used = used_bits();
    const std::uint64_t* starts = start_bits();
    if (!test_bit(starts, index)) {
        return make_error(test_bit(used, index) ? MemoryError::not_an_allocation
                                                : MemoryError::not_allocated);
    }
    for (std::uint64_t i = index + 1; i < index + count; ++i) {
        if (!test_bit(used, i) || test_bit(starts, i)) {
            return make_error(MemoryError::not_an_allocation);
        }
    }
    // The run must also end here: the next page is free, starts another
    // run, or lies past the region.
    const std::uint64_t after = index + count;
    if (after < header_->pages && test_bit(used, after) && !test_bit(starts, after)) {
        return make_error(MemoryError::not_an_allocation);
    }
    return index;
}

Result<void, MemoryError> PageAllocator::free_page(PhysAddr page)
{
    return free_run(page, PageCount{1});
}

Result<void, MemoryError> PageAllocator::free_run(PhysAddr first, PageCount count)
{
    if (header_ == nullptr) {
        return make_error(MemoryError::outside_region);
    }
    auto checked = check_run(first, count.count());
    if (!checked) {
        return make_error(checked.error());
    }
    const std::uint64_t index = *checked;
    std::uint64_t* used = used_bits();
    for (std::uint64_t i = index; i < index + count.count(); ++i) {
        clear_bit(used, i);
    }
    clear_bit(start_bits(), index);
    header_->free_pages += count.count();
    if (index < header_->search_hint) {
        header_->search_hint = index;
    }
    return {};
}

}  // namespace boxy::vmm
