// SPDX-License-Identifier: MIT
//
// Changing nested page tables after they are built: unmap (holes added
// later, donated service-VM memory), map, and a randomised cross-check
// against a simple model.
#include "memory/nested_paging.hpp"
#include "test_pool.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

using namespace boxy::vmm;
using namespace boxy::vmm::test;

namespace {

constexpr std::uint64_t k4G = 4 * kPageSize1G;

template <class Table>
Table build(TestPool& pool, std::uint64_t top, std::span<const PhysRange> holes = {})
{
    IdentityMapConfig config;
    config.top = PhysAddr{top};
    config.largest_page = PageSize::size_1g;
    config.holes = holes;
    auto table = Table::identity_map(pool.allocator, config);
    REQUIRE(table.has_value());
    return *table;
}

template <class Table>
bool maps_to_itself(const Table& table, std::uint64_t address)
{
    auto t = table.translate(PhysAddr{address});
    return t.has_value() && t->address == PhysAddr{address};
}

}  // namespace

TEST_CASE("unmap: one page inside a 1 GiB page costs a PD and a PT, and map restores the tree")
{
    TestPool pool{64};
    NptPageTable table = build<NptPageTable>(pool, k4G);
    const PageCount built = pool.allocator.free_pages();
    const PhysRange page{PhysAddr{2 * kPageSize1G + 7 * kPageSize2M + 9 * kPageSize4K},
                         kPageSize4K};

    REQUIRE(table.unmap(page).has_value());
    CHECK(table.table_pages() == 4);
    CHECK(pool.allocator.free_pages().count() == built.count() - 2);
    CHECK_FALSE(table.translate(page.base).has_value());
    CHECK_FALSE(table.translate(page.end() - 1).has_value());
    CHECK(maps_to_itself(table, page.base.raw() - 1));
    CHECK(maps_to_itself(table, page.end().raw()));
    CHECK(table.translate(page.end())->page_size == PageSize::size_4k);
    CHECK(table.translate(PhysAddr{2 * kPageSize1G})->page_size == PageSize::size_2m);

    // Unmapping again, or a range around it, is fine and idempotent.
    REQUIRE(table.unmap(page).has_value());
    CHECK(table.table_pages() == 4);

    REQUIRE(table.map(page, page.base, MemoryType::write_back).has_value());
    CHECK(table.table_pages() == 2);
    CHECK(pool.allocator.free_pages() == built);
    CHECK(table.translate(page.base)->page_size == PageSize::size_1g);
}

TEST_CASE("unmap: whole large pages and ranges spanning several levels")
{
    TestPool pool{64};
    NptPageTable table = build<NptPageTable>(pool, k4G);

    REQUIRE(table.unmap(PhysRange{PhysAddr{kPageSize1G}, kPageSize1G})
                .has_value());  // one whole 1G leaf
    CHECK(table.table_pages() == 2);
    CHECK_FALSE(table.translate(PhysAddr{kPageSize1G}).has_value());

    // From 4 KiB below 3 GiB to 4 KiB above it: splits on both sides.
    const PhysRange across{PhysAddr{3 * kPageSize1G - kPageSize4K}, 2 * kPageSize4K};
    REQUIRE(table.unmap(across).has_value());
    CHECK(table.table_pages() == 2 + 2 + 2);
    CHECK(maps_to_itself(table, across.base.raw() - 1));
    CHECK(maps_to_itself(table, across.end().raw()));
    CHECK_FALSE(table.translate(across.base).has_value());
    CHECK_FALSE(table.translate(across.end() - 1).has_value());

    // Everything: all tables below the root are freed.
    REQUIRE(table.unmap(PhysRange{PhysAddr{0}, kNestedPagingLimit}).has_value());
    CHECK(table.table_pages() == 1);
    REQUIRE(table.destroy().has_value());
    CHECK(pool.allocator.free_pages() == pool.allocator.usable_pages());
}

