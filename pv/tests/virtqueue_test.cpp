// SPDX-License-Identifier: MIT
//
// Well-formed split virtqueues: set-up, direct and indirect chains, the
// used ring and notification suppression (virtio 1.1 §2.6).
#include "virtio/virtqueue.hpp"

#include "fake_guest.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>

using namespace boxy::virtio;
using boxy::virtio::test::FakeDriver;
using boxy::virtio::test::FakeGuest;
using boxy::virtio::test::kIndirect;
using boxy::virtio::test::kNext;
using boxy::virtio::test::kWrite;

namespace {

Virtqueue make_queue(const FakeGuest& guest, const QueueConfig& config)
{
    auto queue = Virtqueue::create(guest.memory(), config);
    REQUIRE(queue.has_value());
    return std::move(queue).value();
}

Chain pop_chain(Virtqueue& queue)
{
    auto chain = queue.pop();
    if (!chain) {
        FAIL("pop failed: " << to_string(chain.error()));
    }
    REQUIRE(chain->has_value());
    return std::move(**chain);
}

}  // namespace

TEST_CASE("guest memory: span_at is bounds-checked without overflow", "[virtio][memory]")
{
    FakeGuest guest{1};
    const GuestMemory& memory = guest.memory();
    const Gpa base = FakeGuest::kBase;
    CHECK(memory.span_at(base, 4096).has_value());
    CHECK(memory.span_at(base + 4095, 1).has_value());
    CHECK(memory.span_at(base + 4096, 0).has_value());
    CHECK_FALSE(memory.span_at(base - 1, 1).has_value());
    CHECK_FALSE(memory.span_at(base + 4095, 2).has_value());
    CHECK_FALSE(memory.span_at(base + 4097, 0).has_value());
    CHECK_FALSE(memory.span_at(base + 1, std::numeric_limits<std::uint64_t>::max()).has_value());
    CHECK_FALSE(memory.span_at(std::numeric_limits<Gpa>::max(), 2).has_value());

    alignas(16) std::byte ram[64]{};
    CHECK(GuestMemory::create(std::span{ram}, 0).has_value());
    CHECK(GuestMemory::create(std::span{ram}.subspan(1), 0).error() ==
          GuestMemoryError::kMisaligned);
    CHECK(GuestMemory::create(std::span{ram}, 8).error() == GuestMemoryError::kMisaligned);
    CHECK(GuestMemory::create(std::span<std::byte>{}, 0).error() == GuestMemoryError::kEmpty);
    CHECK(GuestMemory::create(std::span{ram}, std::numeric_limits<Gpa>::max() - 31).error() ==
          GuestMemoryError::kRangeOverflow);
    CHECK(GuestMemory::create(std::span{ram}, std::numeric_limits<Gpa>::max() - 63).has_value());
}

TEST_CASE("virtqueue: sizes up to 32768 are accepted", "[virtio][virtqueue]")
{
    for (std::uint32_t size : {1U, 2U, 256U, 32768U}) {
        FakeGuest guest{4 * std::max<std::size_t>(1, 16 * std::size_t{size} / 4096) + 1};
        FakeDriver driver{guest, size};
        CHECK(Virtqueue::create(guest.memory(), driver.config()).has_value());
    }
}

TEST_CASE("virtqueue: an empty ring pops nothing", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 8};
    Virtqueue queue = make_queue(guest, driver.config());
    auto chain = queue.pop();
    REQUIRE(chain.has_value());
    CHECK_FALSE(chain->has_value());
    CHECK_FALSE(queue.broken().has_value());
}

TEST_CASE("virtqueue: direct chain with readable then writable buffers", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 8};
    // Head 5 -> 2 -> 7, like a block request: header, data in, status out.
    driver.descriptor(5, driver.data(0), 16, kNext, 2);
    driver.descriptor(2, driver.data(0x100), 512, kNext | kWrite, 7);
    driver.descriptor(7, driver.data(0x400), 1, kWrite);
    driver.offer(5);
    Virtqueue queue = make_queue(guest, driver.config());

    const Chain chain = pop_chain(queue);
    CHECK(chain.head == 5);
    REQUIRE(chain.readable.size() == 1);
    CHECK(chain.readable[0].gpa == driver.data(0));
    CHECK(chain.readable[0].len == 16);
    REQUIRE(chain.writable.size() == 2);
    CHECK(chain.writable[0].gpa == driver.data(0x100));
    CHECK(chain.writable[0].len == 512);
    CHECK(chain.writable[1].gpa == driver.data(0x400));
    CHECK(chain.readable_bytes == 16);
    CHECK(chain.writable_bytes == 513);
    CHECK(queue.in_flight() == 1);

    auto empty = queue.pop();
    REQUIRE(empty.has_value());
    CHECK_FALSE(empty->has_value());
}

