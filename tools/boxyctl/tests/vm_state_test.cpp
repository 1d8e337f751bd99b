// SPDX-License-Identifier: MIT
#include "vm_state.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using boxy::Result;
using boxy::boxyctl::check_vm_name;
using boxy::boxyctl::donatable_mib;
using boxy::boxyctl::Error;
using boxy::boxyctl::format_list_json;
using boxy::boxyctl::format_list_table;
using boxy::boxyctl::format_uptime;
using boxy::boxyctl::format_vm_process;
using boxy::boxyctl::format_vm_state;
using boxy::boxyctl::is_live;
using boxy::boxyctl::make_list_row;
using boxy::boxyctl::parse_group_id;
using boxy::boxyctl::parse_mem_available_kib;
using boxy::boxyctl::parse_process_stat;
using boxy::boxyctl::parse_vm_process;
using boxy::boxyctl::parse_vm_state;
using boxy::boxyctl::parse_vm_status;
using boxy::boxyctl::vcpu_count_text;
using boxy::boxyctl::VmListRow;
using boxy::boxyctl::VmObservation;
using boxy::boxyctl::VmProcess;
using boxy::boxyctl::VmState;
using boxy::boxyctl::VmStatus;

namespace {

constexpr const char* kRunning =
    R"({"name":"web","pid":4242,"state":"running","vcpus":2,"memory_mib":128,)"
    R"("kernel":"/boot/vmlinuz","started_at":1700000000,"exit_reason":null})";

std::string parse_error(std::string_view json)
{
    const auto state = parse_vm_state(json);
    REQUIRE_FALSE(state);
    return state.error().message;
}

}  // namespace

TEST_CASE("vm state: names")
{
    for (const char* good :
         {"a", "0", "web", "web-1", "a-b-c", "9lives", "x-", "abcdefghijklmnopqrstuvwxyz012345"}) {
        CAPTURE(good);
        CHECK_FALSE(check_vm_name(good));
    }
    for (const char* bad : {"-web", "Web", "web_1", "web.1", "web 1", "wéb", "../x", "a/b",
                            "abcdefghijklmnopqrstuvwxyz0123456", "web\n"}) {
        CAPTURE(bad);
        const auto why = check_vm_name(bad);
        REQUIRE(why);
        CHECK(why->find("not a VM name") != std::string::npos);
        CHECK(why->find("1 to 32 of a-z, 0-9 and '-'") != std::string::npos);
    }
    REQUIRE(check_vm_name(""));
    CHECK(check_vm_name("")->starts_with("empty VM name"));
}

TEST_CASE("vm state: statuses")
{
    for (const VmStatus status : {VmStatus::starting, VmStatus::running, VmStatus::stopping,
                                  VmStatus::stopped, VmStatus::failed}) {
        CHECK(parse_vm_status(to_string(status)) == status);
    }
    CHECK_FALSE(parse_vm_status("crashed"));
    CHECK_FALSE(parse_vm_status("Running"));
    CHECK(is_live(VmStatus::starting));
    CHECK(is_live(VmStatus::running));
    CHECK(is_live(VmStatus::stopping));
    CHECK_FALSE(is_live(VmStatus::stopped));
    CHECK_FALSE(is_live(VmStatus::failed));
}

TEST_CASE("vm state: state.json")
{
    const auto state = parse_vm_state(kRunning);
    REQUIRE(state);
    CHECK(state->name == "web");
    CHECK(state->pid == 4242);
    CHECK(state->status == VmStatus::running);
    CHECK(state->vcpus == 2);
    CHECK(state->memory_mib == 128);
    CHECK(state->kernel == "/boot/vmlinuz");
    CHECK(state->started_at == 1700000000);
    CHECK_FALSE(state->exit_reason);

    // What boxyctl writes, boxyctl reads back.
    VmState stopped = *state;
    stopped.status = VmStatus::stopped;
    stopped.exit_reason = "killed with --force";
    const std::string text = format_vm_state(stopped);
    CHECK(text.ends_with("}\n"));
    CHECK(text.find(R"("state":"stopped")") != std::string::npos);
    const auto again = parse_vm_state(text);
    REQUIRE(again);
    CHECK(again->status == VmStatus::stopped);
    CHECK(again->exit_reason == "killed with --force");
    CHECK(again->name == "web");
    CHECK(again->started_at == 1700000000);

    // Only name, pid and state are required; unknown keys are ignored.
    const auto minimal =
        parse_vm_state(R"({"name":"a","pid":1,"state":"starting","future":[1,2]})");
    REQUIRE(minimal);
    CHECK(minimal->vcpus == 0);
    CHECK(minimal->started_at == 0);
    CHECK(minimal->kernel.empty());
}

