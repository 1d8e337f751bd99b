// SPDX-License-Identifier: MIT
#include "hypercall.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

using namespace boxy::vmm::hypercall;

namespace {

constexpr std::uint32_t kCpus = 4;
constexpr std::uint64_t kStatsSize = sizeof(boxy_cpu_stats);

// Host-VM RAM for the tests: [kRamBase, kRamBase + kRamSize), everything
// else (MMIO, holes, VMM memory) refused. Records what it was asked.
struct FakeMemory {
    static constexpr std::uint64_t kRamBase = 0x10000;
    static constexpr std::uint64_t kRamSize = 0x10000;

    bool allow_all = false;  // to show that decode() itself refuses a range
    int queries = 0;
    bool operator()(std::uint64_t gpa, std::uint64_t length)
    {
        ++queries;
        REQUIRE(length > 0);
        REQUIRE(gpa + length > gpa);  // decode never asks about a wrapping range
        return allow_all || (gpa >= kRamBase && gpa + length <= kRamBase + kRamSize);
    }
};

constexpr CallerContext kHostKernel{0, true, kCpus};

HypercallRegisters call(std::uint64_t number, std::uint64_t rdi = 0, std::uint64_t rsi = 0,
                        std::uint64_t rdx = 0)
{
    return {number, rdi, rsi, rdx, 0, 0, 0};
}

HypercallRegisters get_stats(std::uint64_t cpu, std::uint64_t gpa, std::uint64_t length)
{
    return call(BOXY_CALL_GET_STATS, cpu, gpa, length);
}

Status decode_error(const HypercallRegisters& regs, CallerContext ctx = kHostKernel,
                    bool allow_all_memory = false)
{
    FakeMemory memory;
    memory.allow_all = allow_all_memory;
    auto decoded = decode(regs, ctx, memory_checker_for(memory));
    REQUIRE_FALSE(decoded.has_value());
    return decoded.error();
}

}  // namespace

TEST_CASE("hypercall decode: VERSION from the host kernel")
{
    FakeMemory memory;
    auto decoded = decode(call(BOXY_CALL_VERSION), kHostKernel, memory_checker_for(memory));
    REQUIRE(decoded.has_value());
    CHECK(decoded->call == Call::version);
    CHECK(memory.queries == 0);
}

TEST_CASE("hypercall decode: GET_STATS with a good buffer")
{
    FakeMemory memory;
    const std::uint64_t gpa = FakeMemory::kRamBase + 0x100;
    auto decoded = decode(get_stats(3, gpa, kStatsSize), kHostKernel, memory_checker_for(memory));
    REQUIRE(decoded.has_value());
    REQUIRE(decoded->call == Call::get_stats);
    CHECK(decoded->args.get_stats.cpu_index == 3);
    CHECK(decoded->args.get_stats.buffer_gpa == gpa);
    CHECK(decoded->args.get_stats.buffer_length == kStatsSize);
    CHECK(memory.queries == 1);

    // A newer caller's bigger buffer, up to the limit, is fine too.
    auto big = decode(get_stats(0, FakeMemory::kRamBase, BOXY_GET_STATS_MAX_LENGTH), kHostKernel,
                      memory_checker_for(memory));
    REQUIRE(big.has_value());
    CHECK(big->args.get_stats.buffer_length == BOXY_GET_STATS_MAX_LENGTH);
}

TEST_CASE("hypercall decode: unknown call numbers")
{
    for (std::uint64_t number :
         {std::uint64_t{0x02}, std::uint64_t{0x07}, std::uint64_t{0x09}, std::uint64_t{0x0F},
          std::uint64_t{0x12}, std::uint64_t{0x22}, std::uint64_t{0x34}, std::uint64_t{0x41},
          std::uint64_t{0x50}, std::uint64_t{0x100000000}, ~std::uint64_t{0},
          std::uint64_t{1} << 63 | BOXY_CALL_VERSION}) {
        CAPTURE(number);
        CHECK(decode_error(call(number)) == Status::unknown_call);
    }
    // Unknown wins over denied: the number is looked at first.
    CHECK(decode_error(call(0x77), CallerContext{3, false, kCpus}) == Status::unknown_call);
}

