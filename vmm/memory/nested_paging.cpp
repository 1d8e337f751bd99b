// SPDX-License-Identifier: MIT
#include "memory/nested_paging.hpp"

namespace boxy::vmm {
namespace {

// Levels count from the leaves: 1 = page table (4 KiB entries), 2 = page
// directory (2 MiB), 3 = page-directory-pointer table (1 GiB), 4 = PML4
// (512 GiB). Each table is one 4 KiB page of 512 entries indexed by nine
// address bits (APM Vol. 2, 5.3.1; SDM Vol. 3C, 29.3.2).
constexpr int kTopLevel = 4;
constexpr std::uint64_t kEntriesPerTable = 512;

constexpr unsigned shift_of(int level)
{
    return 12U + 9U * static_cast<unsigned>(level - 1);
}
constexpr std::uint64_t span_of(int level)
{
    return std::uint64_t{1} << shift_of(level);
}
constexpr std::uint64_t index_of(std::uint64_t address, int level)
{
    return (address >> shift_of(level)) & (kEntriesPerTable - 1);
}
constexpr PageSize page_size_of(int level)
{
    switch (level) {
        case 3: return PageSize::size_1g;
        case 2: return PageSize::size_2m;
        default: return PageSize::size_4k;
    }
}
static_assert(span_of(2) == kPageSize2M && span_of(3) == kPageSize1G);
static_assert(span_of(kTopLevel) * kEntriesPerTable == kNestedPagingLimit);

// Table entries are read and written as whole aligned words: a CPU may walk
// live tables concurrently (and set accessed/dirty bits), and the release
// store orders a new child table's contents before the entry that links it.
template <class Entry>
Entry load(const std::uint64_t* slot)
{
    return Entry{__atomic_load_n(slot, __ATOMIC_RELAXED)};
}
template <class Entry>
void store(std::uint64_t* slot, Entry entry)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): a builtin, not a C vararg call
    __atomic_store_n(slot, entry.raw(), __ATOMIC_RELEASE);
}

// A leaf is any present PTE, or a PDE/PDPTE with the large-page bit (which
// is reserved in a PML4E, and never set here).
template <class Entry>
bool is_leaf(Entry entry, int level)
{
    return entry.present() && (level == 1 || (level <= 3 && entry.large()));
}

// Guest ranges must be page-aligned and end at or below the 48-bit limit.
Result<void, MemoryError> check_guest_range(PhysRange guest)
{
    if (!guest.is_page_aligned()) {
        return make_error(MemoryError::unaligned);
    }
    if (guest.base.raw() > kNestedPagingLimit ||
        guest.size > kNestedPagingLimit - guest.base.raw()) {
        return make_error(MemoryError::beyond_limit);
    }
    return {};
}

PhysRange clip(PhysRange range, PhysAddr top)
{
    if (range.base >= top) {
        return PhysRange{top, 0};
    }
    return PhysRange::from_to(range.base, range.end() < top ? range.end() : top);
}

}  // namespace

template <NestedPagingEntry Entry>
Result<NestedPageTable<Entry>, MemoryError> NestedPageTable<Entry>::create(PageAllocator allocator,
                                                                           PageSize largest_page)
{
    auto root = allocator.allocate_page();  // zeroed: nothing mapped
    if (!root) {
        return make_error(root.error());
    }
    return NestedPageTable{allocator, *root, largest_page};
}

