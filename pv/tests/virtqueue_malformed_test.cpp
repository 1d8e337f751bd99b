// SPDX-License-Identifier: MIT
//
// Malformed queues and chains from a hostile guest: each is refused with
// its own error, and the queue stays broken afterwards (virtio 1.1 §2.6).
#include "fake_guest.hpp"
#include "virtio/virtqueue.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <sys/mman.h>

using namespace boxy::virtio;
using boxy::virtio::test::FakeDriver;
using boxy::virtio::test::FakeGuest;
using boxy::virtio::test::kIndirect;
using boxy::virtio::test::kNext;
using boxy::virtio::test::kWrite;

namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

VirtqueueError create_error(const FakeGuest& guest, const QueueConfig& config)
{
    auto queue = Virtqueue::create(guest.memory(), config);
    REQUIRE_FALSE(queue.has_value());
    return queue.error();
}

// Pops once from a fresh queue over the driver's ring; returns the error.
VirtqueueError pop_error(const FakeGuest& guest, const FakeDriver& driver)
{
    auto queue = Virtqueue::create(guest.memory(), driver.config());
    REQUIRE(queue.has_value());
    auto chain = queue->pop();
    REQUIRE_FALSE(chain.has_value());
    // Sticky: the queue refuses everything until the device is reset.
    CHECK(queue->broken() == chain.error());
    auto again = queue->pop();
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error() == chain.error());
    return chain.error();
}

}  // namespace

TEST_CASE("virtqueue: queue size must be a power of two <= 32768", "[virtio][malformed]")
{
    FakeGuest guest{512};
    for (std::uint32_t size : {0U, 3U, 6U, 100U, 32767U, 65536U, 0x8000'0000U}) {
        FakeDriver driver{guest, 4};
        QueueConfig config = driver.config();
        config.size = size;
        CHECK(create_error(guest, config) == VirtqueueError::kQueueSizeInvalid);
    }
}

TEST_CASE("virtqueue: ring parts must be aligned", "[virtio][malformed]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 8};
    QueueConfig config = driver.config();
    SECTION("descriptor table on 16")
    {
        config.descriptor_table += 8;
    }
    SECTION("available ring on 2")
    {
        config.available_ring += 1;
    }
    SECTION("used ring on 4")
    {
        config.used_ring += 2;
    }
    CHECK(create_error(guest, config) == VirtqueueError::kRingMisaligned);
}

TEST_CASE("virtqueue: ring parts must lie in guest RAM", "[virtio][malformed]")
{
    FakeGuest guest{4};  // 16 KiB at FakeGuest::kBase
    FakeDriver driver{guest, 8};
    QueueConfig config = driver.config();
    const Gpa end = FakeGuest::kBase + Gpa{4} * 4096;
    SECTION("below RAM")
    {
        config.descriptor_table = FakeGuest::kBase - 16;
    }
    SECTION("descriptor table crossing the end")
    {
        config.descriptor_table = end - 64;
    }
    SECTION("available ring crossing the end")
    {
        config.available_ring = end - 18;
    }
    SECTION("used ring crossing the end")
    {
        config.used_ring = end - 64;
    }
    SECTION("used ring wrapping around 2^64")
    {
        config.used_ring = kMax64 - 3;
    }
    SECTION("descriptor table at 0")
    {
        config.descriptor_table = 0;
    }
    CHECK(create_error(guest, config) == VirtqueueError::kRingOutsideMemory);
}

TEST_CASE("virtqueue: malformed available ring", "[virtio][malformed]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 8};
    driver.descriptor(0, driver.data(0), 4);

    SECTION("avail idx jumping by more than the queue size")
    {
        driver.set_avail_idx(9);
        CHECK(pop_error(guest, driver) == VirtqueueError::kAvailIndexJump);
    }
    SECTION("avail idx moving backwards")
    {
        driver.set_avail_idx(0xffff);
        CHECK(pop_error(guest, driver) == VirtqueueError::kAvailIndexJump);
    }
    SECTION("head beyond the table")
    {
        driver.offer(8);
        CHECK(pop_error(guest, driver) == VirtqueueError::kHeadOutOfRange);
    }
    SECTION("head offered again while the device holds it")
    {
        driver.offer(0);
        driver.offer(0);
        auto queue = Virtqueue::create(guest.memory(), driver.config());
        REQUIRE(queue.has_value());
        auto first = queue->pop();
        REQUIRE(first.has_value());
        auto second = queue->pop();
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error() == VirtqueueError::kHeadInFlight);
    }
}

