// SPDX-License-Identifier: MIT
#include "exit_summary.hpp"

#include "exit_reason.hpp"

#include <array>
#include <cstdint>
#include <fmt/format.h>

namespace boxy::vm {

std::string format_exit_summary(std::span<const boxy_vcpu_run* const> runs)
{
    std::uint64_t exits = 0;
    std::uint64_t host_exits = 0;
    std::array<std::uint64_t, BOXY_EXIT_REASON_COUNT> by_reason{};
    for (const boxy_vcpu_run* run : runs) {
        if (run == nullptr) {
            continue;
        }
        exits += run->exits;
        host_exits += run->host_exits;
        for (std::size_t i = 0; i < by_reason.size(); ++i) {
            by_reason[i] += run->exits_by_reason[i];
        }
    }
    std::string out = fmt::format("exits: {} (to the host {})", exits, host_exits);
    const char* separator = ": ";
    for (std::size_t i = 0; i < by_reason.size(); ++i) {
        if (by_reason[i] == 0) {
            continue;
        }
        out += fmt::format("{}{} {}", separator, vmm::to_string(static_cast<vmm::ExitReason>(i)),
                           by_reason[i]);
        separator = ", ";
    }
    return out;
}

}  // namespace boxy::vm
