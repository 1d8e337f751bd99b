// SPDX-License-Identifier: MIT
#include "memory/page_allocator.hpp"

#include "test_pool.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace boxy::vmm;
using boxy::vmm::test::TestPool;

namespace {

bool all_zero(const std::byte* p, std::uint64_t bytes)
{
    return std::all_of(p, p + bytes, [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

TEST_CASE("page allocator: rejects unusable regions")
{
    alignas(4096) static std::byte buffer[4 * 4096];
    CHECK(PageAllocator::create(PhysAddr{0x1000}, PageCount{4}, nullptr).error() ==
          MemoryError::bad_region);
    CHECK(PageAllocator::create(PhysAddr{0x1800}, PageCount{4}, buffer).error() ==
          MemoryError::bad_region);
    CHECK(PageAllocator::create(PhysAddr{0x1000}, PageCount{4}, buffer + 8).error() ==
          MemoryError::bad_region);
    // One page holds only the bookkeeping: nothing left to allocate.
    CHECK(PageAllocator::create(PhysAddr{0x1000}, PageCount{1}, buffer).error() ==
          MemoryError::bad_region);
    CHECK(PageAllocator::create(PhysAddr{kPhysAddrLimit - 0x1000}, PageCount{4}, buffer).error() ==
          MemoryError::bad_region);
    CHECK(PageAllocator::create(PhysAddr{0x1000}, PageCount{2}, buffer).has_value());
}

TEST_CASE("page allocator: bookkeeping is small and inside the region")
{
    CHECK(PageAllocator::bookkeeping_pages_for(PageCount{4096}).count() == 1);   // 16 MiB
    CHECK(PageAllocator::bookkeeping_pages_for(PageCount{16384}).count() == 2);  // 64 MiB
    TestPool pool{4096};
    CHECK(pool.allocator.bookkeeping_pages().count() == 1);
    CHECK(pool.allocator.usable_pages().count() == 4095);
    CHECK(pool.allocator.free_pages().count() == 4095);
    CHECK(pool.allocator.region() == PhysRange{PhysAddr{0x7F00'0000}, 16 * 1024 * 1024});
}

TEST_CASE("page allocator: an empty allocator allocates nothing")
{
    PageAllocator none;
    CHECK_FALSE(none.valid());
    CHECK(none.allocate_page().error() == MemoryError::out_of_memory);
    CHECK(none.free_page(PhysAddr{0x1000}).error() == MemoryError::outside_region);
    CHECK(none.free_pages().count() == 0);
    CHECK(none.to_virtual(PhysAddr{0}) == nullptr);
}

TEST_CASE("page allocator: allocates every usable page exactly once, then frees them all")
{
    TestPool pool{300};
    PageAllocator& a = pool.allocator;
    const std::uint64_t usable = a.usable_pages().count();
    const PhysRange region = a.region();
    const PhysAddr first_usable = region.base + a.bookkeeping_pages().bytes();

    std::set<std::uint64_t> pages;
    while (true) {
        auto page = a.allocate_page();
        if (!page) {
            CHECK(page.error() == MemoryError::out_of_memory);
            break;
        }
        CHECK(page->is_page_aligned());
        CHECK(*page >= first_usable);
        CHECK(region.contains(*page));
        CHECK(pages.insert(page->raw()).second);
    }
    CHECK(pages.size() == usable);
    CHECK(a.free_pages().count() == 0);

    for (std::uint64_t raw : pages) {
        REQUIRE(a.free_page(PhysAddr{raw}).has_value());
    }
    CHECK(a.free_pages().count() == usable);
}

TEST_CASE("page allocator: pages come back zeroed")
{
    TestPool pool{64};
    PageAllocator& a = pool.allocator;
    auto page = a.allocate_page();
    REQUIRE(page.has_value());
    std::byte* p = a.to_virtual(*page);
    REQUIRE(p != nullptr);
    CHECK(all_zero(p, kPageSize4K));  // the pool was poisoned with 0xCC

    std::fill(p, p + kPageSize4K, std::byte{0x5A});
    REQUIRE(a.free_page(*page).has_value());
    auto again = a.allocate_page();
    REQUIRE(again.has_value());
    CHECK(*again == *page);  // lowest free page first
    CHECK(all_zero(a.to_virtual(*again), kPageSize4K));

    auto run = a.allocate_run(PageCount{5});
    REQUIRE(run.has_value());
    CHECK(all_zero(a.to_virtual(*run), 5 * kPageSize4K));
}

TEST_CASE("page allocator: bad frees are errors and change nothing")
{
    TestPool pool{64};
    PageAllocator& a = pool.allocator;
    auto page = a.allocate_page();
    REQUIRE(page.has_value());
    REQUIRE(a.free_page(*page).has_value());
    const PageCount before = a.free_pages();

    SECTION("double free")
    {
        CHECK(a.free_page(*page).error() == MemoryError::not_allocated);
    }
    SECTION("never allocated")
    {
        CHECK(a.free_page(*page + kPageSize4K).error() == MemoryError::not_allocated);
    }
    SECTION("below the region")
    {
        CHECK(a.free_page(PhysAddr{0x1000}).error() == MemoryError::outside_region);
    }
    SECTION("past the region")
    {
        CHECK(a.free_page(a.region().end()).error() == MemoryError::outside_region);
        CHECK(a.free_page(PhysAddr{~std::uint64_t{0} & ~0xFFFULL}).error() ==
              MemoryError::outside_region);
    }
    SECTION("a bookkeeping page")
    {
        CHECK(a.free_page(a.region().base).error() == MemoryError::outside_region);
    }
    SECTION("unaligned")
    {
        CHECK(a.free_page(*page + 8).error() == MemoryError::unaligned);
    }
    SECTION("zero pages")
    {
        CHECK(a.free_run(*page, PageCount{0}).error() == MemoryError::bad_argument);
    }
    SECTION("a run that runs off the region")
    {
        const PhysAddr last = a.region().end() - kPageSize4K;
        CHECK(a.free_run(last, PageCount{2}).error() == MemoryError::outside_region);
    }
    CHECK(a.free_pages() == before);
}

TEST_CASE("page allocator: runs are freed exactly as allocated")
{
    TestPool pool{64};
    PageAllocator& a = pool.allocator;
    auto run = a.allocate_run(PageCount{3});  // e.g. a 12 KiB I/O permission map
    REQUIRE(run.has_value());
    auto next = a.allocate_page();
    REQUIRE(next.has_value());
    CHECK(*next == *run + 3 * kPageSize4K);
    const PageCount before = a.free_pages();

    CHECK(a.free_run(*run, PageCount{2}).error() == MemoryError::not_an_allocation);  // too short
    CHECK(a.free_run(*run, PageCount{4}).error() ==
          MemoryError::not_an_allocation);  // includes `next`
    CHECK(a.free_page(*run).error() == MemoryError::not_an_allocation);
    CHECK(a.free_page(*run + kPageSize4K).error() == MemoryError::not_an_allocation);  // inside
    CHECK(a.free_run(*run + kPageSize4K, PageCount{2}).error() == MemoryError::not_an_allocation);
    CHECK(a.free_pages() == before);

    REQUIRE(a.free_run(*run, PageCount{3}).has_value());
    CHECK(a.free_run(*run, PageCount{3}).error() == MemoryError::not_allocated);
    CHECK(a.free_pages().count() == before.count() + 3);
    REQUIRE(a.free_page(*next).has_value());
}

TEST_CASE("page allocator: runs are aligned by physical address")
{
    // An odd base: index alignment and address alignment differ.
    TestPool pool{2048, PhysAddr{0x1234'5000}};
    PageAllocator& a = pool.allocator;
    REQUIRE(a.allocate_page().has_value());  // disturb the start

    auto msr_map = a.allocate_run(PageCount{2}, 2 * kPageSize4K);
    REQUIRE(msr_map.has_value());
    CHECK(msr_map->is_aligned(2 * kPageSize4K));

    auto big = a.allocate_run(PageCount{512}, kPageSize2M);
    REQUIRE(big.has_value());
    CHECK(big->is_aligned(kPageSize2M));
    CHECK(a.region().contains(PhysRange{*big, kPageSize2M}));

    auto io_map = a.allocate_run(PageCount{3}, 4 * kPageSize4K);
    REQUIRE(io_map.has_value());
    CHECK(io_map->is_aligned(4 * kPageSize4K));

    // Below 4 KiB any page will do.
    CHECK(a.allocate_run(PageCount{1}, 8).has_value());

    CHECK(a.allocate_run(PageCount{1}, 3 * kPageSize4K).error() == MemoryError::bad_argument);
    CHECK(a.allocate_run(PageCount{1}, 0).error() == MemoryError::bad_argument);
    CHECK(a.allocate_run(PageCount{0}).error() == MemoryError::bad_argument);
    CHECK(a.allocate_run(PageCount{1}, kPageSize1G).error() == MemoryError::out_of_memory);
    CHECK(a.allocate_run(PageCount{4096}).error() == MemoryError::out_of_memory);
}

TEST_CASE("page allocator: fragmentation fails runs but not pages")
{
    TestPool pool{129};  // 1 bookkeeping page + 128 usable
    PageAllocator& a = pool.allocator;
    std::vector<PhysAddr> pages;
    for (int i = 0; i < 128; ++i) {
        auto page = a.allocate_page();
        REQUIRE(page.has_value());
        pages.push_back(*page);
    }
    for (std::size_t i = 0; i < pages.size(); i += 2) {
        REQUIRE(a.free_page(pages[i]).has_value());
    }
    CHECK(a.free_pages().count() == 64);
    CHECK(a.allocate_run(PageCount{2}).error() == MemoryError::out_of_memory);
    REQUIRE(a.free_page(pages[101]).has_value());  // joins 100..102
    auto run = a.allocate_run(PageCount{3});
    REQUIRE(run.has_value());
    CHECK(*run == pages[100]);
}

TEST_CASE("page allocator: copies share one pool")
{
    TestPool pool{32};
    PageAllocator copy = pool.allocator;
    const PageCount before = pool.allocator.free_pages();
    auto page = copy.allocate_page();
    REQUIRE(page.has_value());
    CHECK(pool.allocator.free_pages().count() == before.count() - 1);
    REQUIRE(pool.allocator.free_page(*page).has_value());
    CHECK(copy.free_pages() == before);
}

TEST_CASE("page allocator: random allocations never overlap and account exactly")
{
    TestPool pool{1024, PhysAddr{0x10'0000'0000}};
    PageAllocator& a = pool.allocator;
    const std::uint64_t usable = a.usable_pages().count();
    std::mt19937_64 rng{42};
    std::map<std::uint64_t, std::uint64_t> live;  // address -> pages
    std::uint64_t live_pages = 0;

    for (int step = 0; step < 5000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            const std::uint64_t count = 1 + rng() % 8;
            const std::uint64_t alignment = kPageSize4K << (rng() % 4);
            auto run = a.allocate_run(PageCount{count}, alignment);
            if (!run) {
                CHECK(run.error() == MemoryError::out_of_memory);
                continue;
            }
            CHECK(run->is_aligned(alignment));
            // No overlap with the neighbours on either side.
            auto after = live.lower_bound(run->raw());
            if (after != live.end()) {
                CHECK(after->first >= run->raw() + count * kPageSize4K);
            }
            if (after != live.begin()) {
                auto before = std::prev(after);
                CHECK(before->first + before->second * kPageSize4K <= run->raw());
            }
            live.emplace(run->raw(), count);
            live_pages += count;
        } else {
            auto victim = live.begin();
            std::advance(victim, static_cast<long>(rng() % live.size()));
            REQUIRE(a.free_run(PhysAddr{victim->first}, PageCount{victim->second}).has_value());
            live_pages -= victim->second;
            live.erase(victim);
        }
        REQUIRE(a.free_pages().count() == usable - live_pages);
    }
    for (const auto& [address, count] : live) {
        REQUIRE(a.free_run(PhysAddr{address}, PageCount{count}).has_value());
    }
    CHECK(a.free_pages().count() == usable);
}
