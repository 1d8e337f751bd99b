// SPDX-License-Identifier: MIT
#include "exit_stats.hpp"

#include "cpuid_leaves.hpp"
#include "hypercall.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

using boxy::vmm::ExitReason;
using boxy::vmm::ExitStats;
using boxy::vmm::kExitReasonCount;

TEST_CASE("exit stats: record counts by reason and in total")
{
    ExitStats stats{1, 7};
    CHECK(stats.total() == 0);
    stats.record(ExitReason::cpuid);
    stats.record(ExitReason::cpuid);
    stats.record(ExitReason::nested_page_fault);
    stats.record(ExitReason::other);
    CHECK(stats.count(ExitReason::cpuid) == 2);
    CHECK(stats.count(ExitReason::nested_page_fault) == 1);
    CHECK(stats.count(ExitReason::other) == 1);
    CHECK(stats.count(ExitReason::hlt) == 0);
    CHECK(stats.total() == 4);
    CHECK(stats.cpu_index() == 1);
    CHECK(stats.apic_id() == 7);
}

TEST_CASE("exit stats: out-of-range reasons count as other")
{
    ExitStats stats{0, 0};
    stats.record(ExitReason::count);
    stats.record(static_cast<ExitReason>(0x1234));
    CHECK(stats.count(ExitReason::other) == 2);
    CHECK(stats.count(ExitReason::count) == 0);
    CHECK(stats.total() == 2);
}

TEST_CASE("exit stats: snapshot layout follows the ABI numbering")
{
    ExitStats stats{3, 0x100};
    // Reason i recorded i + 1 times, so each slot's value names its reason.
    std::uint64_t expected_total = 0;
    for (std::size_t i = 0; i < kExitReasonCount; ++i) {
        for (std::size_t n = 0; n <= i; ++n) {
            stats.record(static_cast<ExitReason>(i));
            ++expected_total;
        }
    }
    const boxy_cpu_stats snap = stats.snapshot();
    CHECK(snap.size == sizeof(boxy_cpu_stats));
    CHECK(snap.cpu_index == 3);
    CHECK(snap.apic_id == 0x100);
    CHECK(snap.reason_count == kExitReasonCount);
    CHECK(snap.total_exits == expected_total);
    for (std::size_t i = 0; i < BOXY_STATS_MAX_REASONS; ++i) {
        CAPTURE(i);
        CHECK(snap.exits_by_reason[i] == (i < kExitReasonCount ? i + 1 : 0));
    }
    CHECK(snap.exits_by_reason[BOXY_EXIT_OTHER] == kExitReasonCount);
    CHECK(snap.exits_by_reason[BOXY_EXIT_NESTED_PAGE_FAULT] == BOXY_EXIT_NESTED_PAGE_FAULT + 1);

    // The bytes a C caller reads: little-endian fields at the ABI offsets.
    unsigned char bytes[sizeof snap];
    std::memcpy(bytes, &snap, sizeof snap);
    CHECK(bytes[4] == 3);                  // cpu_index
    CHECK(bytes[9] == 0x01);               // apic_id 0x100, second byte
    CHECK(bytes[12] == kExitReasonCount);  // reason_count
    CHECK(bytes[24 + 8 * BOXY_EXIT_HLT] == BOXY_EXIT_HLT + 1);
}

TEST_CASE("exit stats: a concurrent reader sees untorn, monotonic counts")
{
    // One writer (the owner CPU) and one reader (another CPU asking for a
    // snapshot), as in the VMM; run under the sanitizers this also shows
    // the relaxed atomics keep the access well-defined.
    ExitStats stats{0, 0};
    constexpr std::uint64_t kRecords = 200000;
    std::thread writer([&stats] {
        for (std::uint64_t i = 0; i < kRecords; ++i) {
            stats.record(i % 2 == 0 ? ExitReason::io : ExitReason::hlt);
        }
    });
    std::uint64_t last_total = 0;
    std::uint64_t last_io = 0;
    bool monotonic = true;
    for (int i = 0; i < 1000; ++i) {
        const boxy_cpu_stats snap = stats.snapshot();
        monotonic = monotonic && snap.total_exits >= last_total &&
                    snap.exits_by_reason[BOXY_EXIT_IO] >= last_io && snap.total_exits <= kRecords;
        last_total = snap.total_exits;
        last_io = snap.exits_by_reason[BOXY_EXIT_IO];
    }
    writer.join();
    CHECK(monotonic);
    CHECK(stats.total() == kRecords);
    CHECK(stats.count(ExitReason::io) == kRecords / 2);
    CHECK(stats.count(ExitReason::hlt) == kRecords / 2);
}

TEST_CASE("abi: the CPUID signature spells BoxyBoxyBoxy")
{
    using namespace boxy::vmm::hypercall;
    CpuidRegisters regs{};
    REQUIRE(boxy_cpuid_leaf(BOXY_CPUID_LEAF_IDENTITY, regs));
    CHECK(regs.eax == BOXY_CPUID_MAX_LEAF);
    char signature[13]{};
    std::memcpy(signature, &regs.ebx, 4);
    std::memcpy(signature + 4, &regs.ecx, 4);
    std::memcpy(signature + 8, &regs.edx, 4);
    CHECK(std::string{signature} == "BoxyBoxyBoxy");
}

TEST_CASE("abi: CPUID version leaf and the rest of the hypervisor range")
{
    using namespace boxy::vmm::hypercall;
    CpuidRegisters regs{};
    REQUIRE(boxy_cpuid_leaf(BOXY_CPUID_LEAF_VERSION, regs));
    CHECK(regs.eax == BOXY_ABI_VERSION);
    CHECK(regs.ebx == static_cast<std::uint32_t>(kFeatures));
    CHECK(regs.ecx == static_cast<std::uint32_t>(kFeatures >> 32));
    CHECK(regs.edx == 0);

    regs = {1, 2, 3, 4};
    REQUIRE(boxy_cpuid_leaf(0x400000FF, regs));
    CHECK((regs.eax | regs.ebx | regs.ecx | regs.edx) == 0);

    regs = {1, 2, 3, 4};
    CHECK_FALSE(boxy_cpuid_leaf(0x40000100, regs));
    CHECK_FALSE(boxy_cpuid_leaf(0x3FFFFFFF, regs));
    CHECK_FALSE(boxy_cpuid_leaf(0, regs));
    CHECK(regs.eax == 1);  // untouched
}
