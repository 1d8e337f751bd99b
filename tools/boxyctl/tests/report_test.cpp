// SPDX-License-Identifier: MIT
#include "report.hpp"

#include "exit_reason.hpp"
#include "stats_fixture.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <nlohmann/json.hpp>
#include <string>

using boxy::boxyctl::format_abi_version;
using boxy::boxyctl::format_stats_json;
using boxy::boxyctl::format_stats_table;
using boxy::boxyctl::format_version_json;
using boxy::boxyctl::format_version_text;
using boxy::boxyctl::reason_name;
using boxy::boxyctl::reported_reasons;
using boxy::boxyctl::VersionInfo;
using boxy::boxyctl::test::make_stats;

TEST_CASE("report: reason names are the VMM's")
{
    for (std::size_t i = 0; i < boxy::vmm::kExitReasonCount; ++i) {
        CHECK(reason_name(i) == boxy::vmm::to_string(static_cast<boxy::vmm::ExitReason>(i)));
    }
    CHECK(reason_name(BOXY_EXIT_CPUID) == "cpuid");
    CHECK(reason_name(BOXY_EXIT_NESTED_PAGE_FAULT) == "nested_page_fault");
    CHECK(reason_name(BOXY_EXIT_OTHER) == "other");
    // Reasons a newer VMM appends.
    CHECK(reason_name(BOXY_EXIT_REASON_COUNT) == "reason_18");
    CHECK(reason_name(63) == "reason_63");
}

TEST_CASE("report: reported reasons are bounded by the array")
{
    CHECK(reported_reasons(make_stats(0, 0, {})) == BOXY_EXIT_REASON_COUNT);
    CHECK(reported_reasons(make_stats(0, 0, {}, 5)) == 5);
    CHECK(reported_reasons(make_stats(0, 0, {}, 64)) == 64);
    CHECK(reported_reasons(make_stats(0, 0, {}, 0xFFFFFFFF)) == BOXY_STATS_MAX_REASONS);
}

namespace {

// "x.y" of the abi.h this boxyctl is built against.
const std::string kBuiltAbi =
    std::to_string(BOXY_ABI_VERSION_MAJOR) + '.' + std::to_string(BOXY_ABI_VERSION_MINOR);

}  // namespace

TEST_CASE("report: ABI versions")
{
    CHECK(format_abi_version(BOXY_ABI_VERSION) == kBuiltAbi);
    CHECK(format_abi_version(0x00000001) == "0.1");
    CHECK(format_abi_version(0x00030002) == "3.2");
    CHECK(format_abi_version(0xFFFF0010) == "65535.16");
    CHECK(boxy::boxyctl::abi_compatible(BOXY_ABI_VERSION));
    CHECK(boxy::boxyctl::abi_compatible(BOXY_ABI_VERSION + 7));  // newer minor
    CHECK_FALSE(boxy::boxyctl::abi_compatible(BOXY_ABI_VERSION + 0x10000));
}

TEST_CASE("report: version line")
{
    const VersionInfo info{.abi_version = BOXY_ABI_VERSION,
                           .cpu_count = 2,
                           .features = BOXY_FEATURE_GET_STATS,
                           .driver_abi_version = BOXY_ABI_VERSION};
    CHECK(format_version_text("1.2.3", info) ==
          "boxyctl 1.2.3, Boxy ABI " + kBuiltAbi + ", 2 CPUs\n");
    VersionInfo one = info;
    one.cpu_count = 1;
    CHECK(format_version_text("1.2.3", one) ==
          "boxyctl 1.2.3, Boxy ABI " + kBuiltAbi + ", 1 CPU\n");
}

TEST_CASE("report: version as JSON")
{
    const VersionInfo info{.abi_version = 0x00000003,
                           .cpu_count = 4,
                           .features = BOXY_FEATURE_GET_STATS | (1ull << 40),
                           .driver_abi_version = BOXY_ABI_VERSION};
    const std::string text = format_version_json("1.2.3", info);
    CHECK(text.back() == '\n');
    const auto json = nlohmann::json::parse(text);
    CHECK(json["boxyctl"] == "1.2.3");
    CHECK(json["abi"]["major"] == 0);
    CHECK(json["abi"]["minor"] == 3);
    CHECK(json["driver_abi"]["major"] == BOXY_ABI_VERSION_MAJOR);
    CHECK(json["driver_abi"]["minor"] == BOXY_ABI_VERSION_MINOR);
    CHECK(json["cpus"] == 4);
    CHECK(json["features"] == nlohmann::json::array({"get_stats", "bit_40"}));
}

