// SPDX-License-Identifier: MIT
#include "emulate/guest_paging.hpp"

#include "emulate/guest_mode.hpp"
#include "fake_guest_memory.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

using namespace boxy::vmm::emulate;
using boxy::vmm::CpuMode;
using boxy::vmm::emulate::test::FakeGuestMemory;

namespace {

// Entry flags (APM Vol. 2, 5.4.1).
constexpr std::uint64_t kP = 1U << 0;
constexpr std::uint64_t kRw = 1U << 1;
constexpr std::uint64_t kUs = 1U << 2;
constexpr std::uint64_t kPs = 1U << 7;
constexpr std::uint64_t kNx = std::uint64_t{1} << 63;
constexpr std::uint64_t kAll = kP | kRw | kUs;

constexpr std::uint64_t kCr0Paging = kCr0Pe | kCr0Pg | kCr0Wp;

constexpr GuestPagingState kTwoLevel{kCr0Paging, 0x1000, 0, 0, 0};
constexpr GuestPagingState kTwoLevelPse{kCr0Paging, 0x1000, kCr4Pse, 0, 0};
constexpr GuestPagingState kPae{kCr0Paging, 0x1020, kCr4Pae, kEferNxe, 0};
constexpr GuestPagingState kLong{kCr0Paging, 0x10000, kCr4Pae, kEferLma | kEferNxe, 0};

PageWalkError walk_error(const GuestPagingState& state, std::uint64_t linear, FakeGuestMemory& mem,
                         Access access = Access::read)
{
    auto result = translate(state, linear, access, mem.reader());
    REQUIRE_FALSE(result.has_value());
    return result.error();
}

std::uint64_t walk_gpa(const GuestPagingState& state, std::uint64_t linear, FakeGuestMemory& mem,
                       Access access = Access::read)
{
    auto result = translate(state, linear, access, mem.reader());
    REQUIRE(result.has_value());
    return result->gpa;
}

// 4-level tables for one 4 KiB page: PML4 0x10000, PDPT 0x11000, PD
// 0x12000, PT 0x13000, each entry with `flags` (the leaf also).
void map_long_4k(FakeGuestMemory& mem, std::uint64_t linear, std::uint64_t frame,
                 std::uint64_t flags = kAll)
{
    mem.write64(0x10000 + ((linear >> 39) & 0x1FF) * 8, 0x11000 | flags);
    mem.write64(0x11000 + ((linear >> 30) & 0x1FF) * 8, 0x12000 | flags);
    mem.write64(0x12000 + ((linear >> 21) & 0x1FF) * 8, 0x13000 | flags);
    mem.write64(0x13000 + ((linear >> 12) & 0x1FF) * 8, frame | flags);
}

}  // namespace

TEST_CASE("guest paging: mode selection")
{
    CHECK(paging_mode({kCr0Pe, 0, 0, 0, 0}) == PagingMode::none);
    CHECK(paging_mode(kTwoLevel) == PagingMode::two_level);
    CHECK(paging_mode(kPae) == PagingMode::pae);
    CHECK(paging_mode(kLong) == PagingMode::four_level);
    GuestPagingState five = kLong;
    five.cr4 |= kCr4La57;
    CHECK(paging_mode(five) == PagingMode::five_level);
}