TEST_CASE("hypercall decode: only the host VM's ring 0 may make management calls")
{
    const std::uint64_t gpa = FakeMemory::kRamBase;
    for (std::uint8_t cpl : {std::uint8_t{1}, std::uint8_t{2}, std::uint8_t{3}}) {
        CAPTURE(cpl);
        const CallerContext host_user{cpl, true, kCpus};
        CHECK(decode_error(call(BOXY_CALL_VERSION), host_user) == Status::denied);
        CHECK(decode_error(get_stats(0, gpa, kStatsSize), host_user) == Status::denied);
    }
    const CallerContext guest_kernel{0, false, kCpus};
    CHECK(decode_error(call(BOXY_CALL_VERSION), guest_kernel) == Status::denied);
    CHECK(decode_error(get_stats(0, gpa, kStatsSize), guest_kernel) == Status::denied);

    // Denied before any argument is looked at, and before memory is probed.
    FakeMemory memory;
    auto decoded = decode(get_stats(99, 0, 0), guest_kernel, memory_checker_for(memory));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Status::denied);
    CHECK(memory.queries == 0);
}

TEST_CASE("hypercall decode: unused argument registers must be zero")
{
    for (int reg = 0; reg < 6; ++reg) {
        CAPTURE(reg);
        HypercallRegisters version = call(BOXY_CALL_VERSION);
        std::uint64_t* args[] = {&version.rdi, &version.rsi, &version.rdx,
                                 &version.r10, &version.r8,  &version.r9};
        *args[reg] = 1;
        CHECK(decode_error(version) == Status::invalid_argument);
    }
    for (int reg = 0; reg < 3; ++reg) {
        CAPTURE(reg);
        HypercallRegisters stats = get_stats(0, FakeMemory::kRamBase, kStatsSize);
        std::uint64_t* unused[] = {&stats.r10, &stats.r8, &stats.r9};
        *unused[reg] = std::uint64_t{1} << 63;
        CHECK(decode_error(stats) == Status::invalid_argument);
    }
}

TEST_CASE("hypercall decode: GET_STATS cpu index out of range")
{
    const std::uint64_t gpa = FakeMemory::kRamBase;
    CHECK(decode_error(get_stats(kCpus, gpa, kStatsSize)) == Status::no_such_cpu);
    CHECK(decode_error(get_stats(~std::uint64_t{0}, gpa, kStatsSize)) == Status::no_such_cpu);
    // Truncating to 32 bits would make this CPU 0: it must not.
    CHECK(decode_error(get_stats(std::uint64_t{1} << 32, gpa, kStatsSize)) == Status::no_such_cpu);
    CHECK(decode_error(get_stats(0, gpa, kStatsSize), CallerContext{0, true, 0}) ==
          Status::no_such_cpu);
}

TEST_CASE("hypercall decode: GET_STATS buffer lengths")
{
    const std::uint64_t gpa = FakeMemory::kRamBase;
    CHECK(decode_error(get_stats(0, gpa, 0)) == Status::bad_length);
    CHECK(decode_error(get_stats(0, gpa, kStatsSize - 1)) == Status::bad_length);
    CHECK(decode_error(get_stats(0, gpa, 8)) == Status::bad_length);
    CHECK(decode_error(get_stats(0, gpa, BOXY_GET_STATS_MAX_LENGTH + 1)) == Status::bad_length);
    CHECK(decode_error(get_stats(0, gpa, ~std::uint64_t{0})) == Status::bad_length);
}

