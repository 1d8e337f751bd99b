// SPDX-License-Identifier: MIT
//
// The one error type of the physical memory code, so that the page-table
// builder can BOXY_TRY allocator calls.
#pragma once

#include <cstdint>
#include <string_view>

namespace boxy::vmm {

enum class MemoryError : std::uint8_t {
    out_of_memory,      // no free page (run) satisfies the request
    bad_region,         // allocator region unusable: unaligned, too small, past 2^52
    bad_argument,       // zero-length request, alignment not a power of two
    unaligned,          // an address or range is not 4 KiB aligned
    outside_region,     // freed address does not belong to the allocator
    not_allocated,      // freed page is free already (double free)
    not_an_allocation,  // freed run does not match an allocated run exactly
    beyond_limit,       // range past the top a page table can describe
    not_mapped,         // translate(): no present leaf for the address
};

[[nodiscard]] constexpr std::string_view to_string(MemoryError error)
{
    switch (error) {
        case MemoryError::out_of_memory: return "out of memory";
        case MemoryError::bad_region: return "unusable memory region";
        case MemoryError::bad_argument: return "invalid argument";
        case MemoryError::unaligned: return "address not page aligned";
        case MemoryError::outside_region: return "address outside the allocator region";
        case MemoryError::not_allocated: return "page is not allocated (double free?)";
        case MemoryError::not_an_allocation: return "range does not match an allocated run";
        case MemoryError::beyond_limit: return "range beyond the page table's limit";
        case MemoryError::not_mapped: return "address not mapped";
    }
    return "unknown memory error";
}

}  // namespace boxy::vmm