TEST_CASE("guest paging: without paging linear is physical")
{
    FakeGuestMemory mem;
    const GuestPagingState real{0, 0, 0, 0, 0};
    auto t = translate(real, 0xF'FFF0, Access::execute, mem.reader());
    REQUIRE(t.has_value());
    CHECK(t->gpa == 0xF'FFF0);
    CHECK(t->bytes_to_page_end == 0x10);
    // 32-bit protected mode without paging: also identity, 32-bit wide.
    CHECK(walk_gpa({kCr0Pe, 0, 0, 0, 0}, 0xFEE0'0300, mem) == 0xFEE0'0300);
    CHECK(walk_gpa({kCr0Pe, 0, 0, 0, 0}, 0x1'0000'0010, mem) == 0x10);
    CHECK(mem.reads == 0);
}

TEST_CASE("guest paging: 32-bit two-level with 4 KiB pages")
{
    FakeGuestMemory mem;
    mem.write32(0x1000 + 1 * 4, 0x2000 | kAll);  // PDE 1 -> PT 0x2000
    mem.write32(0x2000 + 3 * 4, 0x5000 | kAll);  // PTE 3 -> frame 0x5000
    auto t = translate(kTwoLevel, 0x0040'3123, Access::execute, mem.reader());
    REQUIRE(t.has_value());
    CHECK(t->gpa == 0x5123);
    CHECK(t->bytes_to_page_end == 0x1000 - 0x123);
    CHECK(walk_error(kTwoLevel, 0x0040'4000, mem) == PageWalkError{WalkFailure::not_present, 1});
    CHECK(walk_error(kTwoLevel, 0x0080'0000, mem) == PageWalkError{WalkFailure::not_present, 2});
    // Bits above 31 of the linear address do not exist outside long mode.
    CHECK(walk_gpa(kTwoLevel, 0xFFFF'FFFF'0040'3123, mem) == 0x5123);
}

TEST_CASE("guest paging: 32-bit 4 MiB pages need CR4.PSE")
{
    FakeGuestMemory mem;
    mem.write32(0x1000 + 2 * 4, 0x00C0'0000 | kPs | kAll);
    CHECK(walk_gpa(kTwoLevelPse, 0x0081'2345, mem) == 0x00C1'2345);
    auto t = translate(kTwoLevelPse, 0x0081'2345, Access::read, mem.reader());
    REQUIRE(t.has_value());
    CHECK(t->bytes_to_page_end == 0x40'0000 - 0x1'2345);
    // Without PSE the PS bit is ignored and the PDE points to a page table
    // at 0x00C00000, which holds nothing here.
    mem.write32(0x00C0'0000, 0);
    CHECK(walk_error(kTwoLevel, 0x0081'2345, mem) == PageWalkError{WalkFailure::not_present, 1});
}

TEST_CASE("guest paging: PSE-36 high address bits and their reserved bits")
{
    FakeGuestMemory mem;
    // Bits 20:13 hold physical address bits 39:32.
    mem.write32(0x1000 + 2 * 4, 0x00C0'0000 | (0x05U << 13) | kPs | kAll);
    CHECK(walk_gpa(kTwoLevelPse, 0x0081'2345, mem) == 0x5'00C1'2345);
    // With a 36-bit MAXPHYADDR, bits 20:17 are reserved.
    GuestPagingState narrow = kTwoLevelPse;
    narrow.phys_addr_bits = 36;
    CHECK(walk_gpa(narrow, 0x0081'2345, mem) == 0x5'00C1'2345);
    mem.write32(0x1000 + 2 * 4, 0x00C0'0000 | (0x30U << 13) | kPs | kAll);
    CHECK(walk_error(narrow, 0x0081'2345, mem) == PageWalkError{WalkFailure::reserved_bit, 2});
    // Bit 21 is always reserved in a 4 MiB PDE.
    mem.write32(0x1000 + 2 * 4, 0x00C0'0000 | (1U << 21) | kPs | kAll);
    CHECK(walk_error(kTwoLevelPse, 0x0081'2345, mem) ==
          PageWalkError{WalkFailure::reserved_bit, 2});
}

TEST_CASE("guest paging: PAE three-level with 4 KiB and 2 MiB pages")
{
    FakeGuestMemory mem;
    // CR3 = 0x1020: the PDPT is 32-byte aligned, not page aligned.
    mem.write64(0x1020 + 1 * 8, 0x3000 | kP);                 // PDPTE 1 (linear 0x40000000..)
    mem.write64(0x3000 + 2 * 8, 0x4000 | kAll);               // PDE 2 (0x40400000..)
    mem.write64(0x4000 + 5 * 8, 0x7000 | kAll);               // PTE 5
    mem.write64(0x3000 + 3 * 8, 0x1'2340'0000 | kPs | kAll);  // PDE 3: 2 MiB above 4 GiB
    CHECK(walk_gpa(kPae, 0x4040'5ABC, mem) == 0x7ABC);
    auto big = translate(kPae, 0x407F'FFF0, Access::execute, mem.reader());
    REQUIRE(big.has_value());
    CHECK(big->gpa == 0x1'235F'FFF0);
    CHECK(big->bytes_to_page_end == 0x10);

    CHECK(walk_error(kPae, 0x0000'1000, mem) == PageWalkError{WalkFailure::not_present, 3});
    CHECK(walk_error(kPae, 0x4000'0000, mem) == PageWalkError{WalkFailure::not_present, 2});
    CHECK(walk_error(kPae, 0x4040'6000, mem) == PageWalkError{WalkFailure::not_present, 1});
}

TEST_CASE("guest paging: PAE reserved bits")
{
    FakeGuestMemory mem;
    mem.write64(0x1020, 0x3000 | kP | kRw);  // R/W is reserved in a PDPTE
    CHECK(walk_error(kPae, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 3});
    mem.write64(0x1020, 0x3000 | kP);
    mem.write64(0x3000, 0x0020'0000 | (1U << 13) | kPs | kAll);  // 2 MiB frame not aligned
    CHECK(walk_error(kPae, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 2});
    mem.write64(0x3000, 0x4000 | kAll);
    mem.write64(0x4000 + 8, 0x7000 | kAll | kNx);
    CHECK(walk_gpa(kPae, 0x1000, mem) == 0x7000);
    // NX is reserved unless EFER.NXE is set.
    GuestPagingState no_nxe = kPae;
    no_nxe.efer = 0;
    CHECK(walk_error(no_nxe, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 1});
}

TEST_CASE("guest paging: long mode four-level 4 KiB pages in both halves")
{
    FakeGuestMemory mem;
    const std::uint64_t user = 0x0000'7FFF'1234'5000;
    const std::uint64_t kernel = 0xFFFF'FFFF'8100'0000;
    map_long_4k(mem, user, 0x8'0000'0000);
    map_long_4k(mem, kernel, 0x20'0000);
    CHECK(walk_gpa(kLong, user + 0x678, mem) == 0x8'0000'0678);
    CHECK(walk_gpa(kLong, kernel + 0xFFF, mem) == 0x20'0FFF);
    CHECK(walk_error(kLong, 0x0000'8000'0000'0000, mem) ==
          PageWalkError{WalkFailure::non_canonical, 0});
    CHECK(walk_error(kLong, 0xFFFF'7FFF'FFFF'F000, mem) ==
          PageWalkError{WalkFailure::non_canonical, 0});
}

TEST_CASE("guest paging: long mode not present at each level")
{
    FakeGuestMemory mem;
    const std::uint64_t linear = 0xFFFF'8880'0040'1000;
    map_long_4k(mem, linear, 0x9000);
    REQUIRE(walk_gpa(kLong, linear, mem) == 0x9000);
    const std::uint64_t pml4e = 0x10000 + ((linear >> 39) & 0x1FF) * 8;
    const std::uint64_t pdpte = 0x11000 + ((linear >> 30) & 0x1FF) * 8;
    const std::uint64_t pde = 0x12000 + ((linear >> 21) & 0x1FF) * 8;
    const std::uint64_t pte = 0x13000 + ((linear >> 12) & 0x1FF) * 8;
    mem.write64(pte, 0x9000 | kRw);
    CHECK(walk_error(kLong, linear, mem) == PageWalkError{WalkFailure::not_present, 1});
    mem.write64(pde, 0x13000);
    CHECK(walk_error(kLong, linear, mem) == PageWalkError{WalkFailure::not_present, 2});
    mem.write64(pdpte, 0);
    CHECK(walk_error(kLong, linear, mem) == PageWalkError{WalkFailure::not_present, 3});
    mem.write64(pml4e, 0x11000);
    CHECK(walk_error(kLong, linear, mem) == PageWalkError{WalkFailure::not_present, 4});
}

TEST_CASE("guest paging: long mode 2 MiB and 1 GiB pages")
{
    FakeGuestMemory mem;
    mem.write64(0x10000, 0x11000 | kAll);
    mem.write64(0x11000 + 1 * 8, 0x12000 | kAll);              // 1 GiB .. 2 GiB: page directory
    mem.write64(0x12000 + 3 * 8, 0x0060'0000 | kPs | kAll);    // 2 MiB page
    mem.write64(0x11000 + 2 * 8, 0x1'4000'0000 | kPs | kAll);  // 2 GiB .. 3 GiB: 1 GiB page
    auto two_meg = translate(kLong, 0x4070'0001, Access::read, mem.reader());
    REQUIRE(two_meg.has_value());
    CHECK(two_meg->gpa == 0x0070'0001);
    CHECK(two_meg->bytes_to_page_end == 0x10'0000 - 1);
    auto one_gig = translate(kLong, 0x8123'4567, Access::read, mem.reader());
    REQUIRE(one_gig.has_value());
    CHECK(one_gig->gpa == 0x1'4123'4567);
    CHECK(one_gig->bytes_to_page_end == 0x4000'0000 - 0x0123'4567);
    // The PAT bit (12) is allowed in a large-page entry.
    mem.write64(0x12000 + 3 * 8, 0x0060'0000 | (1U << 12) | kPs | kAll);
    CHECK(walk_gpa(kLong, 0x4070'0001, mem) == 0x0070'0001);
}

TEST_CASE("guest paging: long mode reserved bits")
{
    FakeGuestMemory mem;
    mem.write64(0x10000, 0x11000 | kAll | kPs);  // PS is reserved in a PML4E
    CHECK(walk_error(kLong, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 4});
    mem.write64(0x10000, 0x11000 | kAll);
    mem.write64(0x11000, 0x4000'0000 | (1U << 20) | kPs | kAll);  // 1 GiB frame misaligned
    CHECK(walk_error(kLong, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 3});
    mem.write64(0x11000, 0x12000 | kAll);
    mem.write64(0x12000, 0x20'0000 | (1U << 16) | kPs | kAll);  // 2 MiB frame misaligned
    CHECK(walk_error(kLong, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 2});
    mem.write64(0x12000, 0x13000 | kAll);
    mem.write64(0x13000 + 8, (std::uint64_t{1} << 45) | kAll);  // above a 40-bit MAXPHYADDR
    CHECK(walk_gpa(kLong, 0x1000, mem) == std::uint64_t{1} << 45);
    GuestPagingState narrow = kLong;
    narrow.phys_addr_bits = 40;
    CHECK(walk_error(narrow, 0x1000, mem) == PageWalkError{WalkFailure::reserved_bit, 1});
}

TEST_CASE("guest paging: refused modes and reader failures")
{
    FakeGuestMemory mem;
    GuestPagingState five = kLong;
    five.cr4 |= kCr4La57;
    CHECK(walk_error(five, 0x1000, mem) == PageWalkError{WalkFailure::unsupported_mode, 0});
    GuestPagingState lma_without_pae = kLong;
    lma_without_pae.cr4 = 0;
    CHECK(walk_error(lma_without_pae, 0x1000, mem) ==
          PageWalkError{WalkFailure::unsupported_mode, 0});

    map_long_4k(mem, 0x1000, 0x9000);
    mem.refuse(0x12000);  // the page directory lies in memory the VMM may not read
    CHECK(walk_error(kLong, 0x1000, mem) == PageWalkError{WalkFailure::reader_failed, 2});
    GuestPagingState nowhere = kLong;
    nowhere.cr3 = 0x7777'7000;  // a hole
    CHECK(walk_error(nowhere, 0x1000, mem) == PageWalkError{WalkFailure::reader_failed, 4});
}

TEST_CASE("guest paging: protection checks")
{
    FakeGuestMemory mem;
    const std::uint64_t code = 0x40'0000;
    const std::uint64_t data = 0x40'1000;
    map_long_4k(mem, code, 0x9000, kP | kRw);                                    // supervisor page
    mem.write64(0x13000 + ((data >> 12) & 0x1FF) * 8, 0xA000 | kP | kUs | kNx);  // user, RO, NX

    GuestPagingState user = kLong;
    user.cpl = 3;
    CHECK(walk_gpa(kLong, code, mem, Access::execute) == 0x9000);
    CHECK(walk_error(user, code, mem, Access::execute) ==
          PageWalkError{WalkFailure::protection, 1});

    // The upper levels carry R/W and no U/S: user rights fail there too.
    CHECK(walk_error(user, data, mem) == PageWalkError{WalkFailure::protection, 1});
    map_long_4k(mem, data, 0xA000, kAll);  // now U/S on the upper levels
    mem.write64(0x13000 + ((data >> 12) & 0x1FF) * 8, 0xA000 | kP | kUs | kNx);
    CHECK(walk_gpa(user, data, mem) == 0xA000);
    CHECK(walk_error(user, data, mem, Access::write) == PageWalkError{WalkFailure::protection, 1});
    CHECK(walk_error(user, data, mem, Access::execute) ==
          PageWalkError{WalkFailure::protection, 1});

    // Supervisor writes to read-only pages: refused with CR0.WP only.
    CHECK(walk_error(kLong, data, mem, Access::write) == PageWalkError{WalkFailure::protection, 1});
    GuestPagingState no_wp = kLong;
    no_wp.cr0 &= ~kCr0Wp;
    CHECK(walk_gpa(no_wp, data, mem, Access::write) == 0xA000);

    // SMEP: no supervisor fetch from a user page.
    mem.write64(0x13000 + ((data >> 12) & 0x1FF) * 8, 0xA000 | kP | kUs);
    CHECK(walk_gpa(kLong, data, mem, Access::execute) == 0xA000);
    GuestPagingState smep = kLong;
    smep.cr4 |= kCr4Smep;
    CHECK(walk_error(smep, data, mem, Access::execute) ==
          PageWalkError{WalkFailure::protection, 1});
    CHECK(walk_gpa(smep, data, mem, Access::read) == 0xA000);
}

TEST_CASE("guest paging: instruction fetch straddling two pages")
{
    FakeGuestMemory mem;
    const std::uint64_t linear = 0x40'0FFA;  // six bytes before the page end
    map_long_4k(mem, linear, 0x2'0000);
    map_long_4k(mem, linear + 6, 0x5'0000);  // next page, a distant frame
    std::array<std::uint8_t, 15> code{};
    for (std::size_t i = 0; i < code.size(); ++i) {
        code[i] = static_cast<std::uint8_t>(0xA0 + i);
    }
    mem.write_bytes(0x2'0FFA, std::span{code}.first(6));
    mem.write_bytes(0x5'0000, std::span{code}.subspan(6));

    std::array<std::uint8_t, 15> out{};
    auto fetched = fetch_instruction_bytes(kLong, linear, mem.reader(), out);
    REQUIRE(fetched.has_value());
    CHECK(*fetched == 15);
    CHECK(out == code);

    // The second page gone: the six bytes of the first still come back.
    mem.write64(0x13000 + (((linear + 6) >> 12) & 0x1FF) * 8, 0);
    out.fill(0);
    auto partial = fetch_instruction_bytes(kLong, linear, mem.reader(), out);
    REQUIRE(partial.has_value());
    CHECK(*partial == 6);
    CHECK(out[5] == code[5]);
    CHECK(out[6] == 0);

    // The first page gone: an error.
    mem.write64(0x13000 + ((linear >> 12) & 0x1FF) * 8, 0);
    auto none = fetch_instruction_bytes(kLong, linear, mem.reader(), out);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error() == PageWalkError{WalkFailure::not_present, 1});
}

TEST_CASE("guest paging: fetch inside a large page never crosses a 4 KiB frame")
{
    FakeGuestMemory mem;
    mem.write64(0x10000, 0x11000 | kAll);
    mem.write64(0x11000, 0x12000 | kAll);
    mem.write64(0x12000, 0x20'0000 | kPs | kAll);  // linear 0..2 MiB -> 2 MiB..4 MiB
    const std::array<std::uint8_t, 4> head{0x89, 0x04, 0x25, 0x00};
    mem.write_bytes(0x20'0FFC, head);
    mem.write64(0x20'1000, 0);  // the frame after, so the reader has it
    std::array<std::uint8_t, 15> out{};
    auto fetched = fetch_instruction_bytes(kLong, 0xFFC, mem.reader(), out);
    REQUIRE(fetched.has_value());
    CHECK(*fetched == 15);
    CHECK(out[0] == 0x89);
    CHECK(out[3] == 0x00);
}

TEST_CASE("guest paging: real-mode fetch at CS:IP")
{
    FakeGuestMemory mem;
    const CodeSegment cs{0xF'0000, false, false};
    const std::uint64_t linear = code_linear_address(CpuMode::real16, cs, 0xFFF8);
    CHECK(linear == 0xF'FFF8);
    const std::array<std::uint8_t, 2> store{0x89, 0x07};  // mov [bx], ax
    mem.write_bytes(linear, store);
    mem.write64(0x10'0000, 0);  // the window runs on past 1 MiB
    std::array<std::uint8_t, 15> out{};
    auto fetched = fetch_instruction_bytes({0, 0, 0, 0, 0}, linear, mem.reader(), out);
    REQUIRE(fetched.has_value());
    CHECK(*fetched == 15);
    CHECK(out[0] == 0x89);
    CHECK(out[1] == 0x07);
}
