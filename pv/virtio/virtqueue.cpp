// SPDX-License-Identifier: MIT
#include "virtio/virtqueue.hpp"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <utility>

namespace boxy::virtio {
namespace {

// virtio 1.x rings are little-endian (§2.6.3 concerns legacy devices only),
// and so is every host this builds for: fields are copied, not swapped.
static_assert(std::endian::native == std::endian::little);

// §2.6.5 "The Virtqueue Descriptor Table": struct virtq_desc.
struct Descriptor {
    std::uint64_t addr;
    std::uint32_t len;
    std::uint16_t flags;
    std::uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);
static_assert(offsetof(Descriptor, addr) == 0 && offsetof(Descriptor, len) == 8);
static_assert(offsetof(Descriptor, flags) == 12 && offsetof(Descriptor, next) == 14);

constexpr std::uint16_t kDescFlagNext = 1;
constexpr std::uint16_t kDescFlagWrite = 2;
constexpr std::uint16_t kDescFlagIndirect = 4;
constexpr std::uint64_t kDescriptorSize = sizeof(Descriptor);

// §2.6 alignment table and §2.6.6 / §2.6.8 layouts: both rings start with
// le16 flags and le16 idx, then the ring, then one le16 event field.
constexpr std::uint64_t kDescriptorTableAlignment = 16;
constexpr std::uint64_t kAvailableRingAlignment = 2;
constexpr std::uint64_t kUsedRingAlignment = 4;
constexpr std::size_t kRingFlagsOffset = 0;
constexpr std::size_t kRingIdxOffset = 2;
constexpr std::size_t kRingEntriesOffset = 4;
constexpr std::size_t kAvailEntrySize = 2;
constexpr std::size_t kUsedEntrySize = 8;  // struct virtq_used_elem: le32 id, le32 len
constexpr std::uint16_t kAvailFlagNoInterrupt = 1;

// §2.6.5.2: "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes".
constexpr std::uint64_t kMaxChainBytes = std::uint64_t{1} << 32;
constexpr std::uint64_t kNotInFlight = UINT64_MAX;

// 16-bit ring fields are shared with the running guest: accessed atomically
// so the compiler neither tears nor re-reads them. create() checked that
// each lies 2-aligned in guest RAM, and GuestMemory keeps host and guest
// alignment equal, as std::atomic_ref requires.
std::atomic_ref<std::uint16_t> ring_u16(std::span<std::byte> ring, std::size_t offset)
{
    // reinterpret_cast: the bytes are guest RAM holding an le16 (see above).
    return std::atomic_ref<std::uint16_t>{
        *reinterpret_cast<std::uint16_t*>(ring.subspan(offset, 2).data())};
}

// One copy of a descriptor, validated afterwards: the guest can rewrite the
// table at any time, so no field is read from guest memory twice.
Descriptor read_descriptor(std::span<const std::byte> table, std::uint32_t index)
{
    Descriptor descriptor{};
    std::memcpy(&descriptor, table.subspan(index * kDescriptorSize, kDescriptorSize).data(),
                sizeof descriptor);
    return descriptor;
}

}  // namespace

std::string_view to_string(VirtqueueError error)
{
    switch (error) {
        case VirtqueueError::kQueueSizeInvalid: return "queue size is not a power of two <= 32768";
        case VirtqueueError::kRingMisaligned: return "ring part misaligned";
        case VirtqueueError::kRingOutsideMemory: return "ring part outside guest RAM";
        case VirtqueueError::kAvailIndexJump:
            return "available idx moved by more than the queue size";
        case VirtqueueError::kHeadOutOfRange: return "available ring entry out of range";
        case VirtqueueError::kHeadInFlight: return "head offered again while in use";
        case VirtqueueError::kNextOutOfRange: return "descriptor next out of range";
        case VirtqueueError::kChainTooLong: return "descriptor chain longer than its table (loop)";
        case VirtqueueError::kChainTooLarge: return "descriptor chain larger than 4 GiB";
        case VirtqueueError::kZeroLengthBuffer: return "zero-length buffer";
        case VirtqueueError::kBufferOverflow: return "buffer address + length overflows";
        case VirtqueueError::kBufferOutsideMemory: return "buffer outside guest RAM";
        case VirtqueueError::kReadableAfterWritable: return "readable buffer after a writable one";
        case VirtqueueError::kIndirectNotNegotiated: return "indirect descriptor not negotiated";
        case VirtqueueError::kIndirectWithNext: return "indirect descriptor with NEXT";
        case VirtqueueError::kNestedIndirect: return "indirect descriptor inside an indirect table";
        case VirtqueueError::kIndirectTableInvalid: return "indirect table length invalid";
        case VirtqueueError::kIndirectTableOutsideMemory: return "indirect table outside guest RAM";
        case VirtqueueError::kUsedHeadNotInFlight: return "used head was not popped";
        case VirtqueueError::kUsedLengthTooLong: return "used length exceeds the writable buffers";
    }
    return "unknown virtqueue error";
}

Result<Virtqueue, VirtqueueError> Virtqueue::create(const GuestMemory& memory,
                                                    const QueueConfig& config)
{
    // §2.6: "Queue Size value is always a power of 2. The maximum Queue Size
    // value is 32768."
    if (config.size == 0 || config.size > kMaxQueueSize || !std::has_single_bit(config.size)) {
        return make_error(VirtqueueError::kQueueSizeInvalid);
    }
    // §2.6.1: each part starts at a multiple of its alignment.
    if (config.descriptor_table % kDescriptorTableAlignment != 0 ||
        config.available_ring % kAvailableRingAlignment != 0 ||
        config.used_ring % kUsedRingAlignment != 0) {
        return make_error(VirtqueueError::kRingMisaligned);
    }
    // §2.6 size table; the avail and used sizes include the event fields.
    const std::uint64_t size = config.size;
    const auto descriptors = memory.span_at(config.descriptor_table, kDescriptorSize * size);
    const auto available =
        memory.span_at(config.available_ring, kRingEntriesOffset + kAvailEntrySize * size + 2);
    const auto used =
        memory.span_at(config.used_ring, kRingEntriesOffset + kUsedEntrySize * size + 2);
    if (!descriptors || !available || !used) {
        return make_error(VirtqueueError::kRingOutsideMemory);
    }
    return Virtqueue{memory, config, *descriptors, *available, *used};
}

Virtqueue::Virtqueue(const GuestMemory& memory, const QueueConfig& config,
                     std::span<std::byte> descriptors, std::span<std::byte> available,
                     std::span<std::byte> used)
    : memory_{&memory},
      config_{config},
      descriptors_{descriptors},
      available_{available},
      used_{used},
      in_flight_capacity_(config.size, kNotInFlight)
{
}

Unexpected<VirtqueueError> Virtqueue::fail(VirtqueueError error)
{
    broken_ = error;
    return make_error(error);
}

std::uint16_t Virtqueue::load_avail_idx() const
{
    // Acquire: the ring entries and descriptors the driver published before
    // raising idx are read after it (§2.6.13.3 "Updating idx").
    return ring_u16(available_, kRingIdxOffset).load(std::memory_order_acquire);
}

void Virtqueue::publish_avail_event()
{
    // §2.6.10: with VIRTIO_F_EVENT_IDX the driver notifies once its avail
    // idx passes avail_event, the le16 after the used ring entries. The
    // full fence orders this store before the caller re-reads avail idx, so
    // a chain added concurrently is either seen or notified.
    ring_u16(used_, kRingEntriesOffset + kUsedEntrySize * config_.size)
        .store(next_avail_, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

Result<std::optional<Chain>, VirtqueueError> Virtqueue::pop()
{
    if (broken_) {
        return make_error(*broken_);
    }
    auto pending = static_cast<std::uint16_t>(load_avail_idx() - next_avail_);
    if (pending == 0 && config_.event_index) {
        publish_avail_event();
        pending = static_cast<std::uint16_t>(load_avail_idx() - next_avail_);
    }
    if (pending == 0) {
        return std::optional<Chain>{};
    }
    // §2.6.13: the ring holds at most `size` entries the device has not
    // consumed; idx is free-running, so a larger distance is garbage.
    if (pending > config_.size) {
        return fail(VirtqueueError::kAvailIndexJump);
    }
    const std::size_t slot = next_avail_ & (config_.size - 1);
    const std::uint16_t head = ring_u16(available_, kRingEntriesOffset + kAvailEntrySize * slot)
                                   .load(std::memory_order_relaxed);
    if (head >= config_.size) {
        return fail(VirtqueueError::kHeadOutOfRange);
    }
    if (in_flight_capacity_[head] != kNotInFlight) {
        return fail(VirtqueueError::kHeadInFlight);
    }
    auto chain = walk_chain(head);
    if (!chain) {
        return fail(chain.error());
    }
    ++next_avail_;
    in_flight_capacity_[head] = chain->writable_bytes;
    ++in_flight_count_;
    return std::optional<Chain>{std::move(chain).value()};
}

// Follows one chain from `head` (§2.6.5), through at most one indirect
// table (§2.6.5.3). Each table bounds the walk by its own size: a chain that
// visits more descriptors than its table holds revisits one, i.e. loops.
// The work per chain is thus at most queue size + 32768 descriptors.
Result<Chain, VirtqueueError> Virtqueue::walk_chain(std::uint16_t head) const
{
    Chain chain;
    chain.head = head;
    std::span<const std::byte> table = descriptors_;
    std::uint32_t table_size = config_.size;
    std::uint32_t index = head;
    std::uint32_t visited = 0;
    bool in_indirect = false;
    for (;;) {
        if (visited == table_size) {
            return make_error(VirtqueueError::kChainTooLong);
        }
        ++visited;
        const Descriptor descriptor = read_descriptor(table, index);

        if ((descriptor.flags & kDescFlagIndirect) != 0) {
            // §2.6.5.3.1: only with VIRTIO_F_INDIRECT_DESC, never inside an
            // indirect table, never with NEXT. §2.6.5.3.2: WRITE is ignored.
            if (in_indirect) {
                return make_error(VirtqueueError::kNestedIndirect);
            }
            if (!config_.indirect_descriptors) {
                return make_error(VirtqueueError::kIndirectNotNegotiated);
            }
            if ((descriptor.flags & kDescFlagNext) != 0) {
                return make_error(VirtqueueError::kIndirectWithNext);
            }
            // §2.6.5.3: the table holds len / 16 descriptors; a chain no
            // longer than the largest queue (§2.6.5.3.1) bounds its size.
            if (descriptor.len == 0 || descriptor.len % kDescriptorSize != 0 ||
                descriptor.len / kDescriptorSize > kMaxQueueSize) {
                return make_error(VirtqueueError::kIndirectTableInvalid);
            }
            const auto indirect = memory_->span_at(descriptor.addr, descriptor.len);
            if (!indirect) {
                return make_error(VirtqueueError::kIndirectTableOutsideMemory);
            }
            table = *indirect;
            table_size = static_cast<std::uint32_t>(descriptor.len / kDescriptorSize);
            index = 0;  // §2.6.5.3: the first descriptor is at index 0
            visited = 0;
            in_indirect = true;
            continue;
        }

        if (descriptor.len == 0) {
            return make_error(VirtqueueError::kZeroLengthBuffer);
        }
        if (descriptor.len - 1 > UINT64_MAX - descriptor.addr) {
            return make_error(VirtqueueError::kBufferOverflow);
        }
        if (!memory_->contains(descriptor.addr, descriptor.len)) {
            return make_error(VirtqueueError::kBufferOutsideMemory);
        }
        if (chain.readable_bytes + chain.writable_bytes + descriptor.len > kMaxChainBytes) {
            return make_error(VirtqueueError::kChainTooLarge);
        }
        const Buffer buffer{descriptor.addr, descriptor.len};
        if ((descriptor.flags & kDescFlagWrite) != 0) {
            chain.writable.push_back(buffer);
            chain.writable_bytes += descriptor.len;
        } else {
            // §2.6.4.2: "The driver MUST place any device-writable descriptor
            // elements after any device-readable descriptor elements."
            if (!chain.writable.empty()) {
                return make_error(VirtqueueError::kReadableAfterWritable);
            }
            chain.readable.push_back(buffer);
            chain.readable_bytes += descriptor.len;
        }

        if ((descriptor.flags & kDescFlagNext) == 0) {
            return chain;
        }
        if (descriptor.next >= table_size) {
            return make_error(VirtqueueError::kNextOutOfRange);
        }
        index = descriptor.next;
    }
}

Result<void, VirtqueueError> Virtqueue::push_used(std::uint16_t head, std::uint32_t written)
{
    if (head >= config_.size || in_flight_capacity_[head] == kNotInFlight) {
        return make_error(VirtqueueError::kUsedHeadNotInFlight);
    }
    if (written > in_flight_capacity_[head]) {
        return make_error(VirtqueueError::kUsedLengthTooLong);
    }
    // §2.6.8: struct virtq_used_elem { le32 id; le32 len; }, written before
    // idx. "The device MUST set len prior to updating the used idx."
    const std::size_t slot = next_used_ & (config_.size - 1);
    const std::uint32_t element[2] = {head, written};
    std::memcpy(used_.subspan(kRingEntriesOffset + kUsedEntrySize * slot, kUsedEntrySize).data(),
                element, sizeof element);
    ++next_used_;
    // Release: the element is visible to the driver before the new idx.
    ring_u16(used_, kRingIdxOffset).store(next_used_, std::memory_order_release);
    in_flight_capacity_[head] = kNotInFlight;
    --in_flight_count_;
    unsignalled_used_ = true;
    return {};
}

bool Virtqueue::should_notify_driver()
{
    if (!unsignalled_used_) {
        return false;
    }
    unsignalled_used_ = false;
    const std::uint16_t old_used = last_signalled_used_;
    last_signalled_used_ = next_used_;
    // The used idx store is ordered before reading the driver's suppression
    // fields (the mirror of the driver's rule in §2.6.13.4.1), or a
    // notification the driver asked for in the meantime could be lost.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (config_.event_index) {
        // §2.6.7: notify when the driver's used_event (the le16 after the
        // avail ring entries) is one of the indices written since the last
        // notification, i.e. lies in [old_used, next_used_) modulo 2^16.
        const std::uint16_t used_event =
            ring_u16(available_, kRingEntriesOffset + kAvailEntrySize * config_.size)
                .load(std::memory_order_relaxed);
        return static_cast<std::uint16_t>(next_used_ - used_event - 1) <
               static_cast<std::uint16_t>(next_used_ - old_used);
    }
    // §2.6.7: without EVENT_IDX, flags bit 0 asks for no notifications.
    const std::uint16_t flags =
        ring_u16(available_, kRingFlagsOffset).load(std::memory_order_relaxed);
    return (flags & kAvailFlagNoInterrupt) == 0;
}

}  // namespace boxy::virtio