TEST_CASE("virtqueue: loops and overlong chains", "[virtio][malformed]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    SECTION("a descriptor pointing at itself")
    {
        driver.descriptor(0, driver.data(0), 4, kNext, 0);
    }
    SECTION("a cycle through the whole table")
    {
        driver.descriptor(0, driver.data(0), 4, kNext, 1);
        driver.descriptor(1, driver.data(0), 4, kNext, 2);
        driver.descriptor(2, driver.data(0), 4, kNext, 3);
        driver.descriptor(3, driver.data(0), 4, kNext, 1);
    }
    SECTION("a loop inside an indirect table")
    {
        const Gpa table = driver.data(0x1000);
        guest.put_descriptor(table, 0, driver.data(0), 4, kNext, 1);
        guest.put_descriptor(table, 1, driver.data(0), 4, kNext, 0);
        driver.descriptor(0, table, 2 * 16, kIndirect);
    }
    driver.offer(0);
    CHECK(pop_error(guest, driver) == VirtqueueError::kChainTooLong);
}

TEST_CASE("virtqueue: next out of range", "[virtio][malformed]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    SECTION("direct table")
    {
        driver.descriptor(0, driver.data(0), 4, kNext, 4);
    }
    SECTION("indirect table")
    {
        const Gpa table = driver.data(0x1000);
        guest.put_descriptor(table, 0, driver.data(0), 4, kNext, 2);
        driver.descriptor(0, table, 2 * 16, kIndirect);
    }
    driver.offer(0);
    CHECK(pop_error(guest, driver) == VirtqueueError::kNextOutOfRange);
}

TEST_CASE("virtqueue: malformed indirect descriptors", "[virtio][malformed]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    const Gpa table = driver.data(0x1000);
    guest.put_descriptor(table, 0, driver.data(0), 4);

    SECTION("indirect inside indirect")
    {
        const Gpa inner = driver.data(0x2000);
        guest.put_descriptor(inner, 0, driver.data(0), 4);
        guest.put_descriptor(table, 0, driver.data(0), 4, kNext, 1);
        guest.put_descriptor(table, 1, inner, 16, kIndirect);
        driver.descriptor(0, table, 2 * 16, kIndirect);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kNestedIndirect);
    }
    SECTION("indirect with NEXT")
    {
        driver.descriptor(0, table, 16, kIndirect | kNext, 1);
        driver.descriptor(1, driver.data(0), 4);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kIndirectWithNext);
    }
    SECTION("indirect without VIRTIO_F_INDIRECT_DESC")
    {
        FakeDriver plain{guest, 4, false};
        plain.descriptor(0, table, 16, kIndirect);
        plain.offer(0);
        CHECK(pop_error(guest, plain) == VirtqueueError::kIndirectNotNegotiated);
    }
    SECTION("table lengths that are not a non-zero multiple of 16, or too big")
    {
        for (std::uint32_t len : {0U, 8U, 24U, 16U * 32768U + 16U, 0xffff'fff0U}) {
            FakeGuest fresh_guest;
            FakeDriver fresh{fresh_guest, 4};
            fresh.descriptor(0, fresh.data(0x1000), len, kIndirect);
            fresh.offer(0);
            CHECK(pop_error(fresh_guest, fresh) == VirtqueueError::kIndirectTableInvalid);
        }
    }
    SECTION("table outside RAM")
    {
        driver.descriptor(0, FakeGuest::kBase + Gpa{16} * 4096 - 16, 32, kIndirect);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kIndirectTableOutsideMemory);
    }
    SECTION("table wrapping around 2^64")
    {
        driver.descriptor(0, kMax64 - 15, 32, kIndirect);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kIndirectTableOutsideMemory);
    }
}

TEST_CASE("virtqueue: malformed buffers", "[virtio][malformed]")
{
    FakeGuest guest;  // 64 KiB at FakeGuest::kBase
    FakeDriver driver{guest, 4};
    const Gpa end = FakeGuest::kBase + Gpa{16} * 4096;
    SECTION("zero length")
    {
        driver.descriptor(0, driver.data(0), 0);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kZeroLengthBuffer);
    }
    SECTION("zero length inside an indirect table")
    {
        const Gpa table = driver.data(0x1000);
        guest.put_descriptor(table, 0, driver.data(0), 0);
        driver.descriptor(0, table, 16, kIndirect);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kZeroLengthBuffer);
    }
    SECTION("address + length overflowing")
    {
        driver.descriptor(0, kMax64 - 10, 100, kWrite);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kBufferOverflow);
    }
    SECTION("below RAM")
    {
        driver.descriptor(0, FakeGuest::kBase - 4, 8);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kBufferOutsideMemory);
    }
    SECTION("crossing the end of RAM, after a good buffer")
    {
        driver.descriptor(0, driver.data(0), 8, kNext, 1);
        driver.descriptor(1, end - 4, 8, kWrite);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kBufferOutsideMemory);
    }
    SECTION("far above RAM")
    {
        driver.descriptor(0, 0x8000'0000'0000, 8);
        driver.offer(0);
        CHECK(pop_error(guest, driver) == VirtqueueError::kBufferOutsideMemory);
    }
    SECTION("ending exactly at the end of RAM is fine")
    {
        driver.descriptor(0, end - 8, 8);
        driver.offer(0);
        auto queue = Virtqueue::create(guest.memory(), driver.config());
        REQUIRE(queue.has_value());
        auto chain = queue->pop();
        REQUIRE(chain.has_value());
        CHECK(chain->has_value());
    }
}