TEST_CASE("vm state: malformed state.json is an error, not a crash")
{
    CHECK(parse_error("") == "not valid JSON (byte 1)");
    CHECK(parse_error("{\"name\":").starts_with("not valid JSON"));
    CHECK(parse_error("[1,2]") == "not a JSON object");
    CHECK(parse_error("null") == "not a JSON object");
    CHECK(parse_error(R"({"pid":1,"state":"running"})") == R"("name" must be a string)");
    CHECK(parse_error(R"({"name":1,"pid":1,"state":"running"})") == R"("name" must be a string)");
    const std::string pid_error = R"("pid" must be a positive integer (a PID))";
    CHECK(parse_error(R"({"name":"a","state":"running"})") == pid_error);
    CHECK(parse_error(R"({"name":"a","pid":"12","state":"running"})") == pid_error);
    CHECK(parse_error(R"({"name":"a","pid":0,"state":"running"})") == pid_error);
    CHECK(parse_error(R"({"name":"a","pid":-5,"state":"running"})") == pid_error);
    CHECK(parse_error(R"({"name":"a","pid":1.5,"state":"running"})") == pid_error);
    CHECK(parse_error(R"({"name":"a","pid":99999999999,"state":"running"})") == pid_error);
    CHECK(parse_error(R"({"name":"a","pid":1})") == R"("state" must be a string)");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"dancing"})") ==
          R"(unknown "state": "dancing" (want starting, running, stopping, stopped or failed))");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"running","vcpus":-1})") ==
          R"("vcpus" must be a vCPU count)");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"running","vcpus":4294967296})") ==
          R"("vcpus" must be a vCPU count)");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"running","memory_mib":"128"})") ==
          R"("memory_mib" must be a count of MiB)");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"running","started_at":1.5})") ==
          R"("started_at" must be Unix seconds (an integer))");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"running","exit_reason":7})") ==
          R"("exit_reason" must be a string)");
    CHECK(parse_error(R"({"name":"a","pid":1,"state":"running","kernel":{}})") ==
          R"("kernel" must be a string)");
    // Nulls are "unknown".
    CHECK(
        parse_vm_state(R"({"name":"a","pid":1,"state":"running","vcpus":null,"started_at":null})"));
}

TEST_CASE("vm state: process.json")
{
    const std::string text = format_vm_process(VmProcess{.pid = 77, .start_ticks = 123456789});
    CHECK(text == "{\"pid\":77,\"start_ticks\":123456789}\n");
    const auto process = parse_vm_process(text);
    REQUIRE(process);
    CHECK(process->pid == 77);
    CHECK(process->start_ticks == 123456789);
    CHECK_FALSE(parse_vm_process("{\"pid\":77}"));
    CHECK_FALSE(parse_vm_process("{\"pid\":0,\"start_ticks\":1}"));
    CHECK_FALSE(parse_vm_process("garbage"));
}

TEST_CASE("vm state: /proc/PID/stat")
{
    const auto stat = parse_process_stat(
        "5271 (cat) R 5268 5268 27080 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 2208705 3133440 "
        "412 18446744073709551615\n");
    REQUIRE(stat);
    CHECK(stat->state == 'R');
    CHECK(stat->start_ticks == 2208705);

    // A command name with spaces and parentheses.
    const auto odd =
        parse_process_stat("42 (a) b (c)) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n");
    REQUIRE(odd);
    CHECK(odd->state == 'Z');
    CHECK(odd->start_ticks == 99);

    CHECK_FALSE(parse_process_stat(""));
    CHECK_FALSE(parse_process_stat("42 (a) S 1 2 3"));  // too short
    CHECK_FALSE(parse_process_stat("42 a S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99"));
    CHECK_FALSE(parse_process_stat("42 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x9 0"));
}

TEST_CASE("vm state: /proc/meminfo")
{
    constexpr const char* kMeminfo =
        "MemTotal:        8039484 kB\n"
        "MemFree:          512000 kB\n"
        "MemAvailable:    4194304 kB\n"
        "Buffers:          102400 kB\n";
    CHECK(parse_mem_available_kib(kMeminfo) == 4194304u);
    CHECK(parse_mem_available_kib("MemAvailable: 12 kB") == 12u);
    CHECK_FALSE(parse_mem_available_kib("MemTotal: 8039484 kB\nMemFree: 1 kB\n"));
    CHECK_FALSE(parse_mem_available_kib("MemAvailable: lots kB\n"));
    CHECK_FALSE(parse_mem_available_kib("MemAvailable: 12 MB\n"));
    CHECK_FALSE(parse_mem_available_kib(""));

    CHECK(donatable_mib(4194304) == 4096 - boxy::boxyctl::kHostReserveMib);
    CHECK(donatable_mib(1024 * boxy::boxyctl::kHostReserveMib) == 0);
    CHECK(donatable_mib(1000) == 0);
}

TEST_CASE("vm state: /etc/group")
{
    constexpr const char* kGroups =
        "root:x:0:\n"
        "boxyish:x:900:\n"
        "boxy:x:998:alice,bob\n"
        "users:x:100:\n";
    CHECK(parse_group_id(kGroups, "boxy") == 998u);
    CHECK(parse_group_id(kGroups, "root") == 0u);
    CHECK_FALSE(parse_group_id(kGroups, "box"));
    CHECK_FALSE(parse_group_id("root:x:0:\n", "boxy"));
    CHECK_FALSE(parse_group_id("boxy:x:notanumber:\n", "boxy"));
    CHECK(parse_group_id("boxy:x:5", "boxy") == 5u);  // no member field, no newline
}

