// SPDX-License-Identifier: MIT
//
// The host VM's identity map with AMD NPT entries: page sizes, holes,
// minimality, and the U/S rule.
#include "memory/nested_paging.hpp"

#include "test_pool.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>

using namespace boxy::vmm;
using namespace boxy::vmm::test;

namespace {

constexpr std::uint64_t k4G = 4 * kPageSize1G;

IdentityMapConfig config_for(std::uint64_t top, PageSize largest,
                             std::span<const PhysRange> holes = {})
{
    IdentityMapConfig config;
    config.top = PhysAddr{top};
    config.largest_page = largest;
    config.holes = holes;
    return config;
}

// translate() says `address` maps to itself (or is unmapped).
void check_identity(const NptPageTable& table, std::uint64_t address)
{
    auto t = table.translate(PhysAddr{address});
    INFO("address " << std::hex << address);
    REQUIRE(t.has_value());
    CHECK(t->address == PhysAddr{address});
}
void check_unmapped(const NptPageTable& table, std::uint64_t address)
{
    auto t = table.translate(PhysAddr{address});
    INFO("address " << std::hex << address);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error() == MemoryError::not_mapped);
}

// Every page within `margin` bytes around `hole`: unmapped inside any of
// `all_holes`, mapped to itself elsewhere (up to `top`).
void check_hole(const NptPageTable& table, PhysRange hole, std::uint64_t margin, std::uint64_t top,
                std::span<const PhysRange> all_holes)
{
    auto in_hole = [&](std::uint64_t page) {
        return std::any_of(all_holes.begin(), all_holes.end(),
                           [&](const PhysRange& h) { return h.contains(PhysAddr{page}); });
    };
    const std::uint64_t from = hole.base.raw() > margin ? hole.base.raw() - margin : 0;
    const std::uint64_t to = hole.end().raw() + margin < top ? hole.end().raw() + margin : top;
    for (std::uint64_t page = from; page < to; page += kPageSize4K) {
        if (in_hole(page)) {
            check_unmapped(table, page);
            check_unmapped(table, page + kPageSize4K - 1);
        } else {
            check_identity(table, page);
            check_identity(table, page + kPageSize4K - 1);
        }
    }
}

TreeShape npt_shape(const TestPool& pool, const NptPageTable& table)
{
    return walk_tree(pool.allocator, table.root(), npt_present, [](const RawEntry&) {});
}

}  // namespace

TEST_CASE("npt: 4 GiB without holes is two tables of 1 GiB pages")
{
    TestPool pool{64};
    const PageCount before = pool.allocator.free_pages();
    auto table = NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g));
    REQUIRE(table.has_value());
    CHECK(table->table_pages() == 2);
    CHECK(pool.allocator.free_pages().count() == before.count() - 2);

    const TreeShape shape = npt_shape(pool, *table);
    CHECK(shape.tables == 2);
    CHECK(shape.leaves == std::array<std::uint64_t, 3>{0, 0, 4});

    for (std::uint64_t a :
         {std::uint64_t{0}, std::uint64_t{0x1234}, 3 * kPageSize1G + 0x5678, k4G - 1}) {
        auto t = table->translate(PhysAddr{a});
        REQUIRE(t.has_value());
        CHECK(t->address == PhysAddr{a});
        CHECK(t->page_size == PageSize::size_1g);
        CHECK(t->memory_type == MemoryType::write_back);
    }
    check_unmapped(*table, k4G);
    CHECK(table->translate(PhysAddr{kNestedPagingLimit}).error() == MemoryError::beyond_limit);

    REQUIRE(table->destroy().has_value());
    CHECK(pool.allocator.free_pages() == before);
    CHECK_FALSE(table->valid());
}

