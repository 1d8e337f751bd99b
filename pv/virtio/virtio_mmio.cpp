// SPDX-License-Identifier: MIT
#include "virtio/virtio_mmio.hpp"

#include <bit>

namespace boxy::virtio {
namespace {

constexpr std::uint64_t kControlRegisterWidth = 4;
constexpr std::uint32_t kDriverStatusBits =
    kStatusAcknowledge | kStatusDriver | kStatusDriverOk | kStatusFeaturesOk | kStatusFailed;
constexpr std::uint32_t kShmNoRegion = 0xffff'ffff;  // virtio 1.2 §4.2.2: length -1, base ~0

void set_low_half(Gpa& address, std::uint32_t value)
{
    address = (address & 0xffff'ffff'0000'0000) | value;
}

void set_high_half(Gpa& address, std::uint32_t value)
{
    address = (address & 0xffff'ffff) | (std::uint64_t{value} << 32);
}

constexpr std::uint64_t width_mask(std::uint32_t width)
{
    return width >= 8 ? UINT64_MAX : (std::uint64_t{1} << (8 * width)) - 1;
}

}  // namespace

QueueConfig make_queue_config(const MmioQueueState& queue, std::uint64_t features)
{
    return QueueConfig{
        .size = queue.size,
        .descriptor_table = queue.descriptor_area,
        .available_ring = queue.driver_area,
        .used_ring = queue.device_area,
        .indirect_descriptors = (features & kFeatureIndirectDesc) != 0,
        .event_index = (features & kFeatureEventIdx) != 0,
    };
}

VirtioMmioTransport::VirtioMmioTransport(VirtioDevice& device, std::uint32_t vendor_id)
    : device_{&device}, vendor_id_{vendor_id}
{
    // The device must be fully constructed here: its queue sizes are fixed.
    const std::uint16_t count = device.queue_count();
    queues_.resize(count);
    for (std::uint16_t index = 0; index < count; ++index) {
        queues_[index].max_size = device.queue_max_size(index);
        queues_[index].size = queues_[index].max_size;
    }
}

std::uint64_t VirtioMmioTransport::read(std::uint64_t offset, std::uint32_t width)
{
    if (offset >= static_cast<std::uint64_t>(MmioRegister::kConfig)) {
        return read_config(offset - static_cast<std::uint64_t>(MmioRegister::kConfig), width);
    }
    // §4.2.2.2: "The driver MUST only use 32 bit wide and aligned reads and
    // writes to access the control registers".
    if (width != kControlRegisterWidth || offset % kControlRegisterWidth != 0) {
        ++stats_.bad_access;
        return 0;
    }
    return read_register(static_cast<MmioRegister>(offset));
}

void VirtioMmioTransport::write(std::uint64_t offset, std::uint32_t width, std::uint64_t value)
{
    if (offset >= static_cast<std::uint64_t>(MmioRegister::kConfig)) {
        write_config(offset - static_cast<std::uint64_t>(MmioRegister::kConfig), width,
                     static_cast<std::uint32_t>(value & width_mask(width)));
        return;
    }
    if (width != kControlRegisterWidth || offset % kControlRegisterWidth != 0) {
        ++stats_.bad_access;
        return;
    }
    write_register(static_cast<MmioRegister>(offset), static_cast<std::uint32_t>(value));
}

std::uint32_t VirtioMmioTransport::read_register(MmioRegister reg)
{
    const MmioQueueState* queue = selected_queue();
    switch (reg) {
        case MmioRegister::kMagicValue: return kMmioMagicValue;
        case MmioRegister::kVersion: return kMmioVersion;
        case MmioRegister::kDeviceId: return device_->device_id();
        case MmioRegister::kVendorId: return vendor_id_;
        case MmioRegister::kDeviceFeatures: {
            // Bits 32 * DeviceFeaturesSel and up; there are only 64.
            const std::uint64_t features = device_->device_features();
            if (device_features_sel_ > 1) {
                return 0;
            }
            return static_cast<std::uint32_t>(features >> (32 * device_features_sel_));
        }
        // QueueNumMax 0: "the queue is not available" (§4.2.2).
        case MmioRegister::kQueueNumMax: return queue != nullptr ? queue->max_size : 0;
        case MmioRegister::kQueueReady: return queue != nullptr && queue->ready ? 1 : 0;
        case MmioRegister::kInterruptStatus: return interrupt_status_;
        case MmioRegister::kStatus: return status_;
        case MmioRegister::kShmLenLow:
        case MmioRegister::kShmLenHigh:
        case MmioRegister::kShmBaseLow:
        case MmioRegister::kShmBaseHigh: return kShmNoRegion;
        case MmioRegister::kQueueReset: return 0;  // VIRTIO_F_RING_RESET is never offered
        case MmioRegister::kConfigGeneration: return config_generation_;
        case MmioRegister::kDeviceFeaturesSel:
        case MmioRegister::kDriverFeatures:
        case MmioRegister::kDriverFeaturesSel:
        case MmioRegister::kQueueSel:
        case MmioRegister::kQueueNum:
        case MmioRegister::kQueueNotify:
        case MmioRegister::kInterruptAck:
        case MmioRegister::kQueueDescLow:
        case MmioRegister::kQueueDescHigh:
        case MmioRegister::kQueueDriverLow:
        case MmioRegister::kQueueDriverHigh:
        case MmioRegister::kQueueDeviceLow:
        case MmioRegister::kQueueDeviceHigh:
        case MmioRegister::kShmSel:
            // §4.2.2.2: the driver "MUST NOT read from the write-only registers".
            ++stats_.wrong_direction;
            return 0;
        case MmioRegister::kConfig: break;  // handled by read()
    }
    ++stats_.unknown_offset;
    return 0;
}

void VirtioMmioTransport::write_register(MmioRegister reg, std::uint32_t value)
{
    switch (reg) {
        case MmioRegister::kDeviceFeaturesSel: device_features_sel_ = value; return;
        case MmioRegister::kDriverFeatures: write_driver_features(value); return;
        case MmioRegister::kDriverFeaturesSel: driver_features_sel_ = value; return;
        case MmioRegister::kQueueSel: queue_sel_ = value; return;
        case MmioRegister::kQueueNum:
        case MmioRegister::kQueueDescLow:
        case MmioRegister::kQueueDescHigh:
        case MmioRegister::kQueueDriverLow:
        case MmioRegister::kQueueDriverHigh:
        case MmioRegister::kQueueDeviceLow:
        case MmioRegister::kQueueDeviceHigh: write_queue_field(reg, value); return;
        case MmioRegister::kQueueReady: write_queue_ready(value); return;
        case MmioRegister::kQueueNotify:
            // §4.2.3.3: without VIRTIO_F_NOTIFICATION_DATA the value is the
            // queue index. Only ready queues of a live device are served.
            if ((status_ & kStatusDriverOk) == 0 || (status_ & kStatusDeviceNeedsReset) != 0 ||
                value >= queues_.size() || !queues_[value].ready) {
                ++stats_.ignored_writes;
                return;
            }
            ++stats_.notifications;
            device_->queue_notify(static_cast<std::uint16_t>(value));
            return;
        case MmioRegister::kInterruptAck: interrupt_status_ &= ~value; return;
        case MmioRegister::kStatus: write_status(value); return;
        case MmioRegister::kShmSel: return;  // every id selects "no region"
        case MmioRegister::kQueueReset: ++stats_.ignored_writes; return;
        case MmioRegister::kMagicValue:
        case MmioRegister::kVersion:
        case MmioRegister::kDeviceId:
        case MmioRegister::kVendorId:
        case MmioRegister::kDeviceFeatures:
        case MmioRegister::kQueueNumMax:
        case MmioRegister::kInterruptStatus:
        case MmioRegister::kShmLenLow:
        case MmioRegister::kShmLenHigh:
        case MmioRegister::kShmBaseLow:
        case MmioRegister::kShmBaseHigh:
        case MmioRegister::kConfigGeneration:
            // §4.2.2.2: the driver "MUST NOT write to the read-only registers".
            ++stats_.wrong_direction;
            return;
        case MmioRegister::kConfig: break;  // handled by write()
    }
    ++stats_.unknown_offset;
}

// §4.2.2.2: 8-bit fields by 8-bit accesses, 16-bit ones by aligned 16-bit
// accesses, 32- and 64-bit ones by aligned 32-bit accesses; §2.4: only
// inside the device's configuration space.
std::uint64_t VirtioMmioTransport::read_config(std::uint64_t offset, std::uint32_t width)
{
    if (width != 1 && width != 2 && width != 4) {
        ++stats_.bad_access;
        return 0;
    }
    if (offset % width != 0) {
        ++stats_.bad_access;
        return 0;
    }
    const std::uint32_t size = device_->config_size();
    if (offset >= size || width > size - offset) {
        ++stats_.unknown_offset;
        return 0;
    }
    return device_->config_read(static_cast<std::uint32_t>(offset), width) & width_mask(width);
}

void VirtioMmioTransport::write_config(std::uint64_t offset, std::uint32_t width,
                                       std::uint32_t value)
{
    if ((width != 1 && width != 2 && width != 4) || offset % width != 0) {
        ++stats_.bad_access;
        return;
    }
    const std::uint32_t size = device_->config_size();
    if (offset >= size || width > size - offset) {
        ++stats_.unknown_offset;
        return;
    }
    device_->config_write(static_cast<std::uint32_t>(offset), width, value);
}

// §2.1 and §3.1.1 "Driver Requirements: Device Initialization": the driver
// sets ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK in that order (FAILED at
// any time), never clears a bit, and resets by writing 0.
void VirtioMmioTransport::write_status(std::uint32_t value)
{
    if (value == 0) {
        reset();
        return;
    }
    // DEVICE_NEEDS_RESET belongs to the device: a driver writing back what
    // it read neither sets nor clears it. Other bits are undefined.
    if ((value & ~(kDriverStatusBits | kStatusDeviceNeedsReset)) != 0) {
        ++stats_.ignored_writes;
        return;
    }
    const std::uint32_t current = status_ & kDriverStatusBits;
    std::uint32_t next = value & kDriverStatusBits;
    // §2.1.1: "The driver MUST NOT clear a device status bit."
    if ((current & ~next) != 0) {
        ++stats_.ignored_writes;
        return;
    }
    const std::uint32_t added = next & ~current;
    const bool out_of_order = ((added & kStatusDriver) != 0 && (next & kStatusAcknowledge) == 0) ||
                              ((added & kStatusFeaturesOk) != 0 && (next & kStatusDriver) == 0) ||
                              ((added & kStatusDriverOk) != 0 && (next & kStatusFeaturesOk) == 0);
    if (out_of_order) {
        ++stats_.ignored_writes;
        return;
    }
    // §2.2.2: a device that does not accept the driver's features "MUST
    // fail to set the FEATURES_OK device status bit"; the driver re-reads
    // Status to find out (§3.1.1 step 6). DRIVER_OK cannot follow.
    if ((added & kStatusFeaturesOk) != 0 && !negotiate_features()) {
        ++stats_.rejected_features;
        next &= ~(kStatusFeaturesOk | kStatusDriverOk);
    }
    status_ = (status_ & kStatusDeviceNeedsReset) | next;
    if ((added & next & kStatusDriverOk) != 0) {
        if ((status_ & kStatusDeviceNeedsReset) != 0 ||
            !device_->activate(driver_features_, queues_)) {
            set_needs_reset();
        }
    }
}

bool VirtioMmioTransport::negotiate_features()
{
    // §2.2.1: the driver "MUST NOT accept a feature which the device did not
    // offer". This transport is modern only (Version 2), so VERSION_1 is
    // required (§6).
    if ((driver_features_ & ~device_->device_features()) != 0 ||
        (driver_features_ & kFeatureVersion1) == 0) {
        return false;
    }
    return device_->accept_features(driver_features_);
}

void VirtioMmioTransport::write_driver_features(std::uint32_t value)
{
    // §3.1.1: the feature set is final once FEATURES_OK is set.
    if ((status_ & kStatusFeaturesOk) != 0) {
        ++stats_.ignored_writes;
        return;
    }
    if (driver_features_sel_ == 0) {
        set_low_half(driver_features_, value);
    } else if (driver_features_sel_ == 1) {
        set_high_half(driver_features_, value);
    } else if (value != 0) {
        ++stats_.ignored_writes;  // there are no feature bits above 63
    }
}

MmioQueueState* VirtioMmioTransport::selected_queue()
{
    return queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
}

void VirtioMmioTransport::write_queue_field(MmioRegister reg, std::uint32_t value)
{
    MmioQueueState* queue = selected_queue();
    // §4.2.2.2: "When QueueReady is not zero, the driver MUST NOT access
    // QueueNum, QueueDescLow, ..." : a live queue's ring never moves.
    if (queue == nullptr || queue->ready) {
        ++stats_.ignored_writes;
        return;
    }
    switch (reg) {
        case MmioRegister::kQueueNum: queue->size = value; break;
        case MmioRegister::kQueueDescLow: set_low_half(queue->descriptor_area, value); break;
        case MmioRegister::kQueueDescHigh: set_high_half(queue->descriptor_area, value); break;
        case MmioRegister::kQueueDriverLow: set_low_half(queue->driver_area, value); break;
        case MmioRegister::kQueueDriverHigh: set_high_half(queue->driver_area, value); break;
        case MmioRegister::kQueueDeviceLow: set_low_half(queue->device_area, value); break;
        case MmioRegister::kQueueDeviceHigh: set_high_half(queue->device_area, value); break;
        default: break;
    }
}

void VirtioMmioTransport::write_queue_ready(std::uint32_t value)
{
    MmioQueueState* queue = selected_queue();
    if (queue == nullptr || value > 1) {
        ++stats_.ignored_writes;
        return;
    }
    if (value == 0) {
        const bool was_ready = queue->ready;
        queue->ready = false;
        if (was_ready && (status_ & kStatusDriverOk) != 0) {
            device_->queue_disabled(static_cast<std::uint16_t>(queue_sel_));
        }
        return;
    }
    if (queue->ready) {
        return;
    }
    // The device took its queues at DRIVER_OK (§3.1.1 step 7 sets them up
    // before it); enabling one later would need VIRTIO_F_RING_RESET.
    if ((status_ & kStatusDriverOk) != 0) {
        ++stats_.ignored_writes;
        return;
    }
    // §4.2.2.2: QueueNum <= QueueNumMax; §2.6: a power of two. The queue
    // stays off and the driver learns of it from DEVICE_NEEDS_RESET.
    if (queue->size == 0 || queue->size > queue->max_size || !std::has_single_bit(queue->size)) {
        ++stats_.ignored_writes;
        set_needs_reset();
        return;
    }
    queue->ready = true;
}

void VirtioMmioTransport::signal_used_buffers()
{
    // §2.1.2: no used buffer notifications before DRIVER_OK.
    if ((status_ & kStatusDriverOk) != 0) {
        interrupt_status_ |= kInterruptUsedBuffer;
    }
}

void VirtioMmioTransport::signal_config_change()
{
    // §4.2.2.1: ConfigGeneration changes whenever the driver could see an
    // inconsistent configuration.
    ++config_generation_;
    if ((status_ & kStatusDriverOk) != 0) {
        interrupt_status_ |= kInterruptConfigChange;
    }
}

void VirtioMmioTransport::set_needs_reset()
{
    // §2.1.2: "If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the
    // device MUST send a device configuration change notification".
    status_ |= kStatusDeviceNeedsReset;
    if ((status_ & kStatusDriverOk) != 0) {
        interrupt_status_ |= kInterruptConfigChange;
    }
}

// §4.2.2 Status: writing 0 resets the device; §4.2.2.1: "Upon reset, the
// device MUST clear all bits in InterruptStatus and ready bits in the
// QueueReady register for all queues"; §2.1.2: status becomes 0.
void VirtioMmioTransport::reset()
{
    status_ = 0;
    device_features_sel_ = 0;
    driver_features_sel_ = 0;
    driver_features_ = 0;
    queue_sel_ = 0;
    interrupt_status_ = 0;
    for (MmioQueueState& queue : queues_) {
        queue = MmioQueueState{.max_size = queue.max_size, .size = queue.max_size};
    }
    device_->reset();
}

}  // namespace boxy::virtio
