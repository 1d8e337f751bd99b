// SPDX-License-Identifier: MIT
//
// virtio-console behind its virtio-mmio slot, driven the way Linux's
// virtio_mmio and virtio_console drivers do: negotiation, two queues,
// output through the transmitq, input through the receiveq, the slot's
// level interrupt, and malformed rings.
#include "virtio_console.hpp"

#include "fake_guest.hpp"
#include "fakes.hpp"
#include "virtio_slot.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::virtio::Gpa;
using boxy::virtio::MmioRegister;
using boxy::virtio::VirtioMmioTransport;
using boxy::virtio::test::FakeGuest;
using boxy::vm::test::FakeConsole;
using boxy::vm::test::FakeLine;

namespace {

constexpr std::uint16_t kWriteFlag = 2;
constexpr std::uint32_t kSize = 16;

// A split ring of kSize entries at `base` (descriptor table, available
// ring at +0x100, used ring at +0x200), written as a driver would.
struct Ring {
    FakeGuest* guest;
    Gpa base;
    std::uint16_t avail_idx = 0;

    [[nodiscard]] Gpa descriptors() const { return base; }
    [[nodiscard]] Gpa available() const { return base + 0x100; }
    [[nodiscard]] Gpa used() const { return base + 0x200; }

    void offer(std::uint16_t descriptor, Gpa addr, std::uint32_t len, std::uint16_t flags = 0)
    {
        guest->put_descriptor(descriptors(), descriptor, addr, len, flags);
        guest->put<std::uint16_t>(available() + 4 + 2 * Gpa{avail_idx % kSize}, descriptor);
        ++avail_idx;
        guest->put<std::uint16_t>(available() + 2, avail_idx);
    }
    [[nodiscard]] std::uint16_t used_idx() const { return guest->get<std::uint16_t>(used() + 2); }
    [[nodiscard]] std::uint32_t used_len(std::uint32_t slot) const
    {
        return guest->get<std::uint32_t>(used() + 4 + 8 * Gpa{slot % kSize} + 4);
    }
};

struct Fixture {
    FakeGuest guest{16};
    FakeConsole console;
    FakeLine irq;
    VirtioMmioSlot* slot_ptr = nullptr;
    VirtioConsole device{guest.memory(), console, [this] { slot_ptr->signal_used_buffers(); },
                         [this] { slot_ptr->set_needs_reset(); }};
    VirtioMmioTransport transport{device};
    VirtioMmioSlot slot{transport, irq};
    Ring receive{&guest, FakeGuest::kBase};
    Ring transmit{&guest, FakeGuest::kBase + 0x1000};
    Gpa buffers = FakeGuest::kBase + 0x4000;

    Fixture() { slot_ptr = &slot; }

