// SPDX-License-Identifier: MIT
#include "state_file.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::TempDir;

namespace {

VmStatus sample()
{
    return VmStatus{"web", 4242, VmState::running, 2, 160, "/boot/vmlinuz", 1'700'000'000, {}};
}

}  // namespace

TEST_CASE("state file: keys in the documented order, one line", "[state_file]")
{
    const std::string json = to_json(sample());
    CHECK(json == R"({"name":"web","pid":4242,"state":"running","vcpus":2,"memory_mib":160,)"
                  R"("kernel":"/boot/vmlinuz","started_at":1700000000})");
    CHECK(json.find('\n') == std::string::npos);
}

TEST_CASE("state file: exit_reason only once stopped or failed", "[state_file]")
{
    VmStatus status = sample();
    status.exit_reason = "poweroff";
    for (const VmState state : {VmState::starting, VmState::running, VmState::stopping}) {
        status.state = state;
        CHECK_FALSE(nlohmann::json::parse(to_json(status)).contains("exit_reason"));
    }
    status.state = VmState::stopped;
    CHECK(nlohmann::json::parse(to_json(status))["exit_reason"] == "poweroff");
    status.state = VmState::failed;
    status.exit_reason = "error: vCPU 0 failed: \"quoted\"\n";
    const auto parsed = nlohmann::json::parse(to_json(status));
    CHECK(parsed["state"] == "failed");
    CHECK(parsed["exit_reason"] == "error: vCPU 0 failed: \"quoted\"\n");
}

TEST_CASE("state file: any kernel path bytes give valid JSON", "[state_file][malformed]")
{
    VmStatus status = sample();
    status.kernel = std::string{"/boot/\xff\xfe\x01vmlinuz", 15};
    const std::string json = to_json(status);
    CHECK_NOTHROW(nlohmann::json::parse(json));
}

TEST_CASE("state file: written atomically with mode 0660", "[state_file]")
{
    TempDir dir;
    VmStatus status = sample();
    REQUIRE(write_state_file(dir.path(), status));
    CHECK(dir.read("state.json") == to_json(status) + "\n");
    status.state = VmState::stopped;
    status.exit_reason = "triple fault";
    REQUIRE(write_state_file(dir.path(), status));
    CHECK(nlohmann::json::parse(dir.read("state.json"))["exit_reason"] == "triple fault");
    CHECK_FALSE(dir.exists(".state.json.tmp"));
    struct stat info {};
    REQUIRE(::stat(dir.file("state.json").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777 & ~0660U) == 0);  // at most 0660, umask permitting

    auto missing = write_state_file(dir.file("nowhere"), status);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().find("nowhere") != std::string::npos);
}

TEST_CASE("state file: state names", "[state_file]")
{
    CHECK(to_string(VmState::starting) == "starting");
    CHECK(to_string(VmState::running) == "running");
    CHECK(to_string(VmState::stopping) == "stopping");
    CHECK(to_string(VmState::stopped) == "stopped");
    CHECK(to_string(VmState::failed) == "failed");
}
