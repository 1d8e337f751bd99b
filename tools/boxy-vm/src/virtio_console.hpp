// SPDX-License-Identifier: MIT
//
// virtio-console (virtio 1.1 §5.3 "Console Device"), device ID 3, one port
// (no VIRTIO_CONSOLE_F_MULTIPORT, no F_SIZE, no F_EMERG_WRITE), modern only
// (VIRTIO_F_VERSION_1). Queue 0 is port 0's receiveq (host to guest),
// queue 1 its transmitq (guest to host) (§5.3.2).
//
// Guest output: every buffer of every transmitq chain goes to the console
// output as it is popped. Host input (console clients): queued here, at
// most kInputLimit bytes (the oldest are dropped, and counted, when the
// guest does not read), and copied into receiveq buffers whenever the guest
// offers some.
//
// Descriptor chains come through pv/virtio's Virtqueue, which validates
// everything the guest wrote; a malformed queue asks for DEVICE_NEEDS_RESET
// and is not touched again until the driver resets the device. Not
// thread-safe: the caller serialises (machine.hpp's lock).
#pragma once

#include "console_output.hpp"
#include "virtio/guest_memory.hpp"
#include "virtio/virtio_mmio.hpp"
#include "virtio/virtqueue.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>

namespace boxy::vm {

struct VirtioConsoleStats {
    std::uint64_t output_bytes{0};   // guest to host
    std::uint64_t input_bytes{0};    // host to guest, delivered
    std::uint64_t input_dropped{0};  // host input dropped: the guest did not read
    std::uint64_t broken_queues{0};  // malformed rings (DEVICE_NEEDS_RESET)
};

class VirtioConsole final : public virtio::VirtioDevice {
public:
    static constexpr std::uint32_t kDeviceId = 3;
    static constexpr std::uint16_t kReceiveQueue = 0;
    static constexpr std::uint16_t kTransmitQueue = 1;
    static constexpr std::uint32_t kQueueSize = 256;
    static constexpr std::size_t kInputLimit = 64 * 1024;
    // struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr
    // (§5.3.4); all zero, as none of their features is offered.
    static constexpr std::uint32_t kConfigSize = 12;
    // Chains taken from the transmitq per notification; the driver
    // notifies again for what it adds later.
    static constexpr std::uint32_t kMaxChainsPerDrain = 4 * kQueueSize;

    // `used_buffers`: tell the driver about used buffers (the transport's
    // signal_used_buffers and the interrupt line); `needs_reset`: a queue
    // broke (the transport's set_needs_reset and the line). `memory` and
    // `output` must outlive the device.
    VirtioConsole(const virtio::GuestMemory& memory, ConsoleOutput& output,
                  std::function<void()> used_buffers, std::function<void()> needs_reset);

    // Bytes from a console client for the guest.
    void push_input(std::span<const std::uint8_t> bytes);

    [[nodiscard]] std::size_t pending_input() const { return input_.size(); }
    [[nodiscard]] bool active() const { return transmit_.has_value() || receive_.has_value(); }
    [[nodiscard]] const VirtioConsoleStats& stats() const { return stats_; }

    // virtio::VirtioDevice
    [[nodiscard]] std::uint32_t device_id() const override { return kDeviceId; }
    [[nodiscard]] std::uint64_t device_features() const override;
    [[nodiscard]] std::uint16_t queue_count() const override { return 2; }
    [[nodiscard]] std::uint32_t queue_max_size(std::uint16_t queue) const override;
    [[nodiscard]] std::uint32_t config_size() const override { return kConfigSize; }
    [[nodiscard]] std::uint32_t config_read(std::uint32_t offset, std::uint32_t width) override;
    void config_write(std::uint32_t offset, std::uint32_t width, std::uint32_t value) override;
    [[nodiscard]] bool accept_features(std::uint64_t features) override;
    [[nodiscard]] bool activate(std::uint64_t features,
                                std::span<const virtio::MmioQueueState> queues) override;
    void queue_notify(std::uint16_t queue) override;
    void queue_disabled(std::uint16_t queue) override;
    void reset() override;

private:
    void drain_transmit();
    void deliver_input();
    // Copies queued input into the chain's writable buffers; the bytes written.
    std::uint32_t fill(const virtio::Chain& chain);
    void fail(std::optional<virtio::Virtqueue>& queue);

    const virtio::GuestMemory* memory_;
    ConsoleOutput* output_;
    std::function<void()> used_buffers_;
    std::function<void()> needs_reset_;
    std::optional<virtio::Virtqueue> receive_;
    std::optional<virtio::Virtqueue> transmit_;
    std::deque<std::uint8_t> input_;
    VirtioConsoleStats stats_;
};

}  // namespace boxy::vm