TEST_CASE("report: stats table of two CPUs")
{
    const std::array cpus{
        make_stats(0, 0, {{BOXY_EXIT_CPUID, 1234}, {BOXY_EXIT_MSR_READ, 12}, {BOXY_EXIT_IO, 7}}),
        make_stats(1, 2, {{BOXY_EXIT_CPUID, 1200}, {BOXY_EXIT_HLT, 100000}}, BOXY_EXIT_REASON_COUNT,
                   3),
    };
    const std::string expected =
        "exit reason                 cpu 0   cpu 1   total\n"
        "apic id                         0       2\n"
        "cpuid                        1234    1200    2434\n"
        "msr_read                       12       0      12\n"
        "msr_write                       0       0       0\n"
        "io                              7       0       7\n"
        "nested_page_fault               0       0       0\n"
        "hypercall                       0       0       0\n"
        "init                            0       0       0\n"
        "sipi                            0       0       0\n"
        "xsetbv                          0       0       0\n"
        "hlt                             0  100000  100000\n"
        "shutdown                        0       0       0\n"
        "virtualization_instruction      0       0       0\n"
        "cr_access                       0       0       0\n"
        "exception                       0       0       0\n"
        "interrupt                       0       0       0\n"
        "nmi                             0       0       0\n"
        "invalid_state                   0       0       0\n"
        "other                           0       0       0\n"
        "total                        1253  101203  102456\n";
    CHECK(format_stats_table(cpus) == expected);
}

TEST_CASE("report: stats table of one CPU has no total column")
{
    const std::array cpus{make_stats(3, 6, {{BOXY_EXIT_CPUID, 5}, {BOXY_EXIT_OTHER, 1}}, 3)};
    CHECK(format_stats_table(cpus) ==
          "exit reason  cpu 3\n"
          "apic id          6\n"
          "cpuid            5\n"
          "msr_read         0\n"
          "msr_write        0\n"
          "total            6\n");
}

namespace {

// The line of `table` whose first column is `name`, or "".
std::string row_of(const std::string& table, const std::string& name)
{
    const std::size_t start = table.find('\n' + name + ' ');
    if (start == std::string::npos) {
        return {};
    }
    return table.substr(start + 1, table.find('\n', start + 1) - start - 1);
}

}  // namespace

TEST_CASE("report: stats table names reasons newer than boxyctl")
{
    auto stats = make_stats(0, 0, {{BOXY_EXIT_REASON_COUNT, 9}}, BOXY_EXIT_REASON_COUNT + 1);
    const std::string table = format_stats_table(std::array{stats});
    CHECK(row_of(table, "other").ends_with(" 0"));
    CHECK(row_of(table, "reason_18").ends_with(" 9"));
    CHECK(row_of(table, "total").ends_with(" 9"));
    // A reason_count beyond the array reads only the array.
    stats.reason_count = 1000;
    const std::string clamped = format_stats_table(std::array{stats});
    CHECK_FALSE(row_of(clamped, "reason_63").empty());
    CHECK(row_of(clamped, "reason_64").empty());
}

TEST_CASE("report: stats as JSON")
{
    const std::array cpus{
        make_stats(0, 0, {{BOXY_EXIT_CPUID, 10}, {BOXY_EXIT_NESTED_PAGE_FAULT, 4}}),
        make_stats(1, 1, {{BOXY_EXIT_CPUID, 20}, {BOXY_EXIT_INTERRUPT, 2}}, BOXY_EXIT_REASON_COUNT,
                   1),
    };
    const std::string text = format_stats_json(cpus);
    CHECK(text.back() == '\n');
    const auto json = nlohmann::ordered_json::parse(text);

    REQUIRE(json["cpus"].size() == 2);
    const auto& cpu1 = json["cpus"][1];
    CHECK(cpu1["cpu"] == 1);
    CHECK(cpu1["apic_id"] == 1);
    CHECK(cpu1["total"] == 23);
    CHECK(cpu1["by_reason"]["cpuid"] == 20);
    CHECK(cpu1["by_reason"]["interrupt"] == 2);
    CHECK(cpu1["by_reason"]["hlt"] == 0);
    CHECK(json["cpus"][0]["by_reason"]["nested_page_fault"] == 4);

    // Every reason, in ABI order.
    const auto& by_reason = json["cpus"][0]["by_reason"];
    REQUIRE(by_reason.size() == BOXY_EXIT_REASON_COUNT);
    std::size_t index = 0;
    for (const auto& [name, count] : by_reason.items()) {
        CHECK(name == reason_name(index++));
    }

    CHECK(json["all_cpus"]["total"] == 37);
    CHECK(json["all_cpus"]["by_reason"]["cpuid"] == 30);
    CHECK(json["all_cpus"]["by_reason"]["interrupt"] == 2);

    // Keys in the documented order (README.md).
    std::string keys;
    for (const auto& [key, value] : cpu1.items()) {
        keys += key + ' ';
    }
    CHECK(keys == "cpu apic_id total by_reason ");
}

TEST_CASE("report: stats JSON lists only the reasons a CPU reports")
{
    const std::array cpus{make_stats(0, 0, {{BOXY_EXIT_CPUID, 1}}, 2),
                          make_stats(1, 1, {{BOXY_EXIT_CPUID, 1}}, 3)};
    const auto json = nlohmann::json::parse(format_stats_json(cpus));
    CHECK(json["cpus"][0]["by_reason"].size() == 2);
    CHECK(json["cpus"][1]["by_reason"].size() == 3);
    CHECK(json["all_cpus"]["by_reason"].size() == 3);
}
