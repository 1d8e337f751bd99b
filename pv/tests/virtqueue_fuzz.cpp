// SPDX-License-Identifier: MIT
//
// libFuzzer target: the input is a queue configuration and the whole guest
// RAM (descriptor table, rings, indirect tables, all attacker-chosen). The
// device pops and completes chains until the queue is empty or broken;
// every buffer it is handed must lie inside guest RAM, and no access may
// leave it (ASan checks the second, the loop below the first).
#include "virtio/guest_memory.hpp"
#include "virtio/virtqueue.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>

namespace {

using namespace boxy::virtio;

// Input layout: a 16-byte header, then the RAM.
struct Header {
    std::uint8_t size_log2;          // queue size 1 << size_log2 (reduced, see below)
    std::uint8_t flags;              // bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 misalign
    std::uint16_t base_pages;        // RAM base gpa in 4 KiB pages (mod 16)
    std::uint32_t descriptor_table;  // offsets from the RAM base
    std::uint32_t available_ring;
    std::uint32_t used_ring;
};
static_assert(sizeof(Header) == 16);

constexpr int kMaxPops = 1024;
constexpr std::align_val_t kRamAlignment{GuestMemory::kHostAlignment};

struct AlignedDelete {
    void operator()(std::byte* ram) const { ::operator delete[](ram, kRamAlignment); }
};

void check(bool condition)
{
    if (!condition) {
        __builtin_trap();
    }
}

void check_buffer(const GuestMemory& memory, const Buffer& buffer)
{
    check(buffer.len != 0);
    check(buffer.gpa >= memory.base());
    check(buffer.gpa - memory.base() <= memory.size());
    check(buffer.len <= memory.size() - (buffer.gpa - memory.base()));
    const auto bytes = memory.span_at(buffer.gpa, buffer.len);
    check(bytes.has_value());
    // Touch both ends: ASan reports any byte outside the RAM buffer.
    volatile std::byte first = bytes->front();
    volatile std::byte last = bytes->back();
    (void)first;
    (void)last;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < sizeof(Header) + 1) {
        return 0;
    }
    Header header{};
    std::memcpy(&header, data, sizeof header);
    const std::size_t ram_size = size - sizeof header;
    // GuestMemory wants an aligned mapping, as mmap would give; the exact
    // size lets ASan catch a single byte past the end.
    const std::unique_ptr<std::byte[], AlignedDelete> ram{
        static_cast<std::byte*>(::operator new[](ram_size, kRamAlignment))};
    std::memcpy(ram.get(), data + sizeof header, ram_size);

    const Gpa base = Gpa{header.base_pages % 16U} * 4096;
    auto memory = GuestMemory::create(std::span{ram.get(), ram_size}, base);
    if (!memory) {
        return 0;
    }
    // Mostly small queues with aligned ring parts inside RAM, so that the
    // parsing gets exercised; flag bit 2 takes the raw header values to
    // exercise the set-up checks (size, alignment, bounds) too.
    const bool raw = (header.flags & 4) != 0;
    const auto place = [&](std::uint32_t offset, std::uint32_t alignment) {
        return raw ? base + offset : base + offset % ram_size / alignment * alignment;
    };
    const QueueConfig config{
        .size = std::uint32_t{1} << (raw ? header.size_log2 % 17 : header.size_log2 % 6),
        .descriptor_table = place(header.descriptor_table, 16),
        .available_ring = place(header.available_ring, 2),
        .used_ring = place(header.used_ring, 4),
        .indirect_descriptors = (header.flags & 1) != 0,
        .event_index = (header.flags & 2) != 0,
    };
    auto queue = Virtqueue::create(*memory, config);
    if (!queue) {
        return 0;
    }
    for (int pops = 0; pops < kMaxPops; ++pops) {
        auto chain = queue->pop();
        if (!chain) {
            check(queue->broken() == chain.error());
            break;
        }
        if (!chain->has_value()) {
            break;
        }
        const Chain& popped = **chain;
        check(popped.head < config.size);
        check(!popped.readable.empty() || !popped.writable.empty());
        std::uint64_t readable = 0;
        std::uint64_t writable = 0;
        for (const Buffer& buffer : popped.readable) {
            check_buffer(*memory, buffer);
            readable += buffer.len;
        }
        for (const Buffer& buffer : popped.writable) {
            check_buffer(*memory, buffer);
            writable += buffer.len;
        }
        check(readable == popped.readable_bytes && writable == popped.writable_bytes);
        check(readable + writable <= (std::uint64_t{1} << 32));
        // Complete every other chain, writing all it allows.
        if (pops % 2 == 0) {
            const auto written =
                static_cast<std::uint32_t>(writable > UINT32_MAX ? UINT32_MAX : writable);
            check(queue->push_used(popped.head, written).has_value());
            (void)queue->should_notify_driver();
        }
    }
    return 0;
}
