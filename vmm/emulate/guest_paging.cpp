// SPDX-License-Identifier: MIT
#include "emulate/guest_paging.hpp"

#include "emulate/guest_mode.hpp"

#include <bit>

namespace boxy::vmm::emulate {
namespace {

// Entries are read straight into an integer: x86 guests are little-endian,
// and so is every host this code builds for.
static_assert(std::endian::native == std::endian::little);

constexpr std::uint64_t bit(unsigned n)
{
    return std::uint64_t{1} << n;
}
// Bits hi..lo inclusive.
constexpr std::uint64_t bits(unsigned hi, unsigned lo)
{
    return ((hi >= 63) ? ~std::uint64_t{0} : (bit(hi + 1) - 1)) & ~(bit(lo) - 1);
}

// Entry bits common to all formats (APM Vol. 2, 5.4.1 "Field Definitions";
// SDM Vol. 3A, 4.3 and 4.5, Tables 4-4 to 4-20).
constexpr std::uint64_t kPresent = bit(0);
constexpr std::uint64_t kWritable = bit(1);
constexpr std::uint64_t kUser = bit(2);
constexpr std::uint64_t kPageSize = bit(7);
constexpr std::uint64_t kNoExecute = bit(63);

constexpr std::uint64_t kPageBytes = 4096;
constexpr std::uint64_t kLinear32 = 0xFFFF'FFFF;
// Physical-address field of a 64-bit entry (bits 51:12) and of a 32-bit one.
constexpr std::uint64_t kAddress64 = bits(51, 12);
constexpr std::uint64_t kAddress32 = bits(31, 12);

constexpr unsigned kMinPhysBits = 32;
constexpr unsigned kMaxPhysBits = 52;
constexpr unsigned kPse36PhysBits = 40;  // 4 MiB PDEs hold address bits 39:32 in bits 20:13

// Entry size, and how a level's index is cut from the linear address.
struct Format {
    PagingMode mode;
    std::uint8_t top_level;
    std::uint8_t entry_bytes;
};

constexpr unsigned index_shift(const Format& format, unsigned level)
{
    return format.mode == PagingMode::two_level ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
}

constexpr std::uint64_t index_mask(const Format& format, unsigned level)
{
    if (format.mode == PagingMode::two_level) {
        return 0x3FF;
    }
    if (format.mode == PagingMode::pae && level == 3) {
        return 0x3;  // four PDPTEs cover the 32-bit linear space
    }
    return 0x1FF;
}

// First table: CR3 bits 31:12 (two-level), 31:5 (PAE PDPT, 32-byte aligned)
// or 51:12 (long mode) (APM Vol. 2, 3.1.2 "CR3"). A CPU in PAE mode may hold
// the four PDPTEs in registers loaded with CR3 (SDM Vol. 3A, 4.4.1); this
// walk reads them from memory, which differs only if the guest rewrote its
// PDPT without reloading CR3.
constexpr std::uint64_t root_table(const Format& format, std::uint64_t cr3)
{
    switch (format.mode) {
        case PagingMode::two_level: return cr3 & kAddress32;
        case PagingMode::pae: return cr3 & bits(31, 5);
        default: return cr3 & kAddress64;
    }
}

constexpr bool may_map_large_page(const Format& format, const GuestPagingState& state,
                                  unsigned level)
{
    switch (format.mode) {
        case PagingMode::two_level: return level == 2 && (state.cr4 & kCr4Pse) != 0;
        case PagingMode::pae: return level == 2;
        default: return level == 2 || level == 3;  // 1 GiB pages: CPUID Page1GB is assumed
    }
}

constexpr unsigned clamped_phys_bits(const GuestPagingState& state)
{
    const unsigned bits_wide = state.phys_addr_bits;
    return bits_wide < kMinPhysBits ? kMinPhysBits
                                    : (bits_wide > kMaxPhysBits ? kMaxPhysBits : bits_wide);
}

// Must-be-zero bits of an entry. Only the bits both vendors reserve are
// checked: a stray error here would stall the guest, a missed one is
// harmless because the CPU has already accepted the entry for its own walk.
std::uint64_t reserved_bits(const Format& format, const GuestPagingState& state, unsigned level,
                            bool large)
{
    const unsigned phys_bits = clamped_phys_bits(state);
    if (format.mode == PagingMode::two_level) {
        if (!large) {
            return 0;  // 32-bit 4 KiB PDEs and PTEs reserve nothing
        }
        // 4 MiB PDE: bit 21, and PSE-36 address bits beyond MAXPHYADDR
        // (SDM Vol. 3A, Table 4-4; APM Vol. 2, 5.2.4).
        const unsigned high = phys_bits < kPse36PhysBits ? phys_bits : kPse36PhysBits;
        std::uint64_t mask = bit(21);
        if (high < kPse36PhysBits) {
            mask |= bits(20, 13 + (high - 32));
        }
        return mask;
    }
    std::uint64_t mask = phys_bits < kMaxPhysBits ? bits(51, phys_bits) : 0;
    if ((state.efer & kEferNxe) == 0) {
        mask |= kNoExecute;
    }
    if (format.mode == PagingMode::pae && level == 3) {
        // PAE PDPTE: no R/W, U/S, PS or NX (APM Vol. 2, 5.3 Figure 5-10;
        // SDM Vol. 3A, Table 4-8).
        return mask | bits(2, 1) | bits(8, 5) | kNoExecute;
    }
    if (format.mode == PagingMode::four_level && level == 4) {
        return mask | kPageSize;  // a PML4E never maps a page
    }
    if (large) {
        // Large-page frames are aligned; bit 12 is PAT, the bits between
        // it and the frame are reserved.
        return mask | bits(index_shift(format, level) - 1, 13);
    }
    return mask;
}

// The combined rights of every entry on the path (APM Vol. 2, 5.6.1: the
// most restrictive level wins).
struct Rights {
    bool writable = true;
    bool user = true;
    bool executable = true;
};

void accumulate(Rights& rights, const Format& format, const GuestPagingState& state, unsigned level,
                std::uint64_t entry)
{
    if (format.mode == PagingMode::pae && level == 3) {
        return;  // PDPTEs carry no rights
    }
    rights.writable = rights.writable && (entry & kWritable) != 0;
    rights.user = rights.user && (entry & kUser) != 0;
    if (format.mode != PagingMode::two_level && (state.efer & kEferNxe) != 0) {
        rights.executable = rights.executable && (entry & kNoExecute) == 0;
    }
}

bool permitted(const Rights& rights, const GuestPagingState& state, Access access)
{
    const bool user_mode = state.cpl == 3;
    if (user_mode && !rights.user) {
        return false;
    }
    switch (access) {
        case Access::read: return true;
        case Access::write: return rights.writable || (!user_mode && (state.cr0 & kCr0Wp) == 0);
        case Access::execute:
            if (!rights.executable) {
                return false;
            }
            return user_mode || !rights.user || (state.cr4 & kCr4Smep) == 0;
    }
    return false;
}

// Bits 63:47 of a long-mode linear address are copies of bit 47 (APM Vol.
// 2, 5.3.1 "Canonical Address Form").
constexpr bool is_canonical48(std::uint64_t linear)
{
    const std::uint64_t upper = linear & bits(63, 47);
    return upper == 0 || upper == bits(63, 47);
}

// Physical address of the page mapped by a leaf entry, or of the next table.
std::uint64_t frame_of(const Format& format, std::uint64_t entry, std::uint64_t page_bytes,
                       bool large)
{
    if (format.mode == PagingMode::two_level) {
        if (!large) {
            return entry & kAddress32;
        }
        return (entry & bits(31, 22)) | (((entry >> 13) & 0xFF) << 32);
    }
    return entry & kAddress64 & ~(page_bytes - 1);
}

}  // namespace

PagingMode paging_mode(const GuestPagingState& state)
{
    if ((state.cr0 & kCr0Pg) == 0) {
        return PagingMode::none;
    }
    if ((state.cr4 & kCr4Pae) == 0) {
        return PagingMode::two_level;
    }
    if ((state.efer & kEferLma) == 0) {
        return PagingMode::pae;
    }
    return (state.cr4 & kCr4La57) != 0 ? PagingMode::five_level : PagingMode::four_level;
}

Result<GuestTranslation, PageWalkError> translate(const GuestPagingState& state,
                                                  std::uint64_t linear, Access access,
                                                  const GuestPhysReader& mem)
{
    const PagingMode mode = paging_mode(state);
    if ((state.efer & kEferLma) != 0 && mode != PagingMode::four_level &&
        mode != PagingMode::five_level) {
        return make_error(PageWalkError{WalkFailure::unsupported_mode, 0});  // LMA without PAE
    }
    Format format{mode, 0, 8};
    switch (mode) {
        case PagingMode::none:
            // Outside long mode linear addresses are 32 bits wide.
            linear &= kLinear32;
            return GuestTranslation{linear, kPageBytes - (linear & (kPageBytes - 1))};
        case PagingMode::two_level: format = {mode, 2, 4}; break;
        case PagingMode::pae: format = {mode, 3, 8}; break;
        case PagingMode::four_level: format = {mode, 4, 8}; break;
        case PagingMode::five_level:
            return make_error(PageWalkError{WalkFailure::unsupported_mode, 0});
    }
    if (mode == PagingMode::four_level) {
        if (!is_canonical48(linear)) {
            return make_error(PageWalkError{WalkFailure::non_canonical, 0});
        }
    } else {
        linear &= kLinear32;
    }

    Rights rights;
    std::uint64_t table = root_table(format, state.cr3);
    for (unsigned level = format.top_level; level >= 1; --level) {
        const unsigned shift = index_shift(format, level);
        const std::uint64_t index = (linear >> shift) & index_mask(format, level);
        const auto level8 = static_cast<std::uint8_t>(level);

        std::uint64_t entry = 0;
        if (!mem.copy(table + index * format.entry_bytes, &entry, format.entry_bytes)) {
            return make_error(PageWalkError{WalkFailure::reader_failed, level8});
        }
        if ((entry & kPresent) == 0) {
            return make_error(PageWalkError{WalkFailure::not_present, level8});
        }
        const bool large = may_map_large_page(format, state, level) && (entry & kPageSize) != 0;
        if ((entry & reserved_bits(format, state, level, large)) != 0) {
            return make_error(PageWalkError{WalkFailure::reserved_bit, level8});
        }
        accumulate(rights, format, state, level, entry);

        const std::uint64_t page_bytes = std::uint64_t{1} << shift;
        if (level == 1 || large) {
            if (!permitted(rights, state, access)) {
                return make_error(PageWalkError{WalkFailure::protection, level8});
            }
            const std::uint64_t offset = linear & (page_bytes - 1);
            return GuestTranslation{frame_of(format, entry, page_bytes, large) | offset,
                                    page_bytes - offset};
        }
        table = frame_of(format, entry, kPageBytes, false);
    }
    return make_error(PageWalkError{WalkFailure::unsupported_mode, 0});  // not reached
}

Result<std::size_t, PageWalkError> fetch_instruction_bytes(
    const GuestPagingState& state, std::uint64_t linear, const GuestPhysReader& mem,
    std::span<std::uint8_t, kMaxInstructionBytes> out)
{
    std::size_t fetched = 0;
    while (fetched < out.size()) {
        auto where = translate(state, linear + fetched, Access::execute, mem);
        if (!where) {
            if (fetched == 0) {
                return make_error(where.error());
            }
            break;
        }
        // Stay inside the mapping page and inside one 4 KiB frame, as the
        // reader's contract asks.
        std::uint64_t chunk = out.size() - fetched;
        chunk = chunk < where->bytes_to_page_end ? chunk : where->bytes_to_page_end;
        const std::uint64_t to_frame_end = kPageBytes - (where->gpa & (kPageBytes - 1));
        chunk = chunk < to_frame_end ? chunk : to_frame_end;
        if (!mem.copy(where->gpa, out.data() + fetched, chunk)) {
            if (fetched == 0) {
                return make_error(PageWalkError{WalkFailure::reader_failed, 0});
            }
            break;
        }
        fetched += chunk;
    }
    return fetched;
}

}  // namespace boxy::vmm::emulate