    std::uint32_t rd(MmioRegister reg)
    {
        return static_cast<std::uint32_t>(slot.mmio_read(static_cast<std::uint64_t>(reg), 4));
    }
    void wr(MmioRegister reg, std::uint64_t value)
    {
        slot.mmio_write(static_cast<std::uint64_t>(reg), 4, value & 0xFFFF'FFFF);
    }
    void setup_queue(std::uint32_t index, const Ring& ring)
    {
        wr(MmioRegister::kQueueSel, index);
        REQUIRE(rd(MmioRegister::kQueueNumMax) == VirtioConsole::kQueueSize);
        wr(MmioRegister::kQueueNum, kSize);
        wr(MmioRegister::kQueueDescLow, ring.descriptors());
        wr(MmioRegister::kQueueDescHigh, ring.descriptors() >> 32);
        wr(MmioRegister::kQueueDriverLow, ring.available());
        wr(MmioRegister::kQueueDriverHigh, ring.available() >> 32);
        wr(MmioRegister::kQueueDeviceLow, ring.used());
        wr(MmioRegister::kQueueDeviceHigh, ring.used() >> 32);
        wr(MmioRegister::kQueueReady, 1);
    }
    // virtio 1.1 §3.1.1, as Linux's virtio_mmio does it.
    void initialise()
    {
        REQUIRE(rd(MmioRegister::kMagicValue) == 0x74726976);
        REQUIRE(rd(MmioRegister::kDeviceId) == 3);
        wr(MmioRegister::kStatus, 1);
        wr(MmioRegister::kStatus, 3);
        wr(MmioRegister::kDeviceFeaturesSel, 0);
        CHECK(rd(MmioRegister::kDeviceFeatures) == 0);  // no size, multiport, emerg_wr
        wr(MmioRegister::kDeviceFeaturesSel, 1);
        REQUIRE(rd(MmioRegister::kDeviceFeatures) == 1);  // VERSION_1
        wr(MmioRegister::kDriverFeaturesSel, 1);
        wr(MmioRegister::kDriverFeatures, 1);
        wr(MmioRegister::kStatus, 11);
        REQUIRE(rd(MmioRegister::kStatus) == 11);
        setup_queue(VirtioConsole::kReceiveQueue, receive);
        setup_queue(VirtioConsole::kTransmitQueue, transmit);
        wr(MmioRegister::kStatus, 15);
        REQUIRE(rd(MmioRegister::kStatus) == 15);
    }
    void put_text(Gpa at, const std::string& text)
    {
        for (std::size_t i = 0; i < text.size(); ++i) {
            guest.put<std::uint8_t>(at + i, static_cast<std::uint8_t>(text[i]));
        }
    }
    std::string get_text(Gpa at, std::size_t length)
    {
        std::string text;
        for (std::size_t i = 0; i < length; ++i) {
            text.push_back(static_cast<char>(guest.get<std::uint8_t>(at + i)));
        }
        return text;
    }
    void acknowledge() { wr(MmioRegister::kInterruptAck, rd(MmioRegister::kInterruptStatus)); }
};

std::span<const std::uint8_t> bytes_of(const std::string& text)
{
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

TEST_CASE("virtio-console: guest output reaches the console", "[virtio_console]")
{
    Fixture f;
    f.initialise();
    CHECK_FALSE(f.irq.level);
    f.put_text(f.buffers, "hello, ");
    f.put_text(f.buffers + 0x100, "world\n");
    f.transmit.offer(0, f.buffers, 7);
    f.transmit.offer(1, f.buffers + 0x100, 6);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kTransmitQueue);
    CHECK(f.console.take() == "hello, world\n");
    CHECK(f.transmit.used_idx() == 2);
    CHECK(f.transmit.used_len(0) == 0);
    // Used buffers: the slot's line rises, and falls on the driver's ACK.
    CHECK(f.irq.level);
    CHECK(f.rd(MmioRegister::kInterruptStatus) == 1);
    f.acknowledge();
    CHECK_FALSE(f.irq.level);
    CHECK(f.device.stats().output_bytes == 13);
}

TEST_CASE("virtio-console: host input fills receive buffers as they come", "[virtio_console]")
{
    Fixture f;
    f.device.push_input(bytes_of("typed early"));  // before the driver: kept
    f.initialise();
    CHECK(f.device.pending_input() == 11);
    f.receive.offer(0, f.buffers, 5, kWriteFlag);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kReceiveQueue);
    CHECK(f.receive.used_idx() == 1);
    CHECK(f.receive.used_len(0) == 5);
    CHECK(f.get_text(f.buffers, 5) == "typed");
    CHECK(f.irq.level);
    f.acknowledge();

    f.receive.offer(1, f.buffers + 0x100, 64, kWriteFlag);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kReceiveQueue);
    CHECK(f.receive.used_len(1) == 6);
    CHECK(f.get_text(f.buffers + 0x100, 6) == " early");
    f.acknowledge();

    // A buffer waiting in the ring takes input as soon as it arrives.
    f.receive.offer(2, f.buffers + 0x200, 64, kWriteFlag);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kReceiveQueue);
    CHECK(f.receive.used_idx() == 2);
    CHECK_FALSE(f.irq.level);
    f.device.push_input(bytes_of("ls\r"));
    CHECK(f.receive.used_idx() == 3);
    CHECK(f.get_text(f.buffers + 0x200, 3) == "ls\r");
    CHECK(f.irq.level);
    CHECK(f.device.stats().input_bytes == 14);
    CHECK(f.device.pending_input() == 0);
}

TEST_CASE("virtio-console: unread input is bounded, oldest dropped", "[virtio_console]")
{
    Fixture f;
    f.initialise();
    const std::string chunk(1000, 'a');
    for (int i = 0; i < 70; ++i) {
        f.device.push_input(bytes_of(chunk));
    }
    f.device.push_input(bytes_of("END"));
    CHECK(f.device.pending_input() == VirtioConsole::kInputLimit);
    CHECK(f.device.stats().input_dropped == 70'003 - VirtioConsole::kInputLimit);
    // One huge write keeps its tail.
    const std::string huge(VirtioConsole::kInputLimit + 10, 'b');
    f.device.push_input(bytes_of(huge + "TAIL"));
    CHECK(f.device.pending_input() == VirtioConsole::kInputLimit);
    f.receive.offer(0, f.buffers, 0x1000, kWriteFlag);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kReceiveQueue);
    CHECK(f.get_text(f.buffers, 4) == "bbbb");
}

