// SPDX-License-Identifier: MIT
#include "commands.hpp"

#include "stats_fixture.hpp"

#include <boxy/version.hpp>
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using boxy::Result;
using boxy::boxyctl::Error;
using boxy::boxyctl::Hypervisor;
using boxy::boxyctl::kExitFailure;
using boxy::boxyctl::kExitOk;
using boxy::boxyctl::kExitUsage;
using boxy::boxyctl::VersionInfo;
using boxy::boxyctl::test::make_stats;

namespace {

// Boxy as the tests want it; records what was asked.
struct FakeBoxy {
    VersionInfo version{.abi_version = BOXY_ABI_VERSION,
                        .cpu_count = 2,
                        .features = BOXY_FEATURE_GET_STATS,
                        .driver_abi_version = BOXY_ABI_VERSION};
    std::optional<std::string> version_error;
    std::map<std::uint32_t, boxy_cpu_stats> stats;
    std::optional<std::string> stats_error;
    std::optional<std::string> open_error;
    std::string opened;
    std::vector<std::uint32_t> asked;
};

class FakeHypervisor final : public Hypervisor {
public:
    explicit FakeHypervisor(FakeBoxy& boxy) : boxy_{boxy} {}

    Result<VersionInfo, Error> version() override
    {
        if (boxy_.version_error) {
            return boxy::make_error(Error{*boxy_.version_error});
        }
        return boxy_.version;
    }

    Result<boxy_cpu_stats, Error> cpu_stats(std::uint32_t cpu) override
    {
        boxy_.asked.push_back(cpu);
        if (boxy_.stats_error) {
            return boxy::make_error(Error{*boxy_.stats_error});
        }
        return boxy_.stats.at(cpu);
    }

private:
    FakeBoxy& boxy_;
};

struct Run {
    int exit_code;
    std::string out;
    std::string err;
};

Run run(FakeBoxy& boxy, std::initializer_list<const char*> words)
{
    std::vector<const char*> args{"boxyctl"};
    args.insert(args.end(), words);
    std::ostringstream out;
    std::ostringstream err;
    const auto open =
        [&boxy](const std::string& device) -> Result<std::unique_ptr<Hypervisor>, Error> {
        boxy.opened = device;
        if (boxy.open_error) {
            return boxy::make_error(Error{*boxy.open_error});
        }
        return std::unique_ptr<Hypervisor>{std::make_unique<FakeHypervisor>(boxy)};
    };
    const int code = boxy::boxyctl::boxyctl_main(args, open, out, err);
    return Run{code, out.str(), err.str()};
}

FakeBoxy two_cpus()
{
    FakeBoxy boxy;
    boxy.stats[0] = make_stats(0, 0, {{BOXY_EXIT_CPUID, 3}});
    boxy.stats[1] = make_stats(1, 1, {{BOXY_EXIT_CPUID, 4}, {BOXY_EXIT_HLT, 1}});
    return boxy;
}

}  // namespace

TEST_CASE("commands: version")
{
    FakeBoxy boxy = two_cpus();
    const Run r = run(boxy, {"version"});
    CHECK(r.exit_code == kExitOk);
    CHECK(r.out == fmt::format("boxyctl {}, Boxy ABI {}.{}, 2 CPUs\n", boxy::kVersion,
                               BOXY_ABI_VERSION_MAJOR, BOXY_ABI_VERSION_MINOR));
    CHECK(r.err.empty());
    CHECK(boxy.opened == "/dev/boxy");

    const Run json = run(boxy, {"--device", "/dev/other", "version", "--json"});
    CHECK(json.exit_code == kExitOk);
    CHECK(nlohmann::json::parse(json.out)["cpus"] == 2);
    CHECK(boxy.opened == "/dev/other");
}

TEST_CASE("commands: a device that does not open is a runtime error")
{
    FakeBoxy boxy;
    boxy.open_error = "cannot open /dev/boxy: No such file or directory — is boxy.ko loaded?";
    for (const char* command : {"version", "stats"}) {
        const Run r = run(boxy, {command});
        CHECK(r.exit_code == kExitFailure);
        CHECK(r.out.empty());
        CHECK(r.err == "boxyctl: " + *boxy.open_error + '\n');
    }
}

TEST_CASE("commands: usage errors do not open the device")
{
    FakeBoxy boxy;
    const Run r = run(boxy, {"stats", "--cpu", "x"});
    CHECK(r.exit_code == kExitUsage);
    CHECK(boxy.opened.empty());
}

