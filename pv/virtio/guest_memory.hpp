// SPDX-License-Identifier: MIT
//
// The guest's RAM as the per-VM host process sees it: one host mapping of a
// contiguous guest-physical range. Every access a device model makes to the
// guest goes through span_at(), which refuses any range that is not wholly
// inside that mapping, so a guest-supplied address can never reach host
// memory outside it.
//
// The guest runs concurrently with the device: its memory can change under
// any read. Callers copy what they need out once and validate the copy
// (virtqueue.cpp never reads a guest field twice).
#pragma once

#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace boxy::virtio {

// A guest-physical address.
using Gpa = std::uint64_t;

enum class GuestMemoryError : std::uint8_t {
    kEmpty,         // no RAM at all
    kMisaligned,    // the host mapping or the base is not kHostAlignment-aligned
    kRangeOverflow  // base + size does not fit in 64 bits
};

class GuestMemory {
public:
    // The host mapping and the base must be aligned at least this much
    // (mmap gives a page, RAM starts on a page): guest-side alignment of the
    // ring indices then carries over to the host addresses, which are
    // accessed atomically.
    static constexpr std::size_t kHostAlignment = 16;

    // ram: the host mapping of guest-physical [base, base + ram.size()).
    // The memory stays owned by the caller and must outlive this object and
    // every queue that uses it.
    [[nodiscard]] static Result<GuestMemory, GuestMemoryError> create(std::span<std::byte> ram,
                                                                      Gpa base)
    {
        if (ram.empty()) {
            return make_error(GuestMemoryError::kEmpty);
        }
        // Only the address is inspected, never dereferenced as an integer.
        if (reinterpret_cast<std::uintptr_t>(ram.data()) % kHostAlignment != 0 ||
            base % kHostAlignment != 0) {
            return make_error(GuestMemoryError::kMisaligned);
        }
        if (ram.size() - 1 > UINT64_MAX - base) {
            return make_error(GuestMemoryError::kRangeOverflow);
        }
        return GuestMemory{ram, base};
    }

    [[nodiscard]] Gpa base() const { return base_; }
    [[nodiscard]] std::uint64_t size() const { return ram_.size(); }

    // True when [gpa, gpa + len) lies inside the RAM. Written so that no
    // intermediate sum can wrap: gpa + len may not even fit in 64 bits.
    [[nodiscard]] bool contains(Gpa gpa, std::uint64_t len) const
    {
        if (gpa < base_) {
            return false;
        }
        const std::uint64_t offset = gpa - base_;
        return offset <= ram_.size() && len <= ram_.size() - offset;
    }

    // The host bytes backing [gpa, gpa + len), or nothing when any of them
    // is outside the RAM.
    [[nodiscard]] std::optional<std::span<std::byte>> span_at(Gpa gpa, std::uint64_t len) const
    {
        if (!contains(gpa, len)) {
            return std::nullopt;
        }
        return ram_.subspan(gpa - base_, len);
    }

private:
    GuestMemory(std::span<std::byte> ram, Gpa base) : ram_{ram}, base_{base} {}

    std::span<std::byte> ram_;
    Gpa base_;
};

}  // namespace boxy::virtio