TEST_CASE("virtqueue: a chain may be all readable or all writable", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    driver.descriptor(0, driver.data(0), 100);
    driver.descriptor(1, driver.data(0x100), 200, kWrite | kNext, 2);
    driver.descriptor(2, driver.data(0x200), 300, kWrite);
    driver.offer(0);
    driver.offer(1);
    Virtqueue queue = make_queue(guest, driver.config());

    const Chain out = pop_chain(queue);
    CHECK(out.readable.size() == 1);
    CHECK(out.writable.empty());
    const Chain in = pop_chain(queue);
    CHECK(in.readable.empty());
    CHECK(in.writable.size() == 2);
    CHECK(in.writable_bytes == 500);
}

TEST_CASE("virtqueue: indirect table", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 8};
    const Gpa table = driver.data(0x1000);
    // Entries chained out of order: 0 -> 2 -> 1. WRITE on the descriptor
    // that points to the table is ignored (§2.6.5.3.2).
    guest.put_descriptor(table, 0, driver.data(0), 10, kNext, 2);
    guest.put_descriptor(table, 2, driver.data(0x10), 20, kNext, 1);
    guest.put_descriptor(table, 1, driver.data(0x20), 30, kWrite);
    driver.descriptor(3, table, 3 * 16, kIndirect | kWrite);
    driver.offer(3);
    Virtqueue queue = make_queue(guest, driver.config());

    const Chain chain = pop_chain(queue);
    CHECK(chain.head == 3);
    REQUIRE(chain.readable.size() == 2);
    CHECK(chain.readable[0].len == 10);
    CHECK(chain.readable[1].len == 20);
    REQUIRE(chain.writable.size() == 1);
    CHECK(chain.writable[0].gpa == driver.data(0x20));
}

TEST_CASE("virtqueue: direct descriptors followed by an indirect table", "[virtio][virtqueue]")
{
    // §2.6.5.3.2: "zero or more normal chained descriptors followed by a
    // single descriptor with flags&VIRTQ_DESC_F_INDIRECT".
    FakeGuest guest;
    FakeDriver driver{guest, 8};
    const Gpa table = driver.data(0x1000);
    guest.put_descriptor(table, 0, driver.data(0x10), 20, kNext, 1);
    guest.put_descriptor(table, 1, driver.data(0x20), 30, kWrite);
    driver.descriptor(0, driver.data(0), 10, kNext, 1);
    driver.descriptor(1, table, 2 * 16, kIndirect);
    driver.offer(0);
    Virtqueue queue = make_queue(guest, driver.config());

    const Chain chain = pop_chain(queue);
    CHECK(chain.readable.size() == 2);
    CHECK(chain.writable.size() == 1);
    CHECK(chain.readable_bytes == 30);
    CHECK(chain.writable_bytes == 30);
}

TEST_CASE("virtqueue: push_used fills the used ring", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    driver.descriptor(2, driver.data(0), 64, kWrite);
    driver.descriptor(3, driver.data(0x100), 8);
    driver.offer(2);
    driver.offer(3);
    Virtqueue queue = make_queue(guest, driver.config());
    const Chain first = pop_chain(queue);
    const Chain second = pop_chain(queue);

    // Completion out of order is allowed (§2.6.8 ids name the head).
    REQUIRE(queue.push_used(second.head, 0).has_value());
    CHECK(driver.used_idx() == 1);
    CHECK(driver.used(0) == std::pair<std::uint32_t, std::uint32_t>{3, 0});
    REQUIRE(queue.push_used(first.head, 64).has_value());
    CHECK(driver.used_idx() == 2);
    CHECK(driver.used(1) == std::pair<std::uint32_t, std::uint32_t>{2, 64});
    CHECK(queue.in_flight() == 0);

    SECTION("a head cannot be returned twice")
    {
        CHECK(queue.push_used(first.head, 0).error() == VirtqueueError::kUsedHeadNotInFlight);
    }
    SECTION("only popped heads can be returned")
    {
        CHECK(queue.push_used(0, 0).error() == VirtqueueError::kUsedHeadNotInFlight);
        CHECK(queue.push_used(4, 0).error() == VirtqueueError::kUsedHeadNotInFlight);
    }
    SECTION("a returned head can be offered again")
    {
        driver.offer(2);
        CHECK(pop_chain(queue).head == 2);
    }
}