template <NestedPagingEntry Entry>
Result<NestedPageTable<Entry>, MemoryError> NestedPageTable<Entry>::identity_map(
    PageAllocator allocator, const IdentityMapConfig& config)
{
    if (!config.top.is_page_aligned()) {
        return make_error(MemoryError::unaligned);
    }
    if (config.top.raw() > kNestedPagingLimit) {
        return make_error(MemoryError::beyond_limit);
    }
    for (const PhysRange& hole : config.holes) {
        if (!hole.is_page_aligned()) {
            return make_error(MemoryError::unaligned);
        }
        if (!hole.within_phys_limit()) {
            return make_error(MemoryError::beyond_limit);
        }
    }
    for (const MemoryTypeRange& typed : config.memory_types) {
        if (!typed.range.is_page_aligned()) {
            return make_error(MemoryError::unaligned);
        }
        if (!typed.range.within_phys_limit()) {
            return make_error(MemoryError::beyond_limit);
        }
    }

    auto created = create(allocator, config.largest_page);
    if (!created) {
        return make_error(created.error());
    }
    NestedPageTable table = *created;
    auto built = table.build_identity(config);
    if (!built) {
        // Our own tables: freeing them cannot fail unless memory is corrupt,
        // and the build error is the one worth reporting.
        static_cast<void>(table.destroy());
        return make_error(built.error());
    }
    return table;
}

// Maps everything with the default type, repaints the typed ranges, then
// punches the holes. map() merges and unmap() frees tables as it goes, so
// the result is the minimal tree whatever the order of the ranges.
template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::build_identity(const IdentityMapConfig& config)
{
    BOXY_TRY(
        map(PhysRange{PhysAddr{0}, config.top.raw()}, PhysAddr{0}, config.default_memory_type));
    for (const MemoryTypeRange& typed : config.memory_types) {
        const PhysRange range = clip(typed.range, config.top);
        BOXY_TRY(map(range, range.base, typed.type));
    }
    for (const PhysRange& hole : config.holes) {
        BOXY_TRY(unmap(clip(hole, config.top)));
    }
    return {};
}

template <NestedPagingEntry Entry>
std::uint64_t* NestedPageTable<Entry>::table_at(PhysAddr table) const
{
    // Every table page comes from allocator_, so it is inside its region,
    // and a page of 512 u64 entries created zeroed by allocate_page().
    // reinterpret_cast: the table is raw pool memory viewed as its words.
    return reinterpret_cast<std::uint64_t*>(allocator_.to_virtual(table));
}

template <NestedPagingEntry Entry>
bool NestedPageTable<Entry>::leaf_allowed(int level) const
{
    switch (level) {
        case 1: return true;
        case 2: return largest_page_ != PageSize::size_4k;
        case 3: return largest_page_ == PageSize::size_1g;
        default: return false;
    }
}

// Replaces the large leaf in `slot` (at `level`) with a table of 512
// smaller leaves that translate exactly the same; returns that table.
template <NestedPagingEntry Entry>
Result<PhysAddr, MemoryError> NestedPageTable<Entry>::split_leaf(std::uint64_t* slot, int level)
{
    const auto leaf = load<Entry>(slot);
    auto child = allocator_.allocate_page();
    if (!child) {
        return make_error(child.error());
    }
    std::uint64_t* words = table_at(*child);
    for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
        store(&words[i],
              leaf.split(page_size_of(level), i * span_of(level - 1), page_size_of(level - 1)));
    }
    store(slot, Entry::table(*child));
    return *child;
}

// Splits large leaves until none straddles `boundary`: afterwards every
// leaf lies wholly below or wholly above it. Translations do not change.
template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::split_at(PhysAddr boundary)
{
    if (boundary.raw() >= kNestedPagingLimit) {
        return {};
    }
    PhysAddr table = root_;
    for (int level = kTopLevel; level > 1; --level) {
        std::uint64_t* slot = &table_at(table)[index_of(boundary.raw(), level)];
        const auto entry = load<Entry>(slot);
        if (!entry.present()) {
            return {};
        }
        if (!is_leaf(entry, level)) {
            table = entry.address();
            continue;
        }
        if (boundary.is_aligned(span_of(level))) {
            return {};
        }
        auto child = split_leaf(slot, level);
        if (!child) {
            return make_error(child.error());
        }
        table = *child;
    }
    return {};
}

template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::map(PhysRange guest, PhysAddr host,
                                                      MemoryType type)
{
    BOXY_TRY(check_guest_range(guest));
    if (!host.is_page_aligned()) {
        return make_error(MemoryError::unaligned);
    }
    if (!PhysRange{host, guest.size}.within_phys_limit()) {
        return make_error(MemoryError::beyond_limit);
    }
    if (!valid()) {
        return make_error(MemoryError::bad_argument);
    }
    if (guest.empty()) {
        return {};
    }
    return map_in(root_, kTopLevel, 0, guest, host, type);
}

