// SPDX-License-Identifier: MIT
//
// Service VMs as boxyctl sees them, as pure functions: VM names, the
// state.json that boxy-vm keeps in each VM's directory, the rows of
// `boxyctl list`, and the host files boxyctl reads (/proc/meminfo,
// /proc/PID/stat, /etc/group). No I/O, so the unit tests check every byte.
#pragma once

#include "hypervisor.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace boxy::boxyctl {

// Where the VM directories live: $BOXY_STATE_DIR, or this.
inline constexpr std::string_view kDefaultStateRoot = "/run/boxy/vms";
// The group that may use /dev/boxy and the state directory
// (drivers/linux/60-boxy.rules).
inline constexpr std::string_view kBoxyGroup = "boxy";
inline constexpr std::size_t kMaxVmNameLength = 32;

// Why `name` is not a VM name, or nothing if it is one. A VM name is
// [a-z0-9][a-z0-9-]{0,31}: a directory name and a word in a shell or a
// unit file, without quoting.
[[nodiscard]] std::optional<std::string> check_vm_name(std::string_view name);

// state.json's "state", as boxy-vm writes it.
enum class VmStatus { starting, running, stopping, stopped, failed };

[[nodiscard]] std::string_view to_string(VmStatus status);
[[nodiscard]] std::optional<VmStatus> parse_vm_status(std::string_view text);
// Whether boxy-vm still runs in this state: starting, running, stopping.
[[nodiscard]] bool is_live(VmStatus status);

// state.json (boxy-vm writes it; boxyctl rewrites it once boxy-vm is gone).
struct VmState {
    std::string name;
    std::int64_t pid = 0;
    VmStatus status = VmStatus::starting;
    std::uint32_t vcpus = 0;
    std::uint64_t memory_mib = 0;
    std::string kernel;
    std::int64_t started_at = 0;  // Unix seconds; 0 when unknown
    std::optional<std::string> exit_reason;
};

// name, pid and state are required, the rest defaults; anything that is not
// a JSON object of the right types is an error saying what is wrong.
[[nodiscard]] Result<VmState, Error> parse_vm_state(std::string_view json_text);
// One JSON object (keys in the order above) and a newline.
[[nodiscard]] std::string format_vm_state(const VmState& state);

// process.json, which boxyctl writes next to state.json when it starts
// boxy-vm: the process's start time tells boxy-vm from a later process that
// got the same PID, before boxyctl signals it.
struct VmProcess {
    std::int64_t pid = 0;
    std::uint64_t start_ticks = 0;  // /proc/PID/stat field 22
};

[[nodiscard]] Result<VmProcess, Error> parse_vm_process(std::string_view json_text);
[[nodiscard]] std::string format_vm_process(const VmProcess& process);

// What boxyctl reads of /proc/PID/stat (proc(5)).
struct ProcessStat {
    char state = '?';               // field 3: R, S, D, Z (zombie), X (dead), ...
    std::uint64_t start_ticks = 0;  // field 22, starttime: clock ticks after boot
};

// The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
[[nodiscard]] std::optional<ProcessStat> parse_process_stat(std::string_view stat);

// MemAvailable of /proc/meminfo, in KiB.
[[nodiscard]] std::optional<std::uint64_t> parse_mem_available_kib(std::string_view meminfo);
// What the host keeps for itself when boxyctl checks --memory.
inline constexpr std::uint64_t kHostReserveMib = 256;
// The most MiB one more VM may take: MemAvailable less kHostReserveMib.
[[nodiscard]] std::uint64_t donatable_mib(std::uint64_t mem_available_kib);

// The GID of `group` in the text of /etc/group ("name:x:gid:members").
[[nodiscard]] std::optional<std::uint32_t> parse_group_id(std::string_view etc_group,
                                                          std::string_view group);

// "42s", "3m 12s", "2h 05m", "3d 04h": two units, the larger first.
[[nodiscard]] std::string format_uptime(std::int64_t seconds);
// "1 vCPU", "2 vCPUs".
[[nodiscard]] std::string vcpu_count_text(std::uint32_t vcpus);

// One VM of `boxyctl list`. state is a VmStatus name, or "crashed" (a live
// state whose process is gone) or "unknown" (state.json unreadable; error
// says why). Empty optionals are JSON nulls and "-" in the table.
struct VmListRow {
    std::string name;
    std::string state;
    std::optional<std::int64_t> pid;
    std::optional<std::uint32_t> vcpus;
    std::optional<std::uint64_t> memory_mib;
    std::optional<std::string> kernel;
    std::optional<std::int64_t> started_at;
    std::optional<std::int64_t> uptime_seconds;  // only while it runs
    std::optional<std::string> exit_reason;
    std::optional<std::string> error;
};

// What the host knows about one VM directory besides its state.json.
struct VmObservation {
    bool process_alive = false;  // the state's PID is still that boxy-vm
    bool being_started = false;  // a boxyctl start holds the directory
    std::int64_t now = 0;        // Unix seconds
};

[[nodiscard]] VmListRow make_list_row(std::string name, const Result<VmState, Error>& state,
                                      const VmObservation& seen);
// Columns name, state, vcpus, memory, uptime, pid; a header line even
// when there are no VMs.
[[nodiscard]] std::string format_list_table(std::span<const VmListRow> rows);
// A JSON array of objects with every VmListRow key, in that order.
[[nodiscard]] std::string format_list_json(std::span<const VmListRow> rows);

}  // namespace boxy::boxyctl
