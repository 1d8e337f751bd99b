// SPDX-License-Identifier: MIT
//
// The virtio-mmio register model (virtio 1.1 §4.2) driven the way the Linux
// virtio_mmio driver drives it, plus everything a driver must not do.
#include "virtio/virtio_mmio.hpp"

#include "fake_guest.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <optional>
#include <vector>

using namespace boxy::virtio;
using boxy::virtio::test::FakeDriver;
using boxy::virtio::test::FakeGuest;
using boxy::virtio::test::kWrite;
using Reg = MmioRegister;

namespace {

constexpr std::uint64_t kOffered = kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | 1;

// Records every callback; config space is 8 plain bytes.
class FakeDevice final : public VirtioDevice {
public:
    [[nodiscard]] std::uint32_t device_id() const override { return 3; }
    [[nodiscard]] std::uint64_t device_features() const override { return kOffered; }
    [[nodiscard]] std::uint16_t queue_count() const override { return 2; }
    [[nodiscard]] std::uint32_t queue_max_size(std::uint16_t queue) const override
    {
        return queue == 0 ? 256 : 16;
    }
    [[nodiscard]] std::uint32_t config_size() const override { return 8; }
    [[nodiscard]] std::uint32_t config_read(std::uint32_t offset, std::uint32_t width) override
    {
        std::uint32_t value = 0;
        std::memcpy(&value, config.data() + offset, width);
        return value;
    }
    void config_write(std::uint32_t offset, std::uint32_t width, std::uint32_t value) override
    {
        std::memcpy(config.data() + offset, &value, width);
    }
    [[nodiscard]] bool accept_features(std::uint64_t features) override
    {
        accepted = features;
        return accept;
    }
    [[nodiscard]] bool activate(std::uint64_t features,
                                std::span<const MmioQueueState> queues) override
    {
        activated_features = features;
        activated_queues.assign(queues.begin(), queues.end());
        return activate_ok;
    }
    void queue_notify(std::uint16_t queue) override { notified.push_back(queue); }
    void queue_disabled(std::uint16_t queue) override { disabled.push_back(queue); }
    void reset() override { ++resets; }