TEST_CASE("commands: stats of every CPU")
{
    FakeBoxy boxy = two_cpus();
    const Run table = run(boxy, {"stats"});
    CHECK(table.exit_code == kExitOk);
    CHECK(table.err.empty());
    CHECK(boxy.asked == std::vector<std::uint32_t>{0, 1});
    CHECK(table.out.starts_with("exit reason"));
    CHECK(table.out.find("\ntotal ") != std::string::npos);

    const Run json = run(boxy, {"stats", "--json"});
    CHECK(json.exit_code == kExitOk);
    const auto parsed = nlohmann::json::parse(json.out);
    CHECK(parsed["cpus"].size() == 2);
    CHECK(parsed["all_cpus"]["total"] == 8);
}

TEST_CASE("commands: stats of one CPU")
{
    FakeBoxy boxy = two_cpus();
    const Run r = run(boxy, {"stats", "--cpu", "1", "--json"});
    CHECK(r.exit_code == kExitOk);
    CHECK(boxy.asked == std::vector<std::uint32_t>{1});
    const auto parsed = nlohmann::json::parse(r.out);
    REQUIRE(parsed["cpus"].size() == 1);
    CHECK(parsed["cpus"][0]["cpu"] == 1);
    CHECK(parsed["cpus"][0]["by_reason"]["hlt"] == 1);
}

TEST_CASE("commands: a CPU Boxy does not have is a runtime error")
{
    FakeBoxy boxy = two_cpus();
    const Run r = run(boxy, {"stats", "--cpu", "2"});
    CHECK(r.exit_code == kExitFailure);
    CHECK(r.out.empty());
    CHECK(r.err == "boxyctl: there is no CPU 2: Boxy runs on 2 CPU(s), 0 to 1\n");
    CHECK(boxy.asked.empty());
}

TEST_CASE("commands: failures of Boxy are runtime errors")
{
    FakeBoxy boxy = two_cpus();
    SECTION("version fails")
    {
        boxy.version_error = "/dev/boxy: BOXY_IOCTL_VERSION failed: Input/output error";
        const Run r = run(boxy, {"version"});
        CHECK(r.exit_code == kExitFailure);
        CHECK(r.err == "boxyctl: " + *boxy.version_error + '\n');
        CHECK(run(boxy, {"stats"}).exit_code == kExitFailure);
    }
    SECTION("stats fail")
    {
        boxy.stats_error = "/dev/boxy: BOXY_IOCTL_GET_STATS failed: Input/output error";
        const Run r = run(boxy, {"stats"});
        CHECK(r.exit_code == kExitFailure);
        CHECK(r.out.empty());
        CHECK(r.err == "boxyctl: " + *boxy.stats_error + '\n');
    }
    SECTION("no exit statistics")
    {
        boxy.version.features = 0;
        const Run r = run(boxy, {"stats"});
        CHECK(r.exit_code == kExitFailure);
        CHECK(r.err.find("does not count VM exits") != std::string::npos);
    }
    SECTION("answer for another CPU")
    {
        boxy.stats[1].cpu_index = 0;
        const Run r = run(boxy, {"stats"});
        CHECK(r.exit_code == kExitFailure);
        CHECK(r.err.find("asked for CPU 1") != std::string::npos);
    }
}

TEST_CASE("commands: another ABI major")
{
    FakeBoxy boxy = two_cpus();
    boxy.version.abi_version = BOXY_ABI_VERSION + 0x10000;
    const std::string next_major =
        fmt::format("{}.{}", BOXY_ABI_VERSION_MAJOR + 1, BOXY_ABI_VERSION_MINOR);
    // The version is still shown, with a warning; stats refuse.
    const Run version = run(boxy, {"version"});
    CHECK(version.exit_code == kExitOk);
    CHECK(version.out.find("Boxy ABI " + next_major) != std::string::npos);
    CHECK(version.err.find("warning: Boxy speaks ABI " + next_major) != std::string::npos);

    const Run stats = run(boxy, {"stats"});
    CHECK(stats.exit_code == kExitFailure);
    CHECK(stats.out.empty());
    CHECK(stats.err.find(fmt::format("Boxy speaks ABI {}, this boxyctl understands {}.x",
                                     next_major, BOXY_ABI_VERSION_MAJOR)) != std::string::npos);

    // A newer minor is fine.
    boxy.version.abi_version = BOXY_ABI_VERSION + 1;
    CHECK(run(boxy, {"stats"}).exit_code == kExitOk);
}