TEST_CASE("virtio-console: driver reset keeps input and drops the queues", "[virtio_console]")
{
    Fixture f;
    f.initialise();
    f.wr(MmioRegister::kStatus, 0);
    CHECK_FALSE(f.device.active());
    f.device.push_input(bytes_of("x"));
    CHECK(f.device.pending_input() == 1);
    f.receive = Ring{&f.guest, FakeGuest::kBase};
    f.transmit = Ring{&f.guest, FakeGuest::kBase + 0x1000};
    f.guest.put<std::uint16_t>(f.receive.used() + 2, 0);
    f.guest.put<std::uint16_t>(f.transmit.used() + 2, 0);
    f.initialise();
    CHECK(f.device.active());
}

TEST_CASE("virtio-console: rings outside guest RAM refuse DRIVER_OK", "[virtio_console][malformed]")
{
    Fixture f;
    f.transmit.base = FakeGuest::kBase + 16 * 4096 - 0x100;  // used ring past the end
    f.wr(MmioRegister::kStatus, 1);
    f.wr(MmioRegister::kStatus, 3);
    f.wr(MmioRegister::kDriverFeaturesSel, 1);
    f.wr(MmioRegister::kDriverFeatures, 1);
    f.wr(MmioRegister::kStatus, 11);
    f.setup_queue(VirtioConsole::kReceiveQueue, f.receive);
    f.setup_queue(VirtioConsole::kTransmitQueue, f.transmit);
    f.wr(MmioRegister::kStatus, 15);
    CHECK((f.rd(MmioRegister::kStatus) & 64) != 0);  // DEVICE_NEEDS_RESET
    CHECK_FALSE(f.device.active());
    CHECK(f.irq.level);  // configuration change notification
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kTransmitQueue);
    CHECK(f.console.take().empty());
}

TEST_CASE("virtio-console: a malformed chain breaks only the device", "[virtio_console][malformed]")
{
    Fixture f;
    f.initialise();
    SECTION("head out of range")
    {
        f.guest.put<std::uint16_t>(f.transmit.available() + 4, 999);
        f.guest.put<std::uint16_t>(f.transmit.available() + 2, 1);
    }
    SECTION("buffer outside RAM")
    {
        f.transmit.offer(0, 0xFFFF'FFFF'0000, 16);
    }
    SECTION("descriptor loop")
    {
        f.guest.put_descriptor(f.transmit.descriptors(), 0, f.buffers, 4, 1, 1);
        f.guest.put_descriptor(f.transmit.descriptors(), 1, f.buffers, 4, 1, 0);
        f.guest.put<std::uint16_t>(f.transmit.available() + 4, 0);
        f.guest.put<std::uint16_t>(f.transmit.available() + 2, 1);
    }
    SECTION("available index jumps")
    {
        f.guest.put<std::uint16_t>(f.transmit.available() + 2, 40000);
    }
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kTransmitQueue);
    CHECK((f.rd(MmioRegister::kStatus) & 64) != 0);
    CHECK(f.device.stats().broken_queues == 1);
    CHECK(f.irq.level);
    CHECK(f.console.take().empty());
    // Later notifications are refused by the transport; input still queues.
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kTransmitQueue);
    f.device.push_input(bytes_of("z"));
    CHECK(f.device.stats().broken_queues == 1);
}

TEST_CASE("virtio-console: writable buffers on the transmitq are not output",
          "[virtio_console][malformed]")
{
    Fixture f;
    f.initialise();
    f.put_text(f.buffers, "secret");
    f.transmit.offer(0, f.buffers, 6, kWriteFlag);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kTransmitQueue);
    CHECK(f.console.take().empty());
    CHECK(f.transmit.used_idx() == 1);
    // And readable buffers on the receiveq are not written.
    f.device.push_input(bytes_of("in"));
    f.receive.offer(0, f.buffers + 0x100, 8);
    f.wr(MmioRegister::kQueueNotify, VirtioConsole::kReceiveQueue);
    CHECK(f.receive.used_len(0) == 0);
    CHECK(f.device.pending_input() == 2);
}

TEST_CASE("virtio-console: configuration space reads as zeros", "[virtio_console]")
{
    Fixture f;
    for (std::uint64_t offset = 0; offset < VirtioConsole::kConfigSize; offset += 4) {
        CHECK(f.slot.mmio_read(0x100 + offset, 4) == 0);
    }
    f.slot.mmio_write(0x108, 4, 'x');  // emerg_wr: not offered, ignored
    CHECK(f.console.take().empty());
    CHECK(f.slot.mmio_read(0x100 + VirtioConsole::kConfigSize, 4) == 0);
}
