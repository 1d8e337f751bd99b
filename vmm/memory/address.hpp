// SPDX-License-Identifier: MIT
//
// Strong types for physical memory: a physical address, a count of 4 KiB
// pages, a half-open physical range, and the three x86-64 page sizes
// (APM Vol. 2, 5.3 "Long-Mode Page Translation"; SDM Vol. 3A, 4.5 "4-Level
// Paging"). Guest-physical and host-physical addresses share PhysAddr: in the
// host VM they are equal by construction, and the nested page tables are
// the only place that tells them apart.
#pragma once

#include <compare>
#include <cstdint>

namespace boxy::vmm {

inline constexpr std::uint64_t kPageSize4K = std::uint64_t{1} << 12;
inline constexpr std::uint64_t kPageSize2M = std::uint64_t{1} << 21;
inline constexpr std::uint64_t kPageSize1G = std::uint64_t{1} << 30;

// Architectural limit of physical addresses: MAXPHYADDR is at most 52
// (APM Vol. 2, 5.3.1; SDM Vol. 3A, 4.1.4). Page-table entries hold no more.
inline constexpr std::uint64_t kMaxPhysAddrBits = 52;
inline constexpr std::uint64_t kPhysAddrLimit = std::uint64_t{1} << kMaxPhysAddrBits;

enum class PageSize : std::uint8_t { size_4k, size_2m, size_1g };

[[nodiscard]] constexpr std::uint64_t bytes_of(PageSize size)
{
    switch (size) {
        case PageSize::size_4k: return kPageSize4K;
        case PageSize::size_2m: return kPageSize2M;
        case PageSize::size_1g: return kPageSize1G;
    }
    return kPageSize4K;
}

[[nodiscard]] constexpr bool is_power_of_two(std::uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

// `alignment` must be a power of two. align_up does not wrap: callers keep
// values below kPhysAddrLimit, far from 2^64.
[[nodiscard]] constexpr std::uint64_t align_down(std::uint64_t value, std::uint64_t alignment)
{
    return value & ~(alignment - 1);
}
[[nodiscard]] constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment)
{
    return align_down(value + alignment - 1, alignment);
}
[[nodiscard]] constexpr bool is_aligned(std::uint64_t value, std::uint64_t alignment)
{
    return (value & (alignment - 1)) == 0;
}

class PhysAddr {
public:
    constexpr PhysAddr() = default;
    constexpr explicit PhysAddr(std::uint64_t raw) : raw_{raw} {}

    [[nodiscard]] constexpr std::uint64_t raw() const { return raw_; }

    [[nodiscard]] constexpr bool is_aligned(std::uint64_t alignment) const
    {
        return vmm::is_aligned(raw_, alignment);
    }
    [[nodiscard]] constexpr bool is_page_aligned() const { return is_aligned(kPageSize4K); }
    [[nodiscard]] constexpr PhysAddr align_down(std::uint64_t alignment) const
    {
        return PhysAddr{vmm::align_down(raw_, alignment)};
    }
    [[nodiscard]] constexpr PhysAddr align_up(std::uint64_t alignment) const
    {
        return PhysAddr{vmm::align_up(raw_, alignment)};
    }
    // Byte offset within the enclosing page of `page_bytes`.
    [[nodiscard]] constexpr std::uint64_t offset_in(std::uint64_t page_bytes) const
    {
        return raw_ & (page_bytes - 1);
    }

    [[nodiscard]] constexpr PhysAddr operator+(std::uint64_t bytes) const
    {
        return PhysAddr{raw_ + bytes};
    }
    [[nodiscard]] constexpr PhysAddr operator-(std::uint64_t bytes) const
    {
        return PhysAddr{raw_ - bytes};
    }
    // Distance in bytes; `*this` must not be below `other`.
    [[nodiscard]] constexpr std::uint64_t operator-(PhysAddr other) const
    {
        return raw_ - other.raw_;
    }

    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
    constexpr auto operator<=>(const PhysAddr&) const = default;

private:
    std::uint64_t raw_{0};
};

class PageCount {
public:
    constexpr PageCount() = default;
    constexpr explicit PageCount(std::uint64_t pages) : pages_{pages} {}

    // The number of 4 KiB pages that cover `bytes`, rounded up.
    [[nodiscard]] static constexpr PageCount covering(std::uint64_t bytes)
    {
        return PageCount{bytes / kPageSize4K + (bytes % kPageSize4K != 0 ? 1 : 0)};
    }

    [[nodiscard]] constexpr std::uint64_t count() const { return pages_; }
    [[nodiscard]] constexpr std::uint64_t bytes() const { return pages_ * kPageSize4K; }

    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
    constexpr auto operator<=>(const PageCount&) const = default;

private:
    std::uint64_t pages_{0};
};

// [base, base + size) in bytes. An empty range (size 0) contains nothing.
struct PhysRange {
    PhysAddr base;
    std::uint64_t size{0};

    [[nodiscard]] static constexpr PhysRange from_to(PhysAddr first, PhysAddr end)
    {
        return PhysRange{first, end - first};
    }

    [[nodiscard]] constexpr PhysAddr end() const { return base + size; }
    [[nodiscard]] constexpr bool empty() const { return size == 0; }
    // True if base + size neither wraps nor leaves the architectural limit.
    [[nodiscard]] constexpr bool within_phys_limit() const
    {
        return base.raw() <= kPhysAddrLimit && size <= kPhysAddrLimit - base.raw();
    }
    [[nodiscard]] constexpr bool is_page_aligned() const
    {
        return base.is_page_aligned() && vmm::is_aligned(size, kPageSize4K);
    }
    [[nodiscard]] constexpr bool contains(PhysAddr address) const
    {
        return address >= base && address - base < size;
    }
    [[nodiscard]] constexpr bool contains(const PhysRange& other) const
    {
        return other.base >= base && other.end() <= end();
    }
    [[nodiscard]] constexpr bool overlaps(const PhysRange& other) const
    {
        return !empty() && !other.empty() && base < other.end() && other.base < end();
    }

    constexpr bool operator==(const PhysRange&) const = default;
};

}  // namespace boxy::vmm