TEST_CASE("unmap: bad ranges are rejected")
{
    TestPool pool{64};
    NptPageTable table = build<NptPageTable>(pool, k4G);
    CHECK(table.unmap(PhysRange{PhysAddr{0x1800}, 0x1000}).error() == MemoryError::unaligned);
    CHECK(table.unmap(PhysRange{PhysAddr{0x1000}, 0x1800}).error() == MemoryError::unaligned);
    CHECK(table.unmap(PhysRange{PhysAddr{kNestedPagingLimit - 0x1000}, 0x2000}).error() ==
          MemoryError::beyond_limit);
    CHECK(table.unmap(PhysRange{PhysAddr{0x1000}, 0}).has_value());
    CHECK(NptPageTable{}.unmap(PhysRange{PhysAddr{0}, 0x1000}).error() ==
          MemoryError::bad_argument);
    CHECK(table.table_pages() == 2);
}

TEST_CASE("unmap: out of memory for a split changes no translation")
{
    TestPool pool{16};
    NptPageTable table = build<NptPageTable>(pool, k4G);
    // Leave exactly one free page: a 4 KiB unmap inside a 1 GiB page needs two.
    std::vector<PhysAddr> hog;
    while (pool.allocator.free_pages().count() > 1) {
        hog.push_back(*pool.allocator.allocate_page());
    }
    const PhysRange page{PhysAddr{kPageSize1G + kPageSize2M + kPageSize4K}, kPageSize4K};
    auto result = table.unmap(page);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error() == MemoryError::out_of_memory);
    CHECK(maps_to_itself(table, page.base.raw()));
    for (std::uint64_t a = kPageSize1G; a < 2 * kPageSize1G; a += kPageSize2M / 2) {
        CHECK(maps_to_itself(table, a));
    }

    for (PhysAddr p : hog) {
        REQUIRE(pool.allocator.free_page(p).has_value());
    }
    REQUIRE(table.unmap(page).has_value());
    CHECK_FALSE(table.translate(page.base).has_value());
}

