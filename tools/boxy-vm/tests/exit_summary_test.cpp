// SPDX-License-Identifier: MIT
#include "exit_summary.hpp"

#include <catch2/catch.hpp>

namespace boxy::vm {
namespace {

TEST_CASE("exit summary: sums the vCPUs' run pages, names reasons, skips zeros")
{
    boxy_vcpu_run a{};
    a.exits = 10;
    a.host_exits = 7;
    a.exits_by_reason[BOXY_EXIT_IO] = 6;
    a.exits_by_reason[BOXY_EXIT_CPUID] = 4;
    boxy_vcpu_run b{};
    b.exits = 5;
    b.host_exits = 2;
    b.exits_by_reason[BOXY_EXIT_IO] = 1;
    b.exits_by_reason[BOXY_EXIT_HLT] = 4;
    const boxy_vcpu_run* runs[] = {&a, nullptr, &b};
    CHECK(format_exit_summary(runs) == "exits: 15 (to the host 9): cpuid 4, io 7, hlt 4");
}

TEST_CASE("exit summary: a VM that never ran")
{
    boxy_vcpu_run idle{};
    const boxy_vcpu_run* runs[] = {&idle};
    CHECK(format_exit_summary(runs) == "exits: 0 (to the host 0)");
    CHECK(format_exit_summary({}) == "exits: 0 (to the host 0)");
}

}  // namespace
}  // namespace boxy::vm
