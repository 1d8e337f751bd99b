// SPDX-License-Identifier: MIT
//
// Test doubles: guest RAM in a page-aligned heap buffer, and the driver side
// of a split virtqueue writing descriptors and ring entries into it the way
// a guest driver would (virtio 1.1 §2.6.13 "Supplying Buffers to The
// Device").
#pragma once

#include "virtio/guest_memory.hpp"
#include "virtio/virtqueue.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <utility>

namespace boxy::virtio::test {

inline constexpr std::uint16_t kNext = 1;
inline constexpr std::uint16_t kWrite = 2;
inline constexpr std::uint16_t kIndirect = 4;

class FakeGuest {
public:
    static constexpr Gpa kBase = 0x10000;

    explicit FakeGuest(std::size_t pages = 16, Gpa base = kBase)
        : pages_{std::make_unique<Page[]>(pages)},
          memory_{make_memory(std::span<std::byte>{pages_[0].bytes, pages * sizeof(Page)}, base)}
    {
    }

    [[nodiscard]] const GuestMemory& memory() const { return memory_; }

    template <class T>
    void put(Gpa gpa, T value)
    {
        std::memcpy(bytes(gpa, sizeof value), &value, sizeof value);
    }

    template <class T>
    [[nodiscard]] T get(Gpa gpa) const
    {
        T value{};
        std::memcpy(&value, bytes(gpa, sizeof value), sizeof value);
        return value;
    }

    // struct virtq_desc (§2.6.5) at `table` + 16 * index.
    void put_descriptor(Gpa table, std::uint32_t index, std::uint64_t addr, std::uint32_t len,
                        std::uint16_t flags = 0, std::uint16_t next = 0)
    {
        const Gpa at = table + 16 * std::uint64_t{index};
        put(at, addr);
        put(at + 8, len);
        put(at + 12, flags);
        put(at + 14, next);
    }

private:
    struct alignas(4096) Page {
        std::byte bytes[4096];
    };

    static GuestMemory make_memory(std::span<std::byte> ram, Gpa base)
    {
        auto memory = GuestMemory::create(ram, base);
        if (!memory) {
            throw std::logic_error("FakeGuest: bad RAM");
        }
        return *memory;
    }

    [[nodiscard]] std::byte* bytes(Gpa gpa, std::size_t len) const
    {
        const auto span = memory_.span_at(gpa, len);
        if (!span) {
            throw std::out_of_range("FakeGuest: access outside RAM");
        }
        return span->data();
    }

    std::unique_ptr<Page[]> pages_;
    GuestMemory memory_;
};

// A queue laid out at the start of a FakeGuest: descriptor table, then the
// available ring at +0x1000 (scaled with the size), then the used ring.
// Buffers for tests live at data().
class FakeDriver {
public:
    FakeDriver(FakeGuest& guest, std::uint32_t size, bool indirect = true, bool event_index = false)
        : guest_{&guest}
    {
        const Gpa base = guest.memory().base();
        const Gpa ring_bytes = std::max<Gpa>(0x1000, 16 * Gpa{size});
        config_ = QueueConfig{.size = size,
                              .descriptor_table = base,
                              .available_ring = base + ring_bytes,
                              .used_ring = base + 2 * ring_bytes,
                              .indirect_descriptors = indirect,
                              .event_index = event_index};
        data_ = base + 4 * ring_bytes;
    }

    [[nodiscard]] const QueueConfig& config() const { return config_; }
    [[nodiscard]] Gpa data(std::uint64_t offset = 0) const { return data_ + offset; }

    void descriptor(std::uint32_t index, std::uint64_t addr, std::uint32_t len,
                    std::uint16_t flags = 0, std::uint16_t next = 0)
    {
        guest_->put_descriptor(config_.descriptor_table, index, addr, len, flags, next);
    }

    // Places `head` in the next ring slot and publishes it (§2.6.13.2-3).
    void offer(std::uint16_t head)
    {
        guest_->put<std::uint16_t>(config_.available_ring + 4 + 2 * Gpa{avail_idx_ % config_.size},
                                   head);
        ++avail_idx_;
        set_avail_idx(avail_idx_);
    }

    void set_avail_idx(std::uint16_t idx) { guest_->put(config_.available_ring + 2, idx); }
    void set_avail_flags(std::uint16_t flags) { guest_->put(config_.available_ring, flags); }
    void set_used_event(std::uint16_t event)
    {
        guest_->put(config_.available_ring + 4 + 2 * Gpa{config_.size}, event);
    }

    [[nodiscard]] std::uint16_t used_idx() const
    {
        return guest_->get<std::uint16_t>(config_.used_ring + 2);
    }
    [[nodiscard]] std::uint16_t avail_event() const
    {
        return guest_->get<std::uint16_t>(config_.used_ring + 4 + 8 * Gpa{config_.size});
    }
    // struct virtq_used_elem at ring slot `slot` (§2.6.8): {id, len}.
    [[nodiscard]] std::pair<std::uint32_t, std::uint32_t> used(std::uint32_t slot) const
    {
        const Gpa at = config_.used_ring + 4 + 8 * Gpa{slot % config_.size};
        return {guest_->get<std::uint32_t>(at), guest_->get<std::uint32_t>(at + 4)};
    }

private:
    FakeGuest* guest_;
    QueueConfig config_;
    Gpa data_{0};
    std::uint16_t avail_idx_{0};
};

}  // namespace boxy::virtio::test