// Maps the part of `guest` that `table` (at `level`, translating from
// `table_base`) covers. An entry wholly inside `guest` whose host frame is
// suitably aligned becomes a leaf; any other entry gets a child table.
template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::map_in(PhysAddr table, int level,
                                                         std::uint64_t table_base, PhysRange guest,
                                                         PhysAddr host, MemoryType type)
{
    const std::uint64_t span = span_of(level);
    const std::uint64_t first = guest.base.raw() > table_base ? guest.base.raw() : table_base;
    const std::uint64_t table_end = table_base + span * kEntriesPerTable;
    const std::uint64_t end = guest.end().raw() < table_end ? guest.end().raw() : table_end;
    std::uint64_t* words = table_at(table);

    for (std::uint64_t address = align_down(first, span); address < end; address += span) {
        std::uint64_t* slot = &words[index_of(address, level)];
        const auto old = load<Entry>(slot);
        if (guest.contains(PhysRange{PhysAddr{address}, span}) && leaf_allowed(level)) {
            const PhysAddr frame = host + (address - guest.base.raw());
            if (frame.is_aligned(span)) {
                store(slot, Entry::leaf(frame, page_size_of(level), type));
                if (old.present() && !is_leaf(old, level)) {
                    BOXY_TRY(free_tree(old.address(), level - 1));
                }
                continue;
            }
        }
        PhysAddr child;
        if (!old.present()) {
            auto fresh = allocator_.allocate_page();
            if (!fresh) {
                return make_error(fresh.error());
            }
            child = *fresh;
            store(slot, Entry::table(child));
        } else if (is_leaf(old, level)) {
            auto split = split_leaf(slot, level);
            if (!split) {
                return make_error(split.error());
            }
            child = *split;
        } else {
            child = old.address();
        }
        BOXY_TRY(map_in(child, level - 1, address, guest, host, type));
        BOXY_TRY(collapse(slot, level));
    }
    return {};
}

template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::unmap(PhysRange guest)
{
    BOXY_TRY(check_guest_range(guest));
    if (!valid()) {
        return make_error(MemoryError::bad_argument);
    }
    if (guest.empty()) {
        return {};
    }
    // All allocation happens here, before any translation is removed. If
    // the second split fails, the first one stays: finer, but equivalent.
    BOXY_TRY(split_at(guest.base));
    BOXY_TRY(split_at(guest.end()));
    return unmap_in(root_, kTopLevel, 0, guest);
}

// Clears the part of `guest` that `table` covers; allocates nothing.
template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::unmap_in(PhysAddr table, int level,
                                                           std::uint64_t table_base,
                                                           PhysRange guest)
{
    const std::uint64_t span = span_of(level);
    const std::uint64_t first = guest.base.raw() > table_base ? guest.base.raw() : table_base;
    const std::uint64_t table_end = table_base + span * kEntriesPerTable;
    const std::uint64_t end = guest.end().raw() < table_end ? guest.end().raw() : table_end;
    std::uint64_t* words = table_at(table);

    for (std::uint64_t address = align_down(first, span); address < end; address += span) {
        std::uint64_t* slot = &words[index_of(address, level)];
        const auto entry = load<Entry>(slot);
        if (!entry.present()) {
            continue;
        }
        if (guest.contains(PhysRange{PhysAddr{address}, span})) {
            store(slot, Entry{});
            if (!is_leaf(entry, level)) {
                BOXY_TRY(free_tree(entry.address(), level - 1));
            }
            continue;
        }
        // A leaf here lies wholly outside `guest`: split_at() made both ends
        // of `guest` leaf boundaries. Only tables straddle them.
        if (is_leaf(entry, level)) {
            continue;
        }
        BOXY_TRY(unmap_in(entry.address(), level - 1, address, guest));
        BOXY_TRY(collapse(slot, level));
    }
    return {};
}