TEST_CASE("hypercall decode: GET_STATS buffer addresses")
{
    // The checker would allow anything here: decode() itself refuses.
    const auto refused = [](const HypercallRegisters& regs, CallerContext ctx = kHostKernel) {
        return decode_error(regs, ctx, true);
    };
    SECTION("null")
    {
        CHECK(refused(get_stats(0, 0, kStatsSize)) == Status::bad_address);
    }
    SECTION("misaligned")
    {
        for (std::uint64_t offset = 1; offset < 8; ++offset) {
            CHECK(refused(get_stats(0, FakeMemory::kRamBase + offset, kStatsSize)) ==
                  Status::bad_address);
        }
    }
    SECTION("wrapping past 2^64")
    {
        CHECK(refused(get_stats(0, ~std::uint64_t{7}, kStatsSize)) == Status::bad_address);
        CHECK(refused(get_stats(0, ~std::uint64_t{0} - kStatsSize + 1, kStatsSize)) ==
              Status::bad_address);
    }
    SECTION("beyond the physical address width")
    {
        // Above MAXPHYADDR 52 whatever the context says, and above a
        // narrower VM's own width.
        CHECK(refused(get_stats(0, std::uint64_t{1} << 63, kStatsSize)) == Status::bad_address);
        CHECK(refused(get_stats(0, (std::uint64_t{1} << 52) - 8, kStatsSize)) ==
              Status::bad_address);
        CallerContext wide = kHostKernel;
        wide.physical_address_bits = 64;
        CHECK(refused(get_stats(0, std::uint64_t{1} << 60, kStatsSize), wide) ==
              Status::bad_address);
        CallerContext narrow = kHostKernel;
        narrow.physical_address_bits = 36;
        CHECK(refused(get_stats(0, std::uint64_t{1} << 36, kStatsSize), narrow) ==
              Status::bad_address);
        CHECK(refused(get_stats(0, (std::uint64_t{1} << 36) - kStatsSize + 8, kStatsSize),
                      narrow) == Status::bad_address);
        // Ending exactly at 2^36 is inside.
        FakeMemory anything;
        anything.allow_all = true;
        CHECK(decode(get_stats(0, (std::uint64_t{1} << 36) - kStatsSize, kStatsSize), narrow,
                     memory_checker_for(anything))
                  .has_value());
    }
    SECTION("refused by the memory checker")
    {
        // Below RAM, straddling its end, and past it.
        CHECK(decode_error(get_stats(0, 0x1000, kStatsSize)) == Status::bad_address);
        const std::uint64_t end = FakeMemory::kRamBase + FakeMemory::kRamSize;
        CHECK(decode_error(get_stats(0, end - 8, kStatsSize)) == Status::bad_address);
        CHECK(decode_error(get_stats(0, end, kStatsSize)) == Status::bad_address);
        // The whole declared buffer is checked, not just the struct's part.
        CHECK(decode_error(get_stats(0, end - kStatsSize, BOXY_GET_STATS_MAX_LENGTH)) ==
              Status::bad_address);
    }
}

TEST_CASE("hypercall decode: the checker is asked exactly about the buffer")
{
    std::vector<std::pair<std::uint64_t, std::uint64_t>> asked;
    auto record = [&asked](std::uint64_t gpa, std::uint64_t length) {
        asked.emplace_back(gpa, length);
        return false;
    };
    auto decoded = decode(get_stats(1, 0x2000, 0x400), kHostKernel, memory_checker_for(record));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Status::bad_address);
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].first == 0x2000);
    CHECK(asked[0].second == 0x400);
}

TEST_CASE("hypercall invoke: VERSION outputs")
{
    HypercallRegisters regs = call(BOXY_CALL_VERSION);
    regs.r10 = 0xAA;
    invoke_version(kCpus, regs);
    CHECK(regs.rax == BOXY_STATUS_OK);
    CHECK(regs.rdi == BOXY_ABI_VERSION);
    CHECK(BOXY_ABI_VERSION_MAJOR_OF(regs.rdi) == BOXY_ABI_VERSION_MAJOR);
    CHECK(BOXY_ABI_VERSION_MINOR_OF(regs.rdi) == BOXY_ABI_VERSION_MINOR);
    CHECK(regs.rsi == kFeatures);
    CHECK((regs.rsi & BOXY_FEATURE_GET_STATS) != 0);
    CHECK(regs.rdx == kCpus);
    CHECK(regs.r10 == 0xAA);  // not an output: preserved
}