TEST_CASE("npt: without 1 GiB support, 2 MiB pages; without either, 4 KiB pages")
{
    TestPool pool{1024};
    auto two_meg = NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_2m));
    REQUIRE(two_meg.has_value());
    CHECK(two_meg->table_pages() == 1 + 1 + 4);
    CHECK(npt_shape(pool, *two_meg).leaves == std::array<std::uint64_t, 3>{0, 2048, 0});
    CHECK(two_meg->translate(PhysAddr{0x1234'5678})->page_size == PageSize::size_2m);
    REQUIRE(two_meg->destroy().has_value());

    auto four_k =
        NptPageTable::identity_map(pool.allocator, config_for(kPageSize1G, PageSize::size_4k));
    REQUIRE(four_k.has_value());
    CHECK(four_k->table_pages() == 1 + 1 + 1 + 512);
    CHECK(npt_shape(pool, *four_k).leaves == std::array<std::uint64_t, 3>{512 * 512, 0, 0});
    check_identity(*four_k, 0x3FFF'FFFF);
    REQUIRE(four_k->destroy().has_value());
}

TEST_CASE("npt: U/S, R/W and P are set at every level and NX nowhere")
{
    TestPool pool{64};
    const std::array holes{PhysRange{PhysAddr{kPageSize1G + 5 * kPageSize4K}, kPageSize4K}};
    auto table =
        NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g, holes));
    REQUIRE(table.has_value());
    std::array<std::uint64_t, 4> seen_per_level{};
    const TreeShape shape =
        walk_tree(pool.allocator, table->root(), npt_present, [&](const RawEntry& e) {
            INFO("level " << e.level << " guest " << std::hex << e.guest << " raw " << e.raw);
            CHECK((e.raw & NptEntry::kPresent) != 0);
            CHECK((e.raw & NptEntry::kWritable) != 0);
            CHECK((e.raw & NptEntry::kUser) != 0);
            CHECK((e.raw & NptEntry::kNoExecute) == 0);
            ++seen_per_level[static_cast<std::size_t>(e.level - 1)];
        });
    CHECK(shape.tables == 4);
    CHECK(seen_per_level == std::array<std::uint64_t, 4>{511, 512, 4, 1});
}

TEST_CASE("npt: a 2 MiB-aligned hole splits its 1 GiB page into 2 MiB pages")
{
    TestPool pool{64};
    const PhysRange hole{PhysAddr{2 * kPageSize1G + kPageSize2M}, 2 * kPageSize2M};
    const std::array holes{hole};
    auto table =
        NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g, holes));
    REQUIRE(table.has_value());
    CHECK(table->table_pages() == 3);
    CHECK(npt_shape(pool, *table).leaves == std::array<std::uint64_t, 3>{0, 510, 3});
    CHECK(table->translate(hole.base - 1)->page_size == PageSize::size_2m);
    CHECK(table->translate(PhysAddr{kPageSize1G})->page_size == PageSize::size_1g);
    check_hole(*table, hole, kPageSize2M, k4G, holes);
}

TEST_CASE("npt: a hole not 2 MiB-aligned splits down to 4 KiB pages at its ends only")
{
    TestPool pool{64};
    // Starts 3 pages into a 2 MiB page, ends 1 MiB into another one.
    const PhysRange hole = PhysRange::from_to(PhysAddr{kPageSize1G + kPageSize2M + 3 * kPageSize4K},
                                              PhysAddr{kPageSize1G + 3 * kPageSize2M + 0x10'0000});
    const std::array holes{hole};
    auto table =
        NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g, holes));
    REQUIRE(table.has_value());
    // root, PDPT, the split 1 GiB page's PD, and two PTs at the hole's ends.
    CHECK(table->table_pages() == 5);
    CHECK(npt_shape(pool, *table).leaves == std::array<std::uint64_t, 3>{3 + 256, 509, 3});
    check_hole(*table, hole, kPageSize2M + kPageSize4K, k4G, holes);
}

