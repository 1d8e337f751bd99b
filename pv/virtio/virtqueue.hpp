// SPDX-License-Identifier: MIT
//
// The device side of a virtio 1.x split virtqueue (virtio 1.1 §2.6 "Split
// Virtqueues"). The guest driver owns the descriptor table and the
// available ring; this class reads them, validates every value it reads,
// and hands the device model a Chain of guest-physical buffers that are
// known to lie inside guest RAM. It writes only the used ring.
//
// Everything read from the guest is untrusted. A malformed ring or chain
// makes pop() return an error and the queue stays broken (every later call
// returns the same error) until the device is reset: the device model then
// sets DEVICE_NEEDS_RESET (virtio 1.1 §2.1.2), which is the spec's way of
// telling the driver that it broke the protocol. Nothing a guest writes can
// make this code touch host memory outside the GuestMemory, loop without
// bound, or allocate more than a few descriptors' worth per queue entry.
//
// Supported: VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX (each only when
// negotiated). Not supported: packed virtqueues (VIRTIO_F_RING_PACKED),
// VIRTIO_F_IN_ORDER, VIRTIO_F_NOTIFICATION_DATA, VIRTIO_F_RING_RESET; a
// device must not offer them. Legacy (pre-1.0, guest-endian) rings are not
// supported either: fields are little-endian, as is the host.
//
// Not thread-safe: one thread (the device's) drives a queue. After each
// available buffer notification the device pops until the queue is empty.
//
// Section numbers are those of virtio 1.1 (in 1.2, §2.6 became §2.7).
#pragma once

#include "virtio/guest_memory.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace boxy::virtio {

// virtio 1.1 §2.6: "The maximum Queue Size value is 32768".
inline constexpr std::uint32_t kMaxQueueSize = 32768;

// Where the driver put the three parts of a queue (virtio 1.1 §2.6 and
// §4.2.2: QueueDesc, QueueDriver and QueueDevice) and what was negotiated.
struct QueueConfig {
    std::uint32_t size{0};             // number of descriptors: a power of two <= 32768
    Gpa descriptor_table{0};           // Descriptor Area: 16 * size bytes, 16-aligned
    Gpa available_ring{0};             // Driver Area: 6 + 2 * size bytes, 2-aligned
    Gpa used_ring{0};                  // Device Area: 6 + 8 * size bytes, 4-aligned
    bool indirect_descriptors{false};  // VIRTIO_F_INDIRECT_DESC negotiated
    bool event_index{false};           // VIRTIO_F_EVENT_IDX negotiated
};

enum class VirtqueueError : std::uint8_t {
    // Queue set-up (Virtqueue::create).
    kQueueSizeInvalid,   // zero, not a power of two, or above 32768
    kRingMisaligned,     // a ring part violates the §2.6 alignment table
    kRingOutsideMemory,  // a ring part is not wholly inside guest RAM
    // Available ring.
    kAvailIndexJump,  // avail idx moved by more than the queue size
    kHeadOutOfRange,  // a ring entry names no descriptor
    kHeadInFlight,    // a head the device still holds was offered again
    // Descriptor chains.
    kNextOutOfRange,              // `next` names no descriptor of its table
    kChainTooLong,                // more descriptors than the table holds: a loop
    kChainTooLarge,               // more than 2^32 bytes in total (§2.6.5.2)
    kZeroLengthBuffer,            // a buffer descriptor with len 0
    kBufferOverflow,              // addr + len wraps around 2^64
    kBufferOutsideMemory,         // a buffer is not wholly inside guest RAM
    kReadableAfterWritable,       // §2.6.4.2: writable buffers come last
    kIndirectNotNegotiated,       // VIRTQ_DESC_F_INDIRECT without the feature
    kIndirectWithNext,            // INDIRECT and NEXT together (§2.6.5.3.1)
    kNestedIndirect,              // INDIRECT inside an indirect table
    kIndirectTableInvalid,        // len not a non-zero multiple of 16, too big
    kIndirectTableOutsideMemory,  // the table is not wholly inside guest RAM
    // Device-side misuse of push_used (not the guest's fault; not sticky).
    kUsedHeadNotInFlight,  // push_used for a head that pop() did not hand out
    kUsedLengthTooLong,    // more bytes written than the chain can hold
};

[[nodiscard]] std::string_view to_string(VirtqueueError error);

// One guest buffer: [gpa, gpa + len), inside guest RAM, len > 0.
struct Buffer {
    Gpa gpa{0};
    std::uint32_t len{0};
};

// A validated descriptor chain (virtio 1.1 §2.6.5): device-readable buffers
// first, then device-writable ones, in the driver's order.
struct Chain {
    std::uint16_t head{0};  // give it back with push_used(head, ...)
    std::vector<Buffer> readable;
    std::vector<Buffer> writable;
    std::uint64_t readable_bytes{0};
    std::uint64_t writable_bytes{0};
};

class Virtqueue {
public:
    // Checks the configuration against guest RAM (size, alignment, ring
    // parts inside RAM). `memory` must outlive the queue.
    [[nodiscard]] static Result<Virtqueue, VirtqueueError> create(const GuestMemory& memory,
                                                                  const QueueConfig& config);

    // The next chain the driver made available, or std::nullopt when there
    // is none. With VIRTIO_F_EVENT_IDX, an empty queue also asks the driver
    // to notify the device on its next addition (avail_event, §2.6.10).
    [[nodiscard]] Result<std::optional<Chain>, VirtqueueError> pop();

    // Returns a popped chain to the driver: `written` bytes were written to
    // its writable buffers, from the first one on (§2.6.8).
    [[nodiscard]] Result<void, VirtqueueError> push_used(std::uint16_t head, std::uint32_t written);

    // Whether the driver wants a used buffer notification for the chains
    // pushed since the last call (§2.6.7). Call after each batch of
    // push_used (fewer than 65536 of them: the ring indices are 16-bit).
    [[nodiscard]] bool should_notify_driver();

    [[nodiscard]] const QueueConfig& config() const { return config_; }
    // The first error pop() hit, if any: the queue is then unusable.
    [[nodiscard]] std::optional<VirtqueueError> broken() const { return broken_; }
    [[nodiscard]] std::uint32_t in_flight() const { return in_flight_count_; }

private:
    Virtqueue(const GuestMemory& memory, const QueueConfig& config,
              std::span<std::byte> descriptors, std::span<std::byte> available,
              std::span<std::byte> used);

    [[nodiscard]] Result<Chain, VirtqueueError> walk_chain(std::uint16_t head) const;
    [[nodiscard]] std::uint16_t load_avail_idx() const;
    void publish_avail_event();
    Unexpected<VirtqueueError> fail(VirtqueueError error);

    const GuestMemory* memory_;
    QueueConfig config_;
    // Host views of the three ring parts, checked against RAM by create().
    std::span<std::byte> descriptors_;
    std::span<std::byte> available_;
    std::span<std::byte> used_;
    std::uint16_t next_avail_{0};  // free-running, like the ring indices
    std::uint16_t next_used_{0};
    std::uint16_t last_signalled_used_{0};  // used idx at the last should_notify_driver()
    bool unsignalled_used_{false};          // push_used since should_notify_driver()
    std::optional<VirtqueueError> broken_;
    // Per head: writable bytes of the chain the device holds, or kNotInFlight.
    std::vector<std::uint64_t> in_flight_capacity_;
    std::uint32_t in_flight_count_{0};
};

}  // namespace boxy::virtio
