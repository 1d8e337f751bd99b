// SPDX-License-Identifier: MIT
//
// Test support: a page pool backed by a host heap buffer that pretends to
// live at some physical address, and an independent walker over raw
// nested-paging entries (it decodes the hardware bits itself rather than
// trusting the code under test).
#pragma once

#include "memory/page_allocator.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace boxy::vmm::test {

// Garbage that allocations must overwrite with zeroes.
inline constexpr unsigned char kPoison = 0xCC;

class TestPool {
public:
    explicit TestPool(std::uint64_t pages, PhysAddr base = PhysAddr{0x7F00'0000})
        : pages_{pages},
          memory_{static_cast<std::byte*>(std::aligned_alloc(kPageSize4K, pages * kPageSize4K))}
    {
        REQUIRE(memory_ != nullptr);
        std::memset(memory_, kPoison, pages * kPageSize4K);
        auto created = PageAllocator::create(base, PageCount{pages}, memory_);
        REQUIRE(created.has_value());
        allocator = *created;
    }
    ~TestPool() { std::free(memory_); }
    TestPool(const TestPool&) = delete;
    TestPool& operator=(const TestPool&) = delete;

    [[nodiscard]] std::byte* memory() const { return memory_; }
    [[nodiscard]] std::uint64_t pages() const { return pages_; }

    PageAllocator allocator;

private:
    std::uint64_t pages_;
    std::byte* memory_;
};

// Bit 7 is the large-page bit in a PDPTE/PDE of both formats.
constexpr std::uint64_t kLargeBit = std::uint64_t{1} << 7;
constexpr std::uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000;

struct RawEntry {
    std::uint64_t raw;
    int level;            // 4 = PML4 ... 1 = page table
    std::uint64_t guest;  // first guest-physical address it translates
    bool leaf;
};

struct TreeShape {
    std::uint64_t tables{0};
    std::array<std::uint64_t, 3> leaves{};  // indexed by PageSize
};

// Calls visit(RawEntry) for every present entry below `table` and returns
// the shape of the tree. `present` decides presence for the format.
template <class Present, class Visit>
void walk_raw(const PageAllocator& pool, std::uint64_t table, int level, std::uint64_t base,
              Present present, Visit& visit, TreeShape& shape)
{
    ++shape.tables;
    const std::byte* page = pool.to_virtual(PhysAddr{table});
    REQUIRE(page != nullptr);
    const unsigned shift = 12U + 9U * static_cast<unsigned>(level - 1);
    for (std::uint64_t i = 0; i < 512; ++i) {
        std::uint64_t raw = 0;
        std::memcpy(&raw, page + i * 8, sizeof(raw));
        if (!present(raw)) {
            continue;
        }
        const std::uint64_t guest = base + (i << shift);
        const bool leaf = level == 1 || (level <= 3 && (raw & kLargeBit) != 0);
        visit(RawEntry{raw, level, guest, leaf});
        if (leaf) {
            ++shape.leaves[static_cast<std::size_t>(level - 1)];
        } else {
            walk_raw(pool, raw & kAddressMask, level - 1, guest, present, visit, shape);
        }
    }
}

template <class Present, class Visit>
TreeShape walk_tree(const PageAllocator& pool, PhysAddr root, Present present, Visit visit)
{
    TreeShape shape;
    walk_raw(pool, root.raw(), 4, 0, present, visit, shape);
    return shape;
}

inline bool npt_present(std::uint64_t raw)
{
    return (raw & 1) != 0;
}
inline bool ept_present(std::uint64_t raw)
{
    return (raw & 7) != 0;
}

}  // namespace boxy::vmm::test