TEST_CASE("npt: several holes, including the pool itself, overlapping and out of range")
{
    TestPool pool{256};
    const PhysRange own = pool.allocator.region();
    const std::array holes{
        own,
        PhysRange{PhysAddr{0xA000}, 0x3000},                // tiny, low
        PhysRange{PhysAddr{0xB000}, 0x4000},                // overlaps the previous one
        PhysRange{PhysAddr{3 * kPageSize1G}, kPageSize1G},  // a whole 1 GiB page
        PhysRange{PhysAddr{5 * kPageSize1G}, kPageSize2M},  // past top: ignored
        PhysRange{PhysAddr{0x2000'0000}, 0},                // empty
    };
    auto table =
        NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g, holes));
    REQUIRE(table.has_value());
    for (const PhysRange& hole : holes) {
        if (!hole.empty() && hole.base.raw() < k4G) {
            check_hole(*table, hole, 2 * kPageSize4K, k4G, holes);
        }
    }
    check_unmapped(*table, 3 * kPageSize1G);
    check_unmapped(*table, k4G - 1);
    check_identity(*table, 3 * kPageSize1G - 1);
    // The whole-1 GiB hole costs no table; the low holes a PD and a PT in
    // the first 1 GiB; the pool (0x7F00'0000, 1 MiB, so half a 2 MiB page)
    // a PD and a PT in the second. Only [2 GiB, 3 GiB) stays one page.
    CHECK(table->table_pages() == 2 + 2 + 2);
    CHECK(npt_shape(pool, *table).leaves[2] == 1);
}

TEST_CASE("npt: a top that is not 1 GiB aligned maps exactly up to it")
{
    TestPool pool{64};
    const std::uint64_t top = k4G + 3 * kPageSize2M + 5 * kPageSize4K;
    auto table = NptPageTable::identity_map(pool.allocator, config_for(top, PageSize::size_1g));
    REQUIRE(table.has_value());
    check_identity(*table, top - 1);
    check_unmapped(*table, top);
    check_unmapped(*table, k4G + kPageSize1G - 1);
    CHECK(table->translate(PhysAddr{k4G})->page_size == PageSize::size_2m);
    CHECK(table->translate(PhysAddr{top - 1})->page_size == PageSize::size_4k);
    CHECK(table->table_pages() == 2 + 1 + 1);
}

TEST_CASE("npt: a 512 GiB-plus map spans two PML4 entries")
{
    TestPool pool{64};
    const std::uint64_t top = 513 * kPageSize1G;
    auto table = NptPageTable::identity_map(pool.allocator, config_for(top, PageSize::size_1g));
    REQUIRE(table.has_value());
    CHECK(table->table_pages() == 3);
    check_identity(*table, 512 * kPageSize1G + 0x1000);
    check_unmapped(*table, top);
}

TEST_CASE("npt: invalid configurations are rejected")
{
    TestPool pool{64};
    const PageCount before = pool.allocator.free_pages();
    CHECK(NptPageTable::identity_map(pool.allocator, config_for(k4G + 1, PageSize::size_1g))
              .error() == MemoryError::unaligned);
    CHECK(NptPageTable::identity_map(pool.allocator,
                                     config_for(kNestedPagingLimit * 2, PageSize::size_1g))
              .error() == MemoryError::beyond_limit);
    const std::array unaligned{PhysRange{PhysAddr{0x1000}, 0x800}};
    CHECK(NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g, unaligned))
              .error() == MemoryError::unaligned);
    const std::array wrapping{PhysRange{PhysAddr{0x1000}, ~std::uint64_t{0xFFF}}};
    CHECK(NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_1g, wrapping))
              .error() == MemoryError::beyond_limit);
    CHECK(pool.allocator.free_pages() == before);
}

TEST_CASE("npt: running out of table pages returns every page taken")
{
    TestPool pool{8};  // 7 usable pages; 4 GiB of 4 KiB pages needs 2054
    const PageCount before = pool.allocator.free_pages();
    auto table = NptPageTable::identity_map(pool.allocator, config_for(k4G, PageSize::size_4k));
    REQUIRE_FALSE(table.has_value());
    CHECK(table.error() == MemoryError::out_of_memory);
    CHECK(pool.allocator.free_pages() == before);
}
