// SPDX-License-Identifier: MIT
#include "memory/address.hpp"

#include "memory/memory_error.hpp"
#include "memory/nested_paging.hpp"
#include "memory/spinlock.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace boxy::vmm;

TEST_CASE("address: alignment helpers")
{
    STATIC_REQUIRE(align_up(0x1001, kPageSize4K) == 0x2000);
    STATIC_REQUIRE(align_up(0x2000, kPageSize4K) == 0x2000);
    STATIC_REQUIRE(align_down(0x3FFF'FFFF, kPageSize1G) == 0);
    STATIC_REQUIRE(is_power_of_two(kPageSize2M));
    STATIC_REQUIRE_FALSE(is_power_of_two(0));
    STATIC_REQUIRE_FALSE(is_power_of_two(0x3000));

    constexpr PhysAddr a{0x20'1234};
    STATIC_REQUIRE(a.align_down(kPageSize2M) == PhysAddr{0x20'0000});
    STATIC_REQUIRE(a.align_up(kPageSize2M) == PhysAddr{0x40'0000});
    STATIC_REQUIRE(a.offset_in(kPageSize4K) == 0x234);
    STATIC_REQUIRE_FALSE(a.is_page_aligned());
    STATIC_REQUIRE((a + 0x10) - a == 0x10);
    STATIC_REQUIRE(bytes_of(PageSize::size_1g) == kPageSize1G);
}

TEST_CASE("address: page counts and ranges")
{
    STATIC_REQUIRE(PageCount::covering(0).count() == 0);
    STATIC_REQUIRE(PageCount::covering(1).count() == 1);
    STATIC_REQUIRE(PageCount::covering(12 * 1024).count() == 3);
    STATIC_REQUIRE(PageCount{3}.bytes() == 12 * 1024);

    constexpr PhysRange r{PhysAddr{0x1000}, 0x2000};
    STATIC_REQUIRE(r.end() == PhysAddr{0x3000});
    STATIC_REQUIRE(r.contains(PhysAddr{0x1000}));
    STATIC_REQUIRE(r.contains(PhysAddr{0x2FFF}));
    STATIC_REQUIRE_FALSE(r.contains(PhysAddr{0x3000}));
    STATIC_REQUIRE_FALSE(r.contains(PhysAddr{0xFFF}));
    STATIC_REQUIRE(r.contains(PhysRange{PhysAddr{0x2000}, 0x1000}));
    STATIC_REQUIRE_FALSE(r.contains(PhysRange{PhysAddr{0x2000}, 0x2000}));
    STATIC_REQUIRE(r.overlaps(PhysRange{PhysAddr{0x2FFF}, 1}));
    STATIC_REQUIRE_FALSE(r.overlaps(PhysRange{PhysAddr{0x3000}, 0x1000}));
    STATIC_REQUIRE_FALSE(r.overlaps(PhysRange{PhysAddr{0x2000}, 0}));
    STATIC_REQUIRE(PhysRange::from_to(PhysAddr{0x1000}, PhysAddr{0x3000}) == r);
    STATIC_REQUIRE(r.within_phys_limit());
    STATIC_REQUIRE_FALSE(
        (PhysRange{PhysAddr{kPhysAddrLimit - 0x1000}, 0x2000}.within_phys_limit()));
    STATIC_REQUIRE_FALSE((PhysRange{PhysAddr{0x1000}, ~std::uint64_t{0}}.within_phys_limit()));
}

TEST_CASE("address: identity map top covers 4 GiB and rounds up to 1 GiB")
{
    STATIC_REQUIRE(identity_map_top(PhysAddr{0x8000'0000}) == PhysAddr{4 * kPageSize1G});
    STATIC_REQUIRE(identity_map_top(PhysAddr{4 * kPageSize1G}) == PhysAddr{4 * kPageSize1G});
    STATIC_REQUIRE(identity_map_top(PhysAddr{4 * kPageSize1G + 1}) == PhysAddr{5 * kPageSize1G});
    STATIC_REQUIRE(identity_map_top(PhysAddr{~std::uint64_t{0}}) == PhysAddr{kNestedPagingLimit});
}

TEST_CASE("memory error: every code has a message")
{
    for (auto e :
         {MemoryError::out_of_memory, MemoryError::bad_region, MemoryError::bad_argument,
          MemoryError::unaligned, MemoryError::outside_region, MemoryError::not_allocated,
          MemoryError::not_an_allocation, MemoryError::beyond_limit, MemoryError::not_mapped}) {
        CHECK(to_string(e) != "unknown memory error");
    }
}

TEST_CASE("spinlock: excludes and releases")
{
    Spinlock lock;
    CHECK_FALSE(lock.is_locked());
    REQUIRE(lock.try_lock());
    CHECK(lock.is_locked());
    CHECK_FALSE(lock.try_lock());
    lock.unlock();
    {
        SpinlockGuard guard{lock};
        CHECK(lock.is_locked());
    }
    CHECK_FALSE(lock.is_locked());

    // Two threads incrementing a plain counter under the lock lose nothing.
    std::uint64_t counter = 0;
    constexpr std::uint64_t kPerThread = 100'000;
    auto work = [&] {
        for (std::uint64_t i = 0; i < kPerThread; ++i) {
            SpinlockGuard guard{lock};
            ++counter;
        }
    };
    std::thread other{work};
    work();
    other.join();
    CHECK(counter == 2 * kPerThread);
}