TEST_CASE("hypercall invoke: an error only sets RAX")
{
    HypercallRegisters regs{BOXY_CALL_GET_STATS, 1, 2, 3, 4, 5, 6};
    complete_with_error(Status::bad_length, regs);
    CHECK(regs.rax == BOXY_STATUS_BAD_LENGTH);
    CHECK(regs.rdi == 1);
    CHECK(regs.rsi == 2);
    CHECK(regs.rdx == 3);
    CHECK(regs.r9 == 6);
    CHECK(to_string(Status::no_such_cpu) == "no such cpu");
}

TEST_CASE("hypercall invoke: GET_STATS writes the snapshot through the writer")
{
    boxy::vmm::ExitStats stats{2, 0x15};
    stats.record(boxy::vmm::ExitReason::hlt);
    stats.record(boxy::vmm::ExitReason::hlt);
    stats.record(boxy::vmm::ExitReason::cpuid);

    FakeMemory memory;
    const std::uint64_t gpa = FakeMemory::kRamBase + 0x40;
    HypercallRegisters regs = get_stats(2, gpa, BOXY_GET_STATS_MAX_LENGTH);
    auto decoded = decode(regs, kHostKernel, memory_checker_for(memory));
    REQUIRE(decoded.has_value());

    std::vector<std::uint8_t> ram(FakeMemory::kRamSize, 0xEE);
    int writes = 0;
    auto write = [&](std::uint64_t at, const void* bytes, std::size_t length) {
        ++writes;
        REQUIRE(at >= FakeMemory::kRamBase);
        REQUIRE(at + length <= FakeMemory::kRamBase + FakeMemory::kRamSize);
        std::memcpy(ram.data() + (at - FakeMemory::kRamBase), bytes, length);
    };
    invoke_get_stats(decoded->args.get_stats, stats, memory_writer_for(write), regs);
    CHECK(writes == 1);
    CHECK(regs.rax == BOXY_STATUS_OK);
    CHECK(regs.rdi == kStatsSize);

    boxy_cpu_stats out;
    std::memcpy(&out, ram.data() + 0x40, sizeof out);
    CHECK(out.size == kStatsSize);
    CHECK(out.cpu_index == 2);
    CHECK(out.apic_id == 0x15);
    CHECK(out.reason_count == BOXY_EXIT_REASON_COUNT);
    CHECK(out.total_exits == 3);
    CHECK(out.exits_by_reason[BOXY_EXIT_HLT] == 2);
    CHECK(out.exits_by_reason[BOXY_EXIT_CPUID] == 1);
    // Nothing past the struct is touched, even in a longer buffer.
    CHECK(ram[0x40 + kStatsSize] == 0xEE);
    CHECK(ram[0x3F] == 0xEE);
}

TEST_CASE("hypercall decode: STOP_CPU only for the host kernel of a late-launched VMM")
{
    CallerContext late = kHostKernel;
    late.late_launched = true;
    FakeMemory memory;
    auto decoded = decode(call(BOXY_CALL_STOP_CPU), late, memory_checker_for(memory));
    REQUIRE(decoded.has_value());
    CHECK(decoded->call == Call::stop_cpu);
    CHECK(memory.queries == 0);

    // Started by boxy.efi: the firmware's reservation cannot be handed back.
    CHECK(decode_error(call(BOXY_CALL_STOP_CPU)) == Status::unsupported);
    // Only ring 0 of the host, and unused registers must be zero.
    CallerContext late_user = late;
    late_user.cpl = 3;
    CHECK(decode_error(call(BOXY_CALL_STOP_CPU), late_user) == Status::denied);
    CallerContext late_guest = late;
    late_guest.is_host_vm = false;
    CHECK(decode_error(call(BOXY_CALL_STOP_CPU), late_guest) == Status::denied);
    CHECK(decode_error(call(BOXY_CALL_STOP_CPU, 1), late) == Status::invalid_argument);
    HypercallRegisters r9_set = call(BOXY_CALL_STOP_CPU);
    r9_set.r9 = 1;
    CHECK(decode_error(r9_set, late) == Status::invalid_argument);
}
