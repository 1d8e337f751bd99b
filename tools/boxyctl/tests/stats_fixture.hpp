// SPDX-License-Identifier: MIT
//
// boxy_cpu_stats as Boxy would fill them, for the tests.
#pragma once

#include <boxy/abi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace boxy::boxyctl::test {

// One CPU's counters: `counts` are (reason, exits) pairs, total_exits their
// sum plus `in_flight` (the ABI allows the total to run ahead).
inline boxy_cpu_stats make_stats(
    std::uint32_t cpu, std::uint32_t apic_id,
    std::initializer_list<std::pair<std::size_t, std::uint64_t>> counts,
    std::uint32_t reason_count = BOXY_EXIT_REASON_COUNT, std::uint64_t in_flight = 0)
{
    boxy_cpu_stats stats{};
    stats.size = sizeof(boxy_cpu_stats);
    stats.cpu_index = cpu;
    stats.apic_id = apic_id;
    stats.reason_count = reason_count;
    stats.total_exits = in_flight;
    for (const auto& [reason, exits] : counts) {
        stats.exits_by_reason[reason] = exits;
        stats.total_exits += exits;
    }
    return stats;
}

}  // namespace boxy::boxyctl::test