TEST_CASE("vm state: uptime and vCPU counts")
{
    CHECK(format_uptime(-3) == "0s");
    CHECK(format_uptime(0) == "0s");
    CHECK(format_uptime(59) == "59s");
    CHECK(format_uptime(60) == "1m 00s");
    CHECK(format_uptime(192) == "3m 12s");
    CHECK(format_uptime(3600) == "1h 00m");
    CHECK(format_uptime(2 * 3600 + 5 * 60 + 59) == "2h 05m");
    CHECK(format_uptime(86400) == "1d 00h");
    CHECK(format_uptime(3 * 86400 + 4 * 3600 + 59) == "3d 04h");
    CHECK(vcpu_count_text(1) == "1 vCPU");
    CHECK(vcpu_count_text(2) == "2 vCPUs");
}

TEST_CASE("vm state: list rows")
{
    const auto running = parse_vm_state(kRunning);
    const VmObservation alive{.process_alive = true, .being_started = false, .now = 1700000192};

    const VmListRow row = make_list_row("web", running, alive);
    CHECK(row.state == "running");
    CHECK(row.uptime_seconds == 192);
    CHECK(row.pid == 4242);

    // Its process gone: crashed, no uptime.
    const VmListRow crashed = make_list_row("web", running, VmObservation{.now = 1700000192});
    CHECK(crashed.state == "crashed");
    CHECK_FALSE(crashed.uptime_seconds);
    CHECK(crashed.pid == 4242);

    // Stopped: as it says, process or not.
    const auto stopped = parse_vm_state(
        R"({"name":"web","pid":4242,"state":"stopped","exit_reason":"guest shut down"})");
    const VmListRow down = make_list_row("web", stopped, VmObservation{});
    CHECK(down.state == "stopped");
    CHECK(down.exit_reason == "guest shut down");
    CHECK_FALSE(down.uptime_seconds);
    CHECK_FALSE(down.started_at);

    // No state.json: starting while a boxyctl start holds the directory.
    const Result<VmState, Error> missing = boxy::make_error(Error{"cannot read x"});
    const VmListRow starting = make_list_row("new", missing, VmObservation{.being_started = true});
    CHECK(starting.state == "starting");
    CHECK_FALSE(starting.error);
    const VmListRow unknown = make_list_row("new", missing, VmObservation{});
    CHECK(unknown.state == "unknown");
    CHECK(unknown.error == "cannot read x");
    CHECK_FALSE(unknown.pid);
}

TEST_CASE("vm state: list table")
{
    CHECK(format_list_table({}) == "name  state  vcpus  memory  uptime  pid\n");

    const std::vector<VmListRow> rows{
        make_list_row("web", parse_vm_state(kRunning),
                      VmObservation{.process_alive = true, .now = 1700000192}),
        make_list_row("db-primary", boxy::make_error(Error{"broken"}), VmObservation{}),
    };
    CHECK(format_list_table(rows) ==
          "name        state    vcpus   memory  uptime   pid\n"
          "web         running      2  128 MiB  3m 12s  4242\n"
          "db-primary  unknown      -        -  -          -\n");
}

TEST_CASE("vm state: list JSON")
{
    CHECK(format_list_json({}) == "[]\n");

    const std::vector<VmListRow> rows{
        make_list_row("web", parse_vm_state(kRunning),
                      VmObservation{.process_alive = true, .now = 1700000192}),
        make_list_row("bad", boxy::make_error(Error{"broken"}), VmObservation{}),
    };
    const std::string text = format_list_json(rows);
    // One key per line, so that grep works in a shell without jq.
    CHECK(text.find("\n    \"state\": \"running\",\n") != std::string::npos);

    const auto json = nlohmann::ordered_json::parse(text);
    REQUIRE(json.is_array());
    REQUIRE(json.size() == 2);
    std::vector<std::string> keys;
    for (const auto& item : json[0].items()) {
        keys.push_back(item.key());
    }
    CHECK(keys == std::vector<std::string>{"name", "state", "pid", "vcpus", "memory_mib", "kernel",
                                           "started_at", "uptime_seconds", "exit_reason", "error"});
    CHECK(json[0]["name"] == "web");
    CHECK(json[0]["pid"] == 4242);
    CHECK(json[0]["vcpus"] == 2);
    CHECK(json[0]["memory_mib"] == 128);
    CHECK(json[0]["kernel"] == "/boot/vmlinuz");
    CHECK(json[0]["started_at"] == 1700000000);
    CHECK(json[0]["uptime_seconds"] == 192);
    CHECK(json[0]["exit_reason"].is_null());
    CHECK(json[0]["error"].is_null());
    CHECK(json[1]["state"] == "unknown");
    CHECK(json[1]["pid"].is_null());
    CHECK(json[1]["error"] == "broken");
    CHECK(json[1].size() == keys.size());
}
