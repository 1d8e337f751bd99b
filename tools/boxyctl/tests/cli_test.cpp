// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <boxy/version.hpp>
#include <catch2/catch.hpp>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

using boxy::boxyctl::kExitOk;
using boxy::boxyctl::kExitUsage;
using boxy::boxyctl::parse_command_line;
using boxy::boxyctl::parse_cpu_index;
using boxy::boxyctl::ParsedCommandLine;
using boxy::boxyctl::StatsCommand;
using boxy::boxyctl::VersionCommand;

namespace {

struct Parse {
    ParsedCommandLine result;
    std::string out;
    std::string err;
};

Parse parse(std::initializer_list<const char*> words)
{
    std::vector<const char*> args{"boxyctl"};
    args.insert(args.end(), words);
    std::ostringstream out;
    std::ostringstream err;
    ParsedCommandLine result = parse_command_line(args, out, err);
    return Parse{std::move(result), out.str(), err.str()};
}

}  // namespace

TEST_CASE("cli: version")
{
    const Parse p = parse({"version"});
    REQUIRE(p.result.options);
    CHECK(p.result.options->device == "/dev/boxy");
    const auto* version = std::get_if<VersionCommand>(&p.result.options->command);
    REQUIRE(version != nullptr);
    CHECK_FALSE(version->json);

    const Parse json = parse({"version", "--json"});
    REQUIRE(json.result.options);
    CHECK(std::get<VersionCommand>(json.result.options->command).json);
}

TEST_CASE("cli: stats with and without options")
{
    const Parse all = parse({"stats"});
    REQUIRE(all.result.options);
    const auto& stats = std::get<StatsCommand>(all.result.options->command);
    CHECK_FALSE(stats.json);
    CHECK_FALSE(stats.cpu.has_value());

    const Parse one = parse({"stats", "--cpu", "3", "--json"});
    REQUIRE(one.result.options);
    const auto& cpu3 = std::get<StatsCommand>(one.result.options->command);
    CHECK(cpu3.json);
    REQUIRE(cpu3.cpu.has_value());
    CHECK(*cpu3.cpu == 3);

    const Parse equals = parse({"stats", "--cpu=0"});
    REQUIRE(equals.result.options);
    CHECK(std::get<StatsCommand>(equals.result.options->command).cpu == 0u);
}

TEST_CASE("cli: --device")
{
    const Parse p = parse({"--device", "/tmp/other", "stats"});
    REQUIRE(p.result.options);
    CHECK(p.result.options->device == "/tmp/other");
}

TEST_CASE("cli: help and --version exit 0 on stdout")
{
    const Parse help = parse({"--help"});
    CHECK_FALSE(help.result.options);
    CHECK(help.result.exit_code == kExitOk);
    CHECK(help.out.find("stats") != std::string::npos);
    CHECK(help.out.find("version") != std::string::npos);

    const Parse stats_help = parse({"stats", "--help"});
    CHECK(stats_help.result.exit_code == kExitOk);
    CHECK(stats_help.out.find("--cpu") != std::string::npos);

    const Parse version = parse({"--version"});
    CHECK_FALSE(version.result.options);
    CHECK(version.result.exit_code == kExitOk);
    CHECK(version.out == "boxyctl " + std::string{boxy::kVersion} + '\n');
}

TEST_CASE("cli: usage errors exit 2 with a message on stderr")
{
    const auto usage_error = [](std::initializer_list<const char*> words, const char* message) {
        const Parse p = parse(words);
        CHECK_FALSE(p.result.options);
        CHECK(p.result.exit_code == kExitUsage);
        CHECK(p.out.empty());
        CHECK(p.err.find(message) != std::string::npos);
    };
    usage_error({}, "A command (version or stats) is required");
    usage_error({"frobnicate"}, "frobnicate");
    usage_error({"version", "stats"}, "stats");
    usage_error({"stats", "--bogus"}, "--bogus");
    usage_error({"stats", "--cpu"}, "--cpu");
    usage_error({"stats", "--cpu", "abc"}, "not a CPU index");
    usage_error({"stats", "--cpu=-1"}, "not a CPU index");
    usage_error({"stats", "--cpu", "0x1"}, "not a CPU index");
    usage_error({"stats", "--cpu", "4294967296"}, "not a CPU index");
    usage_error({"version", "--cpu", "1"}, "--cpu");
}

TEST_CASE("cli: CPU indices are plain decimal")
{
    CHECK(parse_cpu_index("0") == 0u);
    CHECK(parse_cpu_index("17") == 17u);
    CHECK(parse_cpu_index("010") == 10u);  // not octal
    CHECK(parse_cpu_index("4294967295") == 4294967295u);
    CHECK_FALSE(parse_cpu_index("4294967296"));
    CHECK_FALSE(parse_cpu_index(""));
    CHECK_FALSE(parse_cpu_index("-1"));
    CHECK_FALSE(parse_cpu_index("+1"));
    CHECK_FALSE(parse_cpu_index(" 1"));
    CHECK_FALSE(parse_cpu_index("1 "));
    CHECK_FALSE(parse_cpu_index("0x10"));
    CHECK_FALSE(parse_cpu_index("1e3"));
}