TEST_CASE("virtqueue: writable before readable", "[virtio][malformed]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    const Gpa table = driver.data(0x1000);
    SECTION("direct")
    {
        driver.descriptor(0, driver.data(0), 8, kWrite | kNext, 1);
        driver.descriptor(1, driver.data(0x100), 8);
    }
    SECTION("inside an indirect table")
    {
        guest.put_descriptor(table, 0, driver.data(0), 8, kWrite | kNext, 1);
        guest.put_descriptor(table, 1, driver.data(0x100), 8);
        driver.descriptor(0, table, 32, kIndirect);
    }
    SECTION("a writable direct buffer, then a readable one in the indirect table")
    {
        guest.put_descriptor(table, 0, driver.data(0x100), 8);
        driver.descriptor(0, driver.data(0), 8, kWrite | kNext, 1);
        driver.descriptor(1, table, 16, kIndirect);
    }
    driver.offer(0);
    CHECK(pop_error(guest, driver) == VirtqueueError::kReadableAfterWritable);
}

TEST_CASE("virtqueue: chains above 4 GiB in total are refused", "[virtio][malformed]")
{
    // §2.6.5.2. Buffers may overlap, so a few large ones suffice; the RAM
    // is reserved, never touched beyond the rings.
    constexpr std::size_t kRam = (std::size_t{1} << 32) + 0x10000;
    void* ram = mmap(nullptr, kRam, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) {
        WARN("cannot reserve 4 GiB of address space; skipped");
        return;
    }
    auto memory = GuestMemory::create(std::span{static_cast<std::byte*>(ram), kRam}, 0);
    REQUIRE(memory.has_value());
    const auto desc = [&](std::uint32_t index, std::uint64_t addr, std::uint32_t len,
                          std::uint16_t flags, std::uint16_t next) {
        auto* bytes = static_cast<std::byte*>(ram) + 16 * std::size_t{index};
        std::memcpy(bytes, &addr, 8);
        std::memcpy(bytes + 8, &len, 4);
        std::memcpy(bytes + 12, &flags, 2);
        std::memcpy(bytes + 14, &next, 2);
    };
    const std::uint64_t big = 0xffff'ffff;
    desc(0, 0x10000, big, kNext, 1);
    desc(1, 0x10000, 2, kWrite, 0);
    const QueueConfig config{
        .size = 4, .descriptor_table = 0, .available_ring = 0x1000, .used_ring = 0x2000};
    const std::uint16_t avail[3] = {0, 1, 0};  // flags, idx, ring[0] = head 0
    std::memcpy(static_cast<std::byte*>(ram) + 0x1000, avail, sizeof avail);
    {
        auto queue = Virtqueue::create(*memory, config);
        REQUIRE(queue.has_value());
        auto chain = queue->pop();
        REQUIRE_FALSE(chain.has_value());
        CHECK(chain.error() == VirtqueueError::kChainTooLarge);
    }
    desc(1, 0x10000, 1, kWrite, 0);  // exactly 2^32 bytes is allowed
    {
        auto queue = Virtqueue::create(*memory, config);
        REQUIRE(queue.has_value());
        auto chain = queue->pop();
        REQUIRE(chain.has_value());
        REQUIRE(chain->has_value());
        CHECK((*chain)->readable_bytes + (*chain)->writable_bytes == std::uint64_t{1} << 32);
        CHECK(queue->push_used(0, 1).has_value());
    }
    munmap(ram, kRam);
}

TEST_CASE("virtqueue: every error has a name", "[virtio][malformed]")
{
    for (int e = 0; e <= static_cast<int>(VirtqueueError::kUsedLengthTooLong); ++e) {
        CHECK(to_string(static_cast<VirtqueueError>(e)) != "unknown virtqueue error");
    }
}
