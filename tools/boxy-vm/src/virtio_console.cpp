// SPDX-License-Identifier: MIT
#include "virtio_console.hpp"

#include <algorithm>
#include <utility>

namespace boxy::vm {

using virtio::Chain;
using virtio::Virtqueue;

VirtioConsole::VirtioConsole(const virtio::GuestMemory& memory, ConsoleOutput& output,
                             std::function<void()> used_buffers, std::function<void()> needs_reset)
    : memory_{&memory},
      output_{&output},
      used_buffers_{std::move(used_buffers)},
      needs_reset_{std::move(needs_reset)}
{
}

std::uint64_t VirtioConsole::device_features() const
{
    return virtio::kFeatureVersion1;
}

std::uint32_t VirtioConsole::queue_max_size(std::uint16_t queue) const
{
    return queue < queue_count() ? kQueueSize : 0;
}

std::uint32_t VirtioConsole::config_read(std::uint32_t /*offset*/, std::uint32_t /*width*/)
{
    return 0;  // cols, rows, max_nr_ports, emerg_wr: their features are not offered
}

void VirtioConsole::config_write(std::uint32_t /*offset*/, std::uint32_t /*width*/,
                                 std::uint32_t /*value*/)
{
    // emerg_wr needs VIRTIO_CONSOLE_F_EMERG_WRITE, which is not offered.
}

bool VirtioConsole::accept_features(std::uint64_t /*features*/)
{
    return true;  // the transport checked: a subset of ours with VERSION_1
}

bool VirtioConsole::activate(std::uint64_t features, std::span<const virtio::MmioQueueState> queues)
{
    receive_.reset();
    transmit_.reset();
    const auto open = [&](std::uint16_t index, std::optional<Virtqueue>& slot) {
        if (index >= queues.size() || !queues[index].ready) {
            return true;  // the driver did not set this queue up: not served
        }
        auto queue =
            Virtqueue::create(*memory_, virtio::make_queue_config(queues[index], features));
        if (!queue) {
            return false;  // rings outside guest RAM or misaligned
        }
        slot.emplace(std::move(queue).value());
        return true;
    };
    if (!open(kReceiveQueue, receive_) || !open(kTransmitQueue, transmit_)) {
        ++stats_.broken_queues;
        receive_.reset();
        transmit_.reset();
        return false;  // the transport sets DEVICE_NEEDS_RESET
    }
    // Buffers the driver made available before DRIVER_OK are served now.
    drain_transmit();
    deliver_input();
    return true;
}

void VirtioConsole::queue_notify(std::uint16_t queue)
{
    if (queue == kTransmitQueue) {
        drain_transmit();
    } else if (queue == kReceiveQueue) {
        deliver_input();
    }
}

void VirtioConsole::queue_disabled(std::uint16_t queue)
{
    if (queue == kTransmitQueue) {
        transmit_.reset();
    } else if (queue == kReceiveQueue) {
        receive_.reset();
    }
}

void VirtioConsole::reset()
{
    // Queued input stays: it is the user's, and a driver that resets the
    // device (e.g. a kexec'd kernel) reads it afterwards.
    receive_.reset();
    transmit_.reset();
}

void VirtioConsole::push_input(std::span<const std::uint8_t> bytes)
{
    if (bytes.size() >= kInputLimit) {
        stats_.input_dropped += input_.size() + (bytes.size() - kInputLimit);
        input_.clear();
        bytes = bytes.last(kInputLimit);
    } else if (input_.size() + bytes.size() > kInputLimit) {
        const std::size_t excess = input_.size() + bytes.size() - kInputLimit;
        input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(excess));
        stats_.input_dropped += excess;
    }
    input_.insert(input_.end(), bytes.begin(), bytes.end());
    deliver_input();
}

void VirtioConsole::fail(std::optional<Virtqueue>& queue)
{
    queue.reset();
    ++stats_.broken_queues;
    if (needs_reset_) {
        needs_reset_();
    }
}

void VirtioConsole::drain_transmit()
{
    if (!transmit_) {
        return;
    }
    bool used = false;
    for (std::uint32_t taken = 0; taken < kMaxChainsPerDrain; ++taken) {
        auto popped = transmit_->pop();
        if (!popped) {
            fail(transmit_);
            return;
        }
        if (!popped->has_value()) {
            break;
        }
        const Chain& chain = **popped;
        // §5.3.6.1: the transmitq carries device-readable buffers; any
        // writable ones the driver added are left untouched.
        for (const virtio::Buffer& buffer : chain.readable) {
            const auto bytes = memory_->span_at(buffer.gpa, buffer.len);
            if (!bytes) {
                continue;  // Virtqueue checked it; unreachable
            }
            // std::byte to uint8_t: both are byte types that may alias.
            output_->write({reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()});
            stats_.output_bytes += bytes->size();
        }
        (void)transmit_->push_used(chain.head, 0);  // the head came from pop()
        used = true;
    }
    if (used && transmit_->should_notify_driver() && used_buffers_) {
        used_buffers_();
    }
}

std::uint32_t VirtioConsole::fill(const Chain& chain)
{
    std::uint32_t written = 0;
    for (const virtio::Buffer& buffer : chain.writable) {
        if (input_.empty()) {
            break;
        }
        const auto bytes = memory_->span_at(buffer.gpa, buffer.len);
        if (!bytes) {
            continue;  // Virtqueue checked it; unreachable
        }
        const std::size_t count = std::min<std::size_t>(bytes->size(), input_.size());
        for (std::size_t i = 0; i < count; ++i) {
            (*bytes)[i] = std::byte{input_[i]};
        }
        input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(count));
        written += static_cast<std::uint32_t>(count);  // at most the chain's 2^32 - 1 bytes
    }
    return written;
}

void VirtioConsole::deliver_input()
{
    if (!receive_ || input_.empty()) {
        return;
    }
    bool used = false;
    // Each chain takes at least one byte (or is returned empty when it has
    // no writable buffer), so this ends within the queued input and the
    // ring's available entries.
    while (!input_.empty()) {
        auto popped = receive_->pop();
        if (!popped) {
            fail(receive_);
            return;
        }
        if (!popped->has_value()) {
            break;
        }
        const Chain& chain = **popped;
        const std::uint32_t written = fill(chain);
        stats_.input_bytes += written;
        (void)receive_->push_used(chain.head, written);  // written <= the chain's capacity
        used = true;
    }
    if (used && receive_->should_notify_driver() && used_buffers_) {
        used_buffers_();
    }
}

}  // namespace boxy::vm