    std::array<std::uint8_t, 8> config{1, 2, 3, 4, 5, 6, 7, 8};
    bool accept{true};
    bool activate_ok{true};
    std::optional<std::uint64_t> accepted;
    std::optional<std::uint64_t> activated_features;
    std::vector<MmioQueueState> activated_queues;
    std::vector<std::uint16_t> notified;
    std::vector<std::uint16_t> disabled;
    int resets{0};
};

std::uint64_t rd(VirtioMmioTransport& mmio, Reg reg)
{
    return mmio.read(static_cast<std::uint64_t>(reg), 4);
}

void wr(VirtioMmioTransport& mmio, Reg reg, std::uint64_t value)
{
    mmio.write(static_cast<std::uint64_t>(reg), 4, value);
}

void negotiate(VirtioMmioTransport& mmio, std::uint64_t features)
{
    wr(mmio, Reg::kStatus, kStatusAcknowledge);
    wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusDriver);
    wr(mmio, Reg::kDriverFeaturesSel, 0);
    wr(mmio, Reg::kDriverFeatures, features & 0xffff'ffff);
    wr(mmio, Reg::kDriverFeaturesSel, 1);
    wr(mmio, Reg::kDriverFeatures, features >> 32);
    wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
}

// §4.2.3.2 "Virtqueue Configuration".
void setup_queue(VirtioMmioTransport& mmio, std::uint32_t index, std::uint32_t size, Gpa desc,
                 Gpa driver, Gpa device)
{
    wr(mmio, Reg::kQueueSel, index);
    wr(mmio, Reg::kQueueNum, size);
    wr(mmio, Reg::kQueueDescLow, desc & 0xffff'ffff);
    wr(mmio, Reg::kQueueDescHigh, desc >> 32);
    wr(mmio, Reg::kQueueDriverLow, driver & 0xffff'ffff);
    wr(mmio, Reg::kQueueDriverHigh, driver >> 32);
    wr(mmio, Reg::kQueueDeviceLow, device & 0xffff'ffff);
    wr(mmio, Reg::kQueueDeviceHigh, device >> 32);
    wr(mmio, Reg::kQueueReady, 1);
}

constexpr std::uint32_t kUpToFeaturesOk = kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk;
constexpr std::uint32_t kLive = kUpToFeaturesOk | kStatusDriverOk;

}  // namespace

TEST_CASE("mmio: identification registers", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    CHECK(rd(mmio, Reg::kMagicValue) == 0x74726976);
    CHECK(rd(mmio, Reg::kVersion) == 2);
    CHECK(rd(mmio, Reg::kDeviceId) == 3);
    CHECK(rd(mmio, Reg::kVendorId) == kBoxyVendorId);
    CHECK(rd(mmio, Reg::kStatus) == 0);
    wr(mmio, Reg::kDeviceFeaturesSel, 0);
    CHECK(rd(mmio, Reg::kDeviceFeatures) == (kOffered & 0xffff'ffff));
    wr(mmio, Reg::kDeviceFeaturesSel, 1);
    CHECK(rd(mmio, Reg::kDeviceFeatures) == kOffered >> 32);
    wr(mmio, Reg::kDeviceFeaturesSel, 2);
    CHECK(rd(mmio, Reg::kDeviceFeatures) == 0);
    CHECK(rd(mmio, Reg::kShmLenLow) == 0xffff'ffff);  // no shared memory regions
    CHECK(mmio.stats().bad_access == 0);
    CHECK(mmio.stats().unknown_offset == 0);
}

TEST_CASE("mmio: bad accesses are ignored and counted", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    SECTION("wrong width or alignment on control registers")
    {
        CHECK(mmio.read(0x000, 2) == 0);
        CHECK(mmio.read(0x000, 8) == 0);
        CHECK(mmio.read(0x001, 4) == 0);
        mmio.write(0x070, 1, kStatusAcknowledge);
        mmio.write(0x072, 4, kStatusAcknowledge);
        CHECK(mmio.stats().bad_access == 5);
        CHECK(rd(mmio, Reg::kStatus) == 0);
    }
    SECTION("unknown offsets")
    {
        CHECK(mmio.read(0x018, 4) == 0);
        CHECK(mmio.read(0x0f8, 4) == 0);
        mmio.write(0x028, 4, 4096);       // legacy GuestPageSize
        CHECK(mmio.read(0x108, 1) == 0);  // past the 8-byte config space
        CHECK(mmio.read(0x1'0000'0000, 4) == 0);
        CHECK(mmio.stats().unknown_offset == 5);
    }
    SECTION("wrong direction")
    {
        CHECK(rd(mmio, Reg::kQueueSel) == 0);
        CHECK(rd(mmio, Reg::kDriverFeatures) == 0);
        CHECK(rd(mmio, Reg::kInterruptAck) == 0);
        wr(mmio, Reg::kMagicValue, 0);
        wr(mmio, Reg::kQueueNumMax, 1);
        wr(mmio, Reg::kInterruptStatus, 3);
        CHECK(mmio.stats().wrong_direction == 6);
        CHECK(rd(mmio, Reg::kMagicValue) == kMmioMagicValue);
        CHECK(rd(mmio, Reg::kQueueNumMax) == 256);
    }
}

TEST_CASE("mmio: device configuration space", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    CHECK(mmio.read(0x100, 1) == 1);
    CHECK(mmio.read(0x102, 2) == 0x0403);
    CHECK(mmio.read(0x104, 4) == 0x08070605);
    mmio.write(0x106, 2, 0xffff'abcd);  // truncated to the access width
    CHECK(device.config[6] == 0xcd);
    CHECK(device.config[7] == 0xab);
    CHECK(mmio.read(0x101, 2) == 0);  // unaligned
    CHECK(mmio.read(0x100, 8) == 0);  // 64-bit fields take two 32-bit reads
    CHECK(mmio.read(0x106, 4) == 0);  // unaligned, also crossing the end
    CHECK(mmio.stats().bad_access == 3);
    CHECK(mmio.read(0x108, 4) == 0);
    CHECK(mmio.stats().unknown_offset == 1);
    const auto generation = rd(mmio, Reg::kConfigGeneration);
    mmio.signal_config_change();
    CHECK(rd(mmio, Reg::kConfigGeneration) != generation);
    CHECK_FALSE(mmio.interrupt_asserted());  // no notifications before DRIVER_OK
}

TEST_CASE("mmio: feature negotiation", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    SECTION("a subset with VERSION_1 is accepted")
    {
        negotiate(mmio, kFeatureVersion1 | kFeatureEventIdx);
        CHECK(rd(mmio, Reg::kStatus) == kUpToFeaturesOk);
        CHECK(device.accepted == (kFeatureVersion1 | kFeatureEventIdx));
        CHECK(mmio.driver_features() == (kFeatureVersion1 | kFeatureEventIdx));
        // Final once FEATURES_OK is set.
        wr(mmio, Reg::kDriverFeaturesSel, 0);
        wr(mmio, Reg::kDriverFeatures, 0);
        CHECK(mmio.driver_features() == (kFeatureVersion1 | kFeatureEventIdx));
        CHECK(mmio.stats().ignored_writes == 1);
    }
    SECTION("features the device did not offer")
    {
        negotiate(mmio, kFeatureVersion1 | (std::uint64_t{1} << 5));
        CHECK(rd(mmio, Reg::kStatus) == (kStatusAcknowledge | kStatusDriver));
        CHECK_FALSE(device.accepted.has_value());
        CHECK(mmio.stats().rejected_features == 1);
    }
    SECTION("no VERSION_1: this is a modern-only transport")
    {
        negotiate(mmio, kFeatureIndirectDesc);
        CHECK(rd(mmio, Reg::kStatus) == (kStatusAcknowledge | kStatusDriver));
    }
    SECTION("the device refuses")
    {
        device.accept = false;
        negotiate(mmio, kFeatureVersion1);
        CHECK(rd(mmio, Reg::kStatus) == (kStatusAcknowledge | kStatusDriver));
        CHECK(mmio.stats().rejected_features == 1);
        // The driver may retry with other features, or give up.
        device.accept = true;
        negotiate(mmio, kFeatureVersion1);
        CHECK(rd(mmio, Reg::kStatus) == kUpToFeaturesOk);
    }
    SECTION("feature words above 1 do not exist")
    {
        wr(mmio, Reg::kDriverFeaturesSel, 2);
        wr(mmio, Reg::kDriverFeatures, 1);
        CHECK(mmio.driver_features() == 0);
        CHECK(mmio.stats().ignored_writes == 1);
    }
}

TEST_CASE("mmio: status state machine", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    SECTION("bits out of order are refused")
    {
        wr(mmio, Reg::kStatus, kStatusDriver);
        wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusFeaturesOk);
        CHECK(rd(mmio, Reg::kStatus) == 0);
        wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusDriver);
        wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
        CHECK(rd(mmio, Reg::kStatus) == (kStatusAcknowledge | kStatusDriver));
        CHECK(mmio.stats().ignored_writes == 3);
        CHECK_FALSE(device.activated_features.has_value());
    }
    SECTION("several steps in one write, in order, are fine")
    {
        wr(mmio, Reg::kDriverFeaturesSel, 1);
        wr(mmio, Reg::kDriverFeatures, 1);  // VERSION_1
        wr(mmio, Reg::kStatus, kLive);
        CHECK(rd(mmio, Reg::kStatus) == kLive);
        CHECK(device.activated_features == kFeatureVersion1);
    }
    SECTION("bits cannot be cleared except by reset")
    {
        negotiate(mmio, kFeatureVersion1);
        wr(mmio, Reg::kStatus, kStatusAcknowledge);
        CHECK(rd(mmio, Reg::kStatus) == kUpToFeaturesOk);
        CHECK(mmio.stats().ignored_writes == 1);
    }
    SECTION("undefined bits are refused")
    {
        wr(mmio, Reg::kStatus, kStatusAcknowledge | 0x10);
        wr(mmio, Reg::kStatus, 0x100);
        CHECK(rd(mmio, Reg::kStatus) == 0);
        CHECK(mmio.stats().ignored_writes == 2);
    }
    SECTION("FAILED may be set at any point")
    {
        wr(mmio, Reg::kStatus, kStatusAcknowledge);
        wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusFailed);
        CHECK(rd(mmio, Reg::kStatus) == (kStatusAcknowledge | kStatusFailed));
    }
    SECTION("DEVICE_NEEDS_RESET is the device's: the driver neither sets nor clears it")
    {
        wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusDeviceNeedsReset);
        CHECK(rd(mmio, Reg::kStatus) == kStatusAcknowledge);
        mmio.set_needs_reset();
        wr(mmio, Reg::kStatus, kStatusAcknowledge | kStatusDriver);
        CHECK(rd(mmio, Reg::kStatus) ==
              (kStatusAcknowledge | kStatusDriver | kStatusDeviceNeedsReset));
        wr(mmio, Reg::kStatus, 0);
        CHECK(rd(mmio, Reg::kStatus) == 0);
    }
}

TEST_CASE("mmio: queue setup", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    negotiate(mmio, kFeatureVersion1 | kFeatureIndirectDesc);
    wr(mmio, Reg::kQueueSel, 0);
    CHECK(rd(mmio, Reg::kQueueNumMax) == 256);
    CHECK(rd(mmio, Reg::kQueueReady) == 0);
    wr(mmio, Reg::kQueueSel, 1);
    CHECK(rd(mmio, Reg::kQueueNumMax) == 16);
    wr(mmio, Reg::kQueueSel, 2);
    CHECK(rd(mmio, Reg::kQueueNumMax) == 0);  // no such queue
    wr(mmio, Reg::kQueueNum, 8);
    wr(mmio, Reg::kQueueReady, 1);
    CHECK(rd(mmio, Reg::kQueueReady) == 0);
    CHECK(mmio.stats().ignored_writes == 2);

    setup_queue(mmio, 0, 128, 0x1'2345'6000, 0x7000, 0x8000);
    CHECK(rd(mmio, Reg::kQueueReady) == 1);
    const MmioQueueState& queue = mmio.queues()[0];
    CHECK(queue.ready);
    CHECK(queue.size == 128);
    CHECK(queue.descriptor_area == 0x1'2345'6000);
    const QueueConfig config = make_queue_config(queue, mmio.driver_features());
    CHECK(config.size == 128);
    CHECK(config.available_ring == 0x7000);
    CHECK(config.used_ring == 0x8000);
    CHECK(config.indirect_descriptors);
    CHECK_FALSE(config.event_index);

    SECTION("a live queue's fields cannot change")
    {
        wr(mmio, Reg::kQueueNum, 4);
        wr(mmio, Reg::kQueueDescLow, 0);
        CHECK(mmio.queues()[0].size == 128);
        CHECK(mmio.queues()[0].descriptor_area == 0x1'2345'6000);
        CHECK(mmio.stats().ignored_writes == 4);
    }
    SECTION("QueueReady accepts only 0 and 1")
    {
        wr(mmio, Reg::kQueueReady, 2);
        CHECK(rd(mmio, Reg::kQueueReady) == 1);
        wr(mmio, Reg::kQueueReady, 0);
        CHECK(rd(mmio, Reg::kQueueReady) == 0);
        CHECK(device.disabled.empty());  // not live yet
    }
    SECTION("a queue size that is not a power of two <= QueueNumMax")
    {
        for (std::uint32_t size : {0U, 12U, 32U}) {
            wr(mmio, Reg::kQueueSel, 1);
            wr(mmio, Reg::kQueueNum, size);
            wr(mmio, Reg::kQueueReady, 1);
            CHECK(rd(mmio, Reg::kQueueReady) == 0);
        }
        CHECK((rd(mmio, Reg::kStatus) & kStatusDeviceNeedsReset) != 0);
    }
}

TEST_CASE("mmio: DRIVER_OK, notifications, interrupts and reset", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    negotiate(mmio, kFeatureVersion1);
    setup_queue(mmio, 1, 16, 0x1000, 0x2000, 0x3000);

    wr(mmio, Reg::kQueueNotify, 1);  // before DRIVER_OK
    mmio.signal_used_buffers();
    CHECK_FALSE(mmio.interrupt_asserted());

    wr(mmio, Reg::kStatus, kLive);
    CHECK(rd(mmio, Reg::kStatus) == kLive);
    REQUIRE(device.activated_queues.size() == 2);
    CHECK_FALSE(device.activated_queues[0].ready);
    CHECK(device.activated_queues[1].ready);

    wr(mmio, Reg::kQueueNotify, 1);
    wr(mmio, Reg::kQueueNotify, 0);         // not ready
    wr(mmio, Reg::kQueueNotify, 0x1'0001);  // not a queue index
    CHECK(device.notified == std::vector<std::uint16_t>{1});
    CHECK(mmio.stats().notifications == 1);
    CHECK(mmio.stats().ignored_writes == 3);

    mmio.signal_used_buffers();
    CHECK(mmio.interrupt_asserted());
    CHECK(rd(mmio, Reg::kInterruptStatus) == kInterruptUsedBuffer);
    mmio.signal_config_change();
    CHECK(rd(mmio, Reg::kInterruptStatus) == (kInterruptUsedBuffer | kInterruptConfigChange));
    wr(mmio, Reg::kInterruptAck, kInterruptUsedBuffer);
    CHECK(rd(mmio, Reg::kInterruptStatus) == kInterruptConfigChange);
    wr(mmio, Reg::kInterruptAck, 0xffff'ffff);
    CHECK_FALSE(mmio.interrupt_asserted());

    // A queue enabled after DRIVER_OK would be unknown to the device.
    setup_queue(mmio, 0, 16, 0x4000, 0x5000, 0x6000);
    CHECK(rd(mmio, Reg::kQueueReady) == 0);

    wr(mmio, Reg::kQueueSel, 1);
    wr(mmio, Reg::kQueueReady, 0);
    CHECK(device.disabled == std::vector<std::uint16_t>{1});
    wr(mmio, Reg::kQueueNotify, 1);
    CHECK(device.notified.size() == 1);

    mmio.signal_used_buffers();
    wr(mmio, Reg::kStatus, 0);
    CHECK(device.resets == 1);
    CHECK(rd(mmio, Reg::kStatus) == 0);
    CHECK_FALSE(mmio.interrupt_asserted());
    CHECK(mmio.driver_features() == 0);
    for (const MmioQueueState& queue : mmio.queues()) {
        CHECK_FALSE(queue.ready);
        CHECK(queue.size == queue.max_size);
        CHECK(queue.descriptor_area == 0);
    }
}

TEST_CASE("mmio: DEVICE_NEEDS_RESET", "[virtio][mmio]")
{
    FakeDevice device;
    VirtioMmioTransport mmio{device};
    negotiate(mmio, kFeatureVersion1);
    setup_queue(mmio, 0, 256, 0x1000, 0x2000, 0x3000);
    SECTION("activation failing")
    {
        device.activate_ok = false;
        wr(mmio, Reg::kStatus, kLive);
    }
    SECTION("set by the device while live")
    {
        wr(mmio, Reg::kStatus, kLive);
        mmio.set_needs_reset();
    }
    // §2.1.2: with a configuration change notification.
    CHECK(rd(mmio, Reg::kStatus) == (kLive | kStatusDeviceNeedsReset));
    CHECK(rd(mmio, Reg::kInterruptStatus) == kInterruptConfigChange);
    wr(mmio, Reg::kQueueNotify, 0);
    CHECK(device.notified.empty());
    wr(mmio, Reg::kStatus, 0);
    CHECK(rd(mmio, Reg::kStatus) == 0);
}

TEST_CASE("mmio and virtqueue: a request end to end", "[virtio][mmio][virtqueue]")
{
    FakeGuest guest;
    FakeDriver driver{guest, 16, true, true};
    FakeDevice device;
    VirtioMmioTransport mmio{device};

    negotiate(mmio, kFeatureVersion1 | kFeatureEventIdx);
    const QueueConfig& ring = driver.config();
    setup_queue(mmio, 1, ring.size, ring.descriptor_table, ring.available_ring, ring.used_ring);
    wr(mmio, Reg::kStatus, kLive);
    REQUIRE(device.activated_features.has_value());
    auto queue = Virtqueue::create(
        guest.memory(), make_queue_config(device.activated_queues[1], *device.activated_features));
    REQUIRE(queue.has_value());
    CHECK(queue->config().event_index);

    driver.descriptor(0, driver.data(0), 32, kWrite);
    driver.offer(0);
    wr(mmio, Reg::kQueueNotify, 1);
    REQUIRE(device.notified.size() == 1);

    // What a console device does on the notification: drain, complete, signal.
    for (;;) {
        auto chain = queue->pop();
        REQUIRE(chain.has_value());
        if (!chain->has_value()) {
            break;
        }
        REQUIRE(queue->push_used((*chain)->head, 5).has_value());
    }
    if (queue->should_notify_driver()) {
        mmio.signal_used_buffers();
    }
    CHECK(mmio.interrupt_asserted());
    CHECK(driver.used_idx() == 1);
    CHECK(driver.used(0) == std::pair<std::uint32_t, std::uint32_t>{0, 5});
}