TEST_CASE("map: guest ranges to other host frames, with the pages alignment allows")
{
    TestPool pool{64};
    auto created = EptPageTable::create(pool.allocator, PageSize::size_1g);
    REQUIRE(created.has_value());
    EptPageTable table = *created;
    CHECK(table.table_pages() == 1);

    // 2 MiB-aligned on both sides: one 2 MiB leaf.
    REQUIRE(table
                .map(PhysRange{PhysAddr{0x4000'0000 + kPageSize2M}, kPageSize2M},
                     PhysAddr{0x2'0000'0000}, MemoryType::write_back)
                .has_value());
    auto t = table.translate(PhysAddr{0x4000'0000 + kPageSize2M + 0x1234});
    REQUIRE(t.has_value());
    CHECK(t->address == PhysAddr{0x2'0000'1234});
    CHECK(t->page_size == PageSize::size_2m);

    // Host frames only 4 KiB aligned: 4 KiB leaves.
    REQUIRE(table
                .map(PhysRange{PhysAddr{0}, kPageSize2M}, PhysAddr{0x3'0000'1000},
                     MemoryType::uncacheable)
                .has_value());
    auto small = table.translate(PhysAddr{kPageSize2M - 1});
    REQUIRE(small.has_value());
    CHECK(small->address == PhysAddr{0x3'0020'0FFF});
    CHECK(small->page_size == PageSize::size_4k);
    CHECK(small->memory_type == MemoryType::uncacheable);

    // Remapping over an existing table replaces it and frees its pages.
    const std::uint64_t before = table.table_pages();
    REQUIRE(table
                .map(PhysRange{PhysAddr{0}, kPageSize2M}, PhysAddr{0x3'0000'0000},
                     MemoryType::write_back)
                .has_value());
    CHECK(table.table_pages() == before - 1);

    CHECK(table.map(PhysRange{PhysAddr{0}, 0x1000}, PhysAddr{0x800}, MemoryType::write_back)
              .error() == MemoryError::unaligned);
    CHECK(table
              .map(PhysRange{PhysAddr{0}, 0x2000}, PhysAddr{kPhysAddrLimit - 0x1000},
                   MemoryType::write_back)
              .error() == MemoryError::beyond_limit);
    REQUIRE(table.destroy().has_value());
    CHECK(pool.allocator.free_pages() == pool.allocator.usable_pages());
}

// Random 4 KiB-granular holes over 8 GiB, some added at build time and some
// unmapped afterwards; translate() is checked at every hole boundary and at
// random points against a brute-force model, and the tree must be minimal.
TEST_CASE("nested paging: random holes agree with a model and keep the tree minimal")
{
    constexpr std::uint64_t kTop = 8 * kPageSize1G;
    const int seed = GENERATE(1, 2, 3, 4);
    std::mt19937_64 rng{static_cast<std::uint64_t>(seed)};
    auto random_hole = [&] {
        const std::uint64_t base = (rng() % (kTop / kPageSize4K)) * kPageSize4K;
        const std::uint64_t pages = 1 + (rng() % 4 == 0 ? rng() % 300'000 : rng() % 700);
        return PhysRange{PhysAddr{base}, pages * kPageSize4K};
    };
    std::vector<PhysRange> holes;
    for (int i = 0; i < 6; ++i) {
        holes.push_back(random_hole());
    }
    TestPool pool{512};
    NptPageTable table = build<NptPageTable>(pool, kTop, holes);
    for (int i = 0; i < 6; ++i) {
        holes.push_back(random_hole());
        REQUIRE(table
                    .unmap(PhysRange::from_to(holes.back().base,
                                              std::min(holes.back().end(), PhysAddr{kTop})))
                    .has_value());
    }

    auto in_hole = [&](std::uint64_t a) {
        for (const PhysRange& h : holes) {
            if (h.contains(PhysAddr{a})) {
                return true;
            }
        }
        return false;
    };
    auto check = [&](std::uint64_t a) {
        if (a >= kTop) {
            return;
        }
        INFO("address " << std::hex << a);
        CHECK(maps_to_itself(table, a) == !in_hole(a));
    };
    for (const PhysRange& h : holes) {
        for (std::uint64_t a : {h.base.raw(), h.end().raw()}) {
            check(a);
            check(a + kPageSize4K - 1);
            if (a >= kPageSize4K) {
                check(a - 1);
            }
        }
    }
    for (int i = 0; i < 20'000; ++i) {
        check(rng() % kTop);
    }

    // Minimal: no table is empty, and no table could be one large leaf.
    walk_tree(pool.allocator, table.root(), npt_present, [&](const RawEntry& e) {
        if (e.leaf || e.level == 4) {
            return;
        }
        const std::uint64_t span = std::uint64_t{1} << (12 + 9 * (e.level - 1));
        std::uint64_t mapped = 0;
        const std::uint64_t step = span / 512;
        for (std::uint64_t a = e.guest; a < e.guest + span; a += step) {
            mapped += maps_to_itself(table, a) ? 1 : 0;
        }
        INFO("table at level " << e.level << " for " << std::hex << e.guest);
        CHECK(mapped != 0);
        const bool fully_mapped_by_leaves =
            mapped == 512 && table.translate(PhysAddr{e.guest})->page_size ==
                                 (e.level == 2 ? PageSize::size_4k : PageSize::size_2m);
        bool uniform = fully_mapped_by_leaves;
        for (std::uint64_t a = e.guest; uniform && a < e.guest + span; a += step) {
            uniform = table.translate(PhysAddr{a})->page_size ==
                      table.translate(PhysAddr{e.guest})->page_size;
        }
        CHECK_FALSE(uniform);
    });
    REQUIRE(table.destroy().has_value());
    CHECK(pool.allocator.free_pages() == pool.allocator.usable_pages());
}
