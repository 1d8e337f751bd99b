// SPDX-License-Identifier: MIT
//
// A read-only walk of the guest's own page tables: linear address to
// guest-physical address, for fetching the instruction behind a nested page
// fault: without decode assists (APM Vol. 2, 15.33) the exit carries no
// instruction bytes.
//
// Paging modes (APM Vol. 2, 5.1 "Page Translation Overview"; SDM Vol. 3A,
// 4.1.1, Table 4-1): none (CR0.PG=0, linear = physical), 32-bit two-level
// (4 KiB pages, 4 MiB pages with CR4.PSE, PSE-36 high bits), PAE three-level
// (4 KiB and 2 MiB pages) and long-mode four-level (4 KiB, 2 MiB, 1 GiB).
// Five-level paging (CR4.LA57) is refused.
//
// Accessed and dirty bits are never written. The walk serves instruction
// fetch of code the CPU has just executed: the CPU's own walk for that fetch
// already set the A bits (D bits are set only on writes, which a fetch is
// not), so leaving them alone changes nothing the guest can observe. The
// VMM never emulates a guest data access through this walk: a nested page
// fault reports the guest-physical address itself.
//
// On any failure the right move is to re-enter the guest without advancing
// RIP: the CPU re-executes the instruction and either delivers the guest's
// own #PF or takes the nested fault again with tables that changed under us
// settled. Bound such retries: if this walk and the CPU's disagree for good
// (PAE PDPTEs cached at the last CR3 load, a walker bug), they would loop.
#pragma once

#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace boxy::vmm::emulate {

// Reads guest-physical memory for the walker: copies `length` bytes at `gpa`
// into `out` and returns true, or returns false if [gpa, gpa + length) is
// not guest RAM the VMM may read (VMM-owned memory, MMIO whose reads have
// side effects, holes). The walker never asks for a range that crosses a
// 4 KiB boundary; page-table entries are asked for whole (4 or 8 bytes,
// naturally aligned) so one load may serve them.
struct GuestPhysReader {
    bool (*read)(void* context, std::uint64_t gpa, void* out, std::size_t length);
    void* context;

    [[nodiscard]] bool copy(std::uint64_t gpa, void* out, std::size_t length) const
    {
        return read(context, gpa, out, length);
    }
};

// Adapter from any callable bool(std::uint64_t gpa, void* out, std::size_t
// length). The callable must outlive the returned reader.
template <class Fn>
[[nodiscard]] GuestPhysReader guest_phys_reader_for(Fn& fn)
{
    return {[](void* context, std::uint64_t gpa, void* out, std::size_t length) -> bool {
                return (*static_cast<Fn*>(context))(gpa, out, length);
            },
            &fn};
}

// What the walker needs of the guest's state, straight from the VMCB.
struct GuestPagingState {
    std::uint64_t cr0;
    std::uint64_t cr3;
    std::uint64_t cr4;
    std::uint64_t efer;
    std::uint8_t cpl;  // 3 = user; the VMCB's CPL field (APM Vol. 2, 15.5.1)
    // The guest's MAXPHYADDR (CPUID 0x80000008 EAX[7:0]): entry bits at and
    // above it, up to bit 51, are reserved.
    std::uint8_t phys_addr_bits = 52;
};

enum class PagingMode : std::uint8_t { none, two_level, pae, four_level, five_level };

// APM Vol. 2, 5.1.3 (Table 5-1): CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57.
[[nodiscard]] PagingMode paging_mode(const GuestPagingState& state);

enum class Access : std::uint8_t { read, write, execute };

enum class WalkFailure : std::uint8_t {
    not_present,       // P=0 in the entry at `level`
    reserved_bit,      // a must-be-zero bit set in the entry at `level`
    protection,        // the access is not allowed (R/W, U/S, NX, SMEP)
    non_canonical,     // long mode, bits 63:47 differ (a #GP, not a #PF)
    reader_failed,     // the GuestPhysReader refused an entry at `level`
    unsupported_mode,  // five-level paging, or an impossible register combination
};

struct PageWalkError {
    WalkFailure failure;
    // Table level of the offending entry: 1 = page table, 2 = page
    // directory, 3 = PDPT, 4 = PML4; 0 when no entry is to blame.
    std::uint8_t level;

    friend constexpr bool operator==(PageWalkError, PageWalkError) = default;
};

struct GuestTranslation {
    std::uint64_t gpa;
    // Bytes from gpa to the end of the page that maps it (>= 1). Without
    // paging the page is taken as 4 KiB.
    std::uint64_t bytes_to_page_end;
};

// Permissions are checked as the CPU does for `access` at state.cpl (APM
// Vol. 2, 5.6 "Page-Protection Checks"; SDM Vol. 3A, 4.6): U/S at CPL 3,
// R/W for user writes and for supervisor writes with CR0.WP, NX with
// EFER.NXE, and SMEP for supervisor fetches from user pages. SMAP and
// protection keys concern data accesses, which the VMM never walks.
[[nodiscard]] Result<GuestTranslation, PageWalkError> translate(const GuestPagingState& state,
                                                                std::uint64_t linear, Access access,
                                                                const GuestPhysReader& mem);

// The longest x86 instruction (APM Vol. 3, 1.1; SDM Vol. 2A, 2.3.11).
inline constexpr std::size_t kMaxInstructionBytes = 15;

// Copies up to 15 bytes of code at `linear` (CS base already applied, see
// code_linear_address in guest_mode.hpp) into `out`, crossing into the next
// page when the instruction may straddle it. Returns how many bytes it
// read: all 15, or fewer when the next page does not translate (the
// instruction is likely shorter; the decoder reports a truncation if not).
// Fails only when the first byte does not translate or read.
[[nodiscard]] Result<std::size_t, PageWalkError> fetch_instruction_bytes(
    const GuestPagingState& state, std::uint64_t linear, const GuestPhysReader& mem,
    std::span<std::uint8_t, kMaxInstructionBytes> out);

}  // namespace boxy::vmm::emulate