TEST_CASE("virtqueue: used length is bounded by the writable bytes", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    driver.descriptor(0, driver.data(0), 8, kNext, 1);
    driver.descriptor(1, driver.data(0x100), 64, kWrite);
    driver.offer(0);
    Virtqueue queue = make_queue(guest, driver.config());
    const Chain chain = pop_chain(queue);
    CHECK(queue.push_used(chain.head, 65).error() == VirtqueueError::kUsedLengthTooLong);
    CHECK(driver.used_idx() == 0);
    CHECK(queue.push_used(chain.head, 64).has_value());
}

TEST_CASE("virtqueue: ring indices wrap at 65536", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 2};
    driver.descriptor(0, driver.data(0), 4, kWrite);
    Virtqueue queue = make_queue(guest, driver.config());
    for (std::uint32_t round = 0; round < 65536 + 3; ++round) {
        driver.offer(0);
        const Chain chain = pop_chain(queue);
        REQUIRE(queue.push_used(chain.head, 4).has_value());
    }
    CHECK(driver.used_idx() == 3);
    CHECK_FALSE(queue.broken().has_value());
}

TEST_CASE("virtqueue: notification suppression by flags", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4};
    driver.descriptor(0, driver.data(0), 4);
    Virtqueue queue = make_queue(guest, driver.config());
    CHECK_FALSE(queue.should_notify_driver());  // nothing used yet

    driver.offer(0);
    REQUIRE(queue.push_used(pop_chain(queue).head, 0).has_value());
    CHECK(queue.should_notify_driver());
    CHECK_FALSE(queue.should_notify_driver());  // already signalled

    driver.set_avail_flags(1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
    driver.offer(0);
    REQUIRE(queue.push_used(pop_chain(queue).head, 0).has_value());
    CHECK_FALSE(queue.should_notify_driver());
}

TEST_CASE("virtqueue: VIRTIO_F_EVENT_IDX", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4, true, true};
    driver.descriptor(0, driver.data(0), 4);
    driver.set_avail_flags(1);  // ignored with EVENT_IDX (§2.6.7)
    Virtqueue queue = make_queue(guest, driver.config());

    // An empty pop asks for a notification at the next entry (§2.6.10).
    auto none = queue.pop();
    REQUIRE(none.has_value());
    CHECK(driver.avail_event() == 0);

    auto round = [&] {
        driver.offer(0);
        REQUIRE(queue.push_used(pop_chain(queue).head, 0).has_value());
        auto empty = queue.pop();
        REQUIRE(empty.has_value());
        CHECK_FALSE(empty->has_value());
    };

    driver.set_used_event(0);  // notify once entry 0 is used
    round();
    CHECK(driver.avail_event() == 1);
    CHECK(queue.should_notify_driver());

    driver.set_used_event(5);  // not before entry 5
    round();                   // entry 1
    CHECK_FALSE(queue.should_notify_driver());
    round();  // entry 2
    round();  // entry 3
    round();  // entry 4
    CHECK_FALSE(queue.should_notify_driver());
    round();  // entry 5
    round();  // entry 6: a batch of two covering used_event
    CHECK(queue.should_notify_driver());
    CHECK(driver.avail_event() == 7);
}

TEST_CASE("virtqueue: event index re-checks after publishing avail_event", "[virtio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 4, false, true};
    driver.descriptor(1, driver.data(0), 4);
    Virtqueue queue = make_queue(guest, driver.config());
    driver.offer(1);
    CHECK(pop_chain(queue).head == 1);
    CHECK(driver.avail_event() == 0);  // only written when the ring runs empty
}
