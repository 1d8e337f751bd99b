// SPDX-License-Identifier: MIT
#include "vcpu_dump.hpp"

#include <catch2/catch.hpp>

using boxy::vm::VcpuDump;
using std::chrono::milliseconds;

TEST_CASE("vcpu dump: answers by the vCPU threads, silence reported", "[dump]")
{
    VcpuDump dump{2};
    CHECK(dump.wanted(0) == 0);  // nothing asked yet
    unsigned kicks = 0;
    // vCPU 0 answers when kicked; vCPU 1 never does (stuck in RUN).
    const auto texts = dump.collect(
        [&](std::uint32_t index) {
            ++kicks;
            if (index == 0 && dump.wanted(0) != 0) {
                dump.answer(0, dump.wanted(0), "vCPU 0 here");
            }
        },
        milliseconds{50}, milliseconds{5});
    REQUIRE(texts.size() == 2);
    CHECK(texts[0] == "vCPU 0 here");
    CHECK(texts[1].find("vCPU 1: no answer within 50 ms") == 0);
    CHECK(kicks >= 3);  // vCPU 1 was kicked again and again
    CHECK(dump.wanted(0) == 0);
    CHECK(dump.wanted(1) != 0);  // still owed

    // An answer to an old request does not count for a new one.
    const std::uint64_t old = dump.wanted(1);
    const auto again = dump.collect([&](std::uint32_t index) { dump.answer(index, old, "stale"); },
                                    milliseconds{20}, milliseconds{5});
    CHECK(again[0].find("no answer") != std::string::npos);
    CHECK(again[1].find("no answer") != std::string::npos);
    CHECK(dump.wanted(7) == 0);  // out of range: nothing
}
