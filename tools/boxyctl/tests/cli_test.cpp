// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <boxy/version.hpp>
#include <catch2/catch.hpp>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

using boxy::boxyctl::ConsoleCommand;
using boxy::boxyctl::is_vm_command;
using boxy::boxyctl::kExitOk;
using boxy::boxyctl::kExitUsage;
using boxy::boxyctl::ListCommand;
using boxy::boxyctl::LogsCommand;
using boxy::boxyctl::parse_command_line;
using boxy::boxyctl::parse_cpu_index;
using boxy::boxyctl::ParsedCommandLine;
using boxy::boxyctl::RegistersCommand;
using boxy::boxyctl::StartCommand;
using boxy::boxyctl::StatsCommand;
using boxy::boxyctl::StopCommand;
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
    usage_error(
        {},
        "A command (version, stats, start, list, logs, console, stop or registers) is required");
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

TEST_CASE("cli: start")
{
    const Parse p = parse({"start", "web", "--kernel", "/boot/vmlinuz"});
    REQUIRE(p.result.options);
    CHECK(is_vm_command(p.result.options->command));
    const auto& start = std::get<StartCommand>(p.result.options->command);
    CHECK(start.name == "web");
    CHECK(start.kernel == "/boot/vmlinuz");
    CHECK_FALSE(start.initrd);
    CHECK_FALSE(start.cmdline);
    CHECK(start.memory_mib == 128);
    CHECK(start.vcpus == 1);

    const Parse all = parse({"start", "db-1", "--kernel=k", "--initrd", "i", "--cmdline",
                             "console=ttyS0 quiet", "--memory", "512", "--vcpus", "4"});
    REQUIRE(all.result.options);
    const auto& full = std::get<StartCommand>(all.result.options->command);
    CHECK(full.initrd == "i");
    CHECK(full.cmdline == "console=ttyS0 quiet");
    CHECK(full.memory_mib == 512);
    CHECK(full.vcpus == 4);

    // An empty command line is a command line.
    const Parse empty = parse({"start", "web", "--kernel", "k", "--cmdline", ""});
    REQUIRE(empty.result.options);
    CHECK(std::get<StartCommand>(empty.result.options->command).cmdline == "");
}

TEST_CASE("cli: list, logs, console, stop, registers")
{
    const Parse list = parse({"list", "--json"});
    REQUIRE(list.result.options);
    CHECK(std::get<ListCommand>(list.result.options->command).json);

    const Parse logs = parse({"logs", "web", "-f"});
    REQUIRE(logs.result.options);
    CHECK(std::get<LogsCommand>(logs.result.options->command).name == "web");
    CHECK(std::get<LogsCommand>(logs.result.options->command).follow);

    const Parse console = parse({"console", "web"});
    REQUIRE(console.result.options);
    CHECK(std::get<ConsoleCommand>(console.result.options->command).name == "web");

    const Parse stop = parse({"stop", "web"});
    REQUIRE(stop.result.options);
    const auto& plain = std::get<StopCommand>(stop.result.options->command);
    CHECK_FALSE(plain.force);
    CHECK(plain.timeout_seconds == 10);

    const Parse forced = parse({"stop", "--force", "--timeout", "0", "web"});
    REQUIRE(forced.result.options);
    const auto& force = std::get<StopCommand>(forced.result.options->command);
    CHECK(force.force);
    CHECK(force.timeout_seconds == 0);

    const Parse registers = parse({"registers", "web"});
    REQUIRE(registers.result.options);
    CHECK(std::get<RegistersCommand>(registers.result.options->command).name == "web");
    CHECK(is_vm_command(registers.result.options->command));

    CHECK_FALSE(is_vm_command(parse({"version"}).result.options->command));
    CHECK_FALSE(is_vm_command(parse({"stats"}).result.options->command));
}

TEST_CASE("cli: service-VM usage errors")
{
    const auto usage_error = [](std::initializer_list<const char*> words, const char* message) {
        const Parse p = parse(words);
        CHECK_FALSE(p.result.options);
        CHECK(p.result.exit_code == kExitUsage);
        CAPTURE(p.err);
        CHECK(p.err.find(message) != std::string::npos);
    };
    usage_error({"start", "web"}, "--kernel is required");
    usage_error({"start", "--kernel", "k"}, "name is required");
    usage_error({"start", "Web", "--kernel", "k"}, "not a VM name: \"Web\"");
    usage_error({"start", "web", "--kernel", "k", "--memory", "0"}, "--memory");
    usage_error({"start", "web", "--kernel", "k", "--memory", "-1"}, "--memory");
    usage_error({"start", "web", "--kernel", "k", "--memory", "1G"}, "--memory");
    usage_error({"start", "web", "--kernel", "k", "--vcpus", "0"}, "--vcpus");
    usage_error({"start", "web", "--kernel", "k", "--vcpus", "4294967296"}, "--vcpus");
    usage_error({"logs"}, "name is required");
    usage_error({"logs", "a/b"}, "not a VM name");
    usage_error({"console", "web", "extra"}, "extra");
    usage_error({"stop", "web", "--timeout", "-1"}, "--timeout");
    usage_error({"stop", "web", "--timeout", "86401"}, "--timeout");
    usage_error({"list", "web"}, "web");
    usage_error({"registers"}, "name is required");
}

TEST_CASE("cli: help lists the service-VM commands")
{
    const Parse help = parse({"--help"});
    for (const char* command : {"start", "list", "logs", "console", "stop", "registers"}) {
        CHECK(help.out.find(command) != std::string::npos);
    }
    const Parse console = parse({"console", "--help"});
    CHECK(console.result.exit_code == kExitOk);
    CHECK(console.out.find("Ctrl-]") != std::string::npos);
}