// Keeps the tree minimal after a change below `slot` (a table entry at
// `level`): an empty child table is freed, and a child of 512 leaves that
// one large leaf would translate identically is replaced by that leaf.
template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::collapse(std::uint64_t* slot, int level)
{
    const auto entry = load<Entry>(slot);
    if (!entry.present() || is_leaf(entry, level)) {
        return {};
    }
    const PhysAddr child = entry.address();
    const std::uint64_t* words = table_at(child);
    const int child_level = level - 1;

    bool empty = true;
    for (std::uint64_t i = 0; i < kEntriesPerTable && empty; ++i) {
        empty = !load<Entry>(&words[i]).present();
    }
    if (empty) {
        store(slot, Entry{});
        return allocator_.free_page(child);
    }

    const auto first = load<Entry>(&words[0]);
    if (!leaf_allowed(level) || !is_leaf(first, child_level)) {
        return {};
    }
    const PhysAddr frame = first.frame(page_size_of(child_level));
    if (!frame.is_aligned(span_of(level))) {
        return {};
    }
    // Comparing whole entries also compares permissions and accessed/dirty
    // bits: children that differ in anything do not merge.
    const Entry merged = Entry::leaf(frame, page_size_of(level), first.memory_type());
    for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
        const Entry expected =
            merged.split(page_size_of(level), i * span_of(child_level), page_size_of(child_level));
        if (load<Entry>(&words[i]) != expected) {
            return {};
        }
    }
    store(slot, merged);
    return allocator_.free_page(child);
}

// Frees `table` (at `level`) and every table below it.
template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::free_tree(PhysAddr table, int level)
{
    if (level > 1) {
        const std::uint64_t* words = table_at(table);
        for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
            const auto entry = load<Entry>(&words[i]);
            if (entry.present() && !is_leaf(entry, level)) {
                BOXY_TRY(free_tree(entry.address(), level - 1));
            }
        }
    }
    return allocator_.free_page(table);
}

template <NestedPagingEntry Entry>
Result<void, MemoryError> NestedPageTable<Entry>::destroy()
{
    if (!valid()) {
        return {};
    }
    BOXY_TRY(free_tree(root_, kTopLevel));
    root_ = PhysAddr{};
    return {};
}

template <NestedPagingEntry Entry>
Result<Translation, MemoryError> NestedPageTable<Entry>::translate(PhysAddr guest) const
{
    if (guest.raw() >= kNestedPagingLimit) {
        return make_error(MemoryError::beyond_limit);
    }
    if (!valid()) {
        return make_error(MemoryError::not_mapped);
    }
    PhysAddr table = root_;
    for (int level = kTopLevel; level >= 1; --level) {
        const auto entry = load<Entry>(&table_at(table)[index_of(guest.raw(), level)]);
        if (!entry.present()) {
            return make_error(MemoryError::not_mapped);
        }
        if (is_leaf(entry, level)) {
            const PageSize size = page_size_of(level);
            return Translation{entry.frame(size) + guest.offset_in(span_of(level)), size,
                               entry.memory_type()};
        }
        table = entry.address();
    }
    return make_error(MemoryError::not_mapped);  // unreachable: level 1 entries are leaves
}

template <NestedPagingEntry Entry>
std::uint64_t NestedPageTable<Entry>::count_tables(PhysAddr table, int level) const
{
    std::uint64_t count = 1;
    if (level > 1) {
        const std::uint64_t* words = table_at(table);
        for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
            const auto entry = load<Entry>(&words[i]);
            if (entry.present() && !is_leaf(entry, level)) {
                count += count_tables(entry.address(), level - 1);
            }
        }
    }
    return count;
}

template <NestedPagingEntry Entry>
std::uint64_t NestedPageTable<Entry>::table_pages() const
{
    return valid() ? count_tables(root_, kTopLevel) : 0;
}

template class NestedPageTable<NptEntry>;
template class NestedPageTable<EptEntry>;

}  // namespace boxy::vmm
