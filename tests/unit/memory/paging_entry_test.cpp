// SPDX-License-Identifier: MIT
//
// Bit layouts of NPT and EPT entries against the manuals, and the EPT
// identity map: R/W/X leaves with memory types.
#include "memory/nested_paging.hpp"
#include "test_pool.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

using namespace boxy::vmm;
using namespace boxy::vmm::test;

TEST_CASE("npt entry: long-mode bit layout")
{
    STATIC_REQUIRE(NptEntry::table(PhysAddr{0x12'3456'7000}).raw() ==
                   0x12'3456'7007);  // P, R/W, U/S
    STATIC_REQUIRE(
        NptEntry::leaf(PhysAddr{0x5000}, PageSize::size_4k, MemoryType::write_back).raw() ==
        0x5007);
    STATIC_REQUIRE(
        NptEntry::leaf(PhysAddr{kPageSize1G}, PageSize::size_1g, MemoryType::write_back).raw() ==
        0x4000'0087);  // + PS
    STATIC_REQUIRE(
        NptEntry::leaf(PhysAddr{0}, PageSize::size_2m, MemoryType::write_through).raw() == 0x8F);
    STATIC_REQUIRE(NptEntry::leaf(PhysAddr{0}, PageSize::size_4k, MemoryType::uncacheable).raw() ==
                   0x1F);
    STATIC_REQUIRE(
        NptEntry::leaf(PhysAddr{0}, PageSize::size_4k, MemoryType::write_combining).memory_type() ==
        MemoryType::uncacheable);
    STATIC_REQUIRE(
        NptEntry::leaf(PhysAddr{0}, PageSize::size_4k, MemoryType::write_through).memory_type() ==
        MemoryType::write_through);

    // Splitting moves PAT from bit 12 (large) to bit 7 (4 KiB) and keeps NX.
    constexpr NptEntry large{0x20'0000 | NptEntry::kPatLarge | NptEntry::kLargePage |
                             NptEntry::kNoExecute | 0x7};
    STATIC_REQUIRE(large.frame(PageSize::size_2m) == PhysAddr{0x20'0000});
    constexpr NptEntry small = large.split(PageSize::size_2m, 3 * kPageSize4K, PageSize::size_4k);
    STATIC_REQUIRE(small.raw() == (0x20'3000 | NptEntry::kPat4K | NptEntry::kNoExecute | 0x7));
    STATIC_REQUIRE(small.frame(PageSize::size_4k) == PhysAddr{0x20'3000});
    constexpr NptEntry giant{kPageSize1G | NptEntry::kLargePage | 0x7};
    STATIC_REQUIRE(giant.split(PageSize::size_1g, 5 * kPageSize2M, PageSize::size_2m).raw() ==
                   (kPageSize1G + 5 * kPageSize2M) + 0x87);
}

TEST_CASE("ept entry: bit layout and EPT pointer")
{
    STATIC_REQUIRE(EptEntry::table(PhysAddr{0x9000}).raw() == 0x9007);  // R, W, X; bits 7:3 zero
    // R/W/X, WB (6) in bits 5:3, ignore-PAT clear.
    STATIC_REQUIRE(
        EptEntry::leaf(PhysAddr{0x5000}, PageSize::size_4k, MemoryType::write_back).raw() ==
        0x5037);
    STATIC_REQUIRE(
        EptEntry::leaf(PhysAddr{kPageSize2M}, PageSize::size_2m, MemoryType::write_back).raw() ==
        0x20'00B7);  // + large page
    STATIC_REQUIRE(EptEntry::leaf(PhysAddr{0}, PageSize::size_4k, MemoryType::uncacheable).raw() ==
                   0x7);
    STATIC_REQUIRE(
        EptEntry::leaf(PhysAddr{0}, PageSize::size_4k, MemoryType::write_combining).raw() == 0xF);
    STATIC_REQUIRE(EptEntry{0x4}.present());  // execute-only is present
    STATIC_REQUIRE_FALSE(EptEntry{0x5000 | EptEntry::kMemoryTypeMask}.present());
    STATIC_REQUIRE(EptEntry{0x30}.memory_type() == MemoryType::write_back);
    constexpr EptEntry large =
        EptEntry::leaf(PhysAddr{kPageSize1G}, PageSize::size_1g, MemoryType::write_through);
    STATIC_REQUIRE(large.split(PageSize::size_1g, kPageSize2M, PageSize::size_2m) ==
                   EptEntry::leaf(PhysAddr{kPageSize1G + kPageSize2M}, PageSize::size_2m,
                                  MemoryType::write_through));
    STATIC_REQUIRE(large.split(PageSize::size_1g, kPageSize4K, PageSize::size_4k) ==
                   EptEntry::leaf(PhysAddr{kPageSize1G + kPageSize4K}, PageSize::size_4k,
                                  MemoryType::write_through));

    // WB paging-structure accesses, 4-level walk (3 in bits 5:3), A/D off.
    STATIC_REQUIRE(ept_pointer(PhysAddr{0x1234'5000}) == 0x1234'501E);
    STATIC_REQUIRE(ept_pointer(PhysAddr{0x1234'5000}, true) == 0x1234'505E);
}

TEST_CASE("ept: the identity map has R/W/X write-back leaves and clean table entries")
{
    TestPool pool{64};
    const std::array holes{PhysRange{PhysAddr{0x10'0000}, kPageSize4K}};
    IdentityMapConfig config;
    config.top = PhysAddr{4 * kPageSize1G};
    config.largest_page = PageSize::size_1g;
    config.holes = holes;
    auto table = EptPageTable::identity_map(pool.allocator, config);
    REQUIRE(table.has_value());
    CHECK(table->table_pages() == 4);

    const TreeShape shape =
        walk_tree(pool.allocator, table->root(), ept_present, [](const RawEntry& e) {
            INFO("level " << e.level << " guest " << std::hex << e.guest << " raw " << e.raw);
            CHECK((e.raw & 0x7) == 0x7);
            if (e.leaf) {
                CHECK(((e.raw >> 3) & 0x7) == 6);  // write-back
                CHECK((e.raw & EptEntry::kIgnorePat) == 0);
                CHECK((e.raw & kAddressMask) == e.guest);  // identity
            } else {
                CHECK((e.raw & 0xF8) == 0);  // reserved in non-leaf entries
            }
            CHECK((e.raw & ~kAddressMask & ~0xFFFULL) == 0);  // nothing in 63:52
        });
    CHECK(shape.leaves == std::array<std::uint64_t, 3>{511, 511, 3});

    auto t = table->translate(PhysAddr{0x10'1234});
    REQUIRE(t.has_value());
    CHECK(t->address == PhysAddr{0x10'1234});
    CHECK(t->page_size == PageSize::size_4k);
    CHECK(t->memory_type == MemoryType::write_back);
    CHECK(table->translate(PhysAddr{0x10'0FFF}).error() == MemoryError::not_mapped);
}

TEST_CASE("ept: memory-type ranges are honoured with the largest pages they allow")
{
    TestPool pool{64};
    const std::array types{
        MemoryTypeRange{PhysRange{PhysAddr{0xA'0000}, 0x2'0000},
                        MemoryType::uncacheable},  // legacy VGA
        MemoryTypeRange{PhysRange{PhysAddr{0xC000'0000}, kPageSize1G},
                        MemoryType::uncacheable},  // MMIO
        MemoryTypeRange{PhysRange{PhysAddr{0xD000'0000}, 0x1000'0000},
                        MemoryType::write_combining},  // FB
        // Two adjacent ranges of one type: merged into one 1 GiB page.
        MemoryTypeRange{PhysRange{PhysAddr{kPageSize1G}, kPageSize1G / 2},
                        MemoryType::write_through},
        MemoryTypeRange{PhysRange{PhysAddr{kPageSize1G + kPageSize1G / 2}, kPageSize1G / 2},
                        MemoryType::write_through},
        MemoryTypeRange{PhysRange{PhysAddr{8 * kPageSize1G}, kPageSize1G},
                        MemoryType::uncacheable},  // past top
    };
    IdentityMapConfig config;
    config.top = PhysAddr{4 * kPageSize1G};
    config.largest_page = PageSize::size_1g;
    config.memory_types = types;
    auto table = EptPageTable::identity_map(pool.allocator, config);
    REQUIRE(table.has_value());

    auto type_at = [&](std::uint64_t address) {
        return table->translate(PhysAddr{address})->memory_type;
    };
    auto size_at = [&](std::uint64_t address) {
        return table->translate(PhysAddr{address})->page_size;
    };
    CHECK(type_at(0x9'F000) == MemoryType::write_back);
    CHECK(type_at(0xA'0000) == MemoryType::uncacheable);
    CHECK(type_at(0xB'FFFF) == MemoryType::uncacheable);
    CHECK(type_at(0xC'0000) == MemoryType::write_back);
    CHECK(size_at(0xA'0000) == PageSize::size_4k);
    CHECK(size_at(0x20'0000) == PageSize::size_2m);
    CHECK(type_at(kPageSize1G + 0x1234) == MemoryType::write_through);
    CHECK(size_at(kPageSize1G + 0x1234) == PageSize::size_1g);
    CHECK(type_at(0xC000'0000) == MemoryType::uncacheable);
    CHECK(size_at(0xC000'0000) == PageSize::size_2m);
    CHECK(type_at(0xCFFF'FFFF) == MemoryType::uncacheable);
    CHECK(type_at(0xD000'0000) == MemoryType::write_combining);  // the later range wins
    CHECK(type_at(0xDFFF'FFFF) == MemoryType::write_combining);
    CHECK(type_at(0xE000'0000) == MemoryType::uncacheable);
    CHECK(type_at(2 * kPageSize1G) == MemoryType::write_back);
    CHECK(size_at(2 * kPageSize1G) == PageSize::size_1g);
    // root, PDPT, PD + PT for the first 1 GiB, PD for the fourth.
    CHECK(table->table_pages() == 5);
}
