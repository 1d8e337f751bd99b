// SPDX-License-Identifier: MIT
#include "vm_state.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>
#include <vector>

namespace boxy::boxyctl {

namespace {

// Keys keep their insertion order: state.json and `list --json` read in
// the documented order.
using Json = nlohmann::ordered_json;

bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

template <class T>
std::optional<T> parse_decimal(std::string_view text)
{
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    T value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::string_view trim(std::string_view text)
{
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

// Calls `line` with each line of `text` until it returns true.
template <class Visit>
void for_each_line(std::string_view text, Visit line)
{
    while (!text.empty()) {
        const auto end = text.find('\n');
        if (line(text.substr(0, end))) {
            return;
        }
        if (end == std::string_view::npos) {
            return;
        }
        text.remove_prefix(end + 1);
    }
}

Error field_error(std::string_view key, std::string_view want)
{
    return Error{fmt::format("\"{}\" must be {}", key, want)};
}

Result<Json, Error> parse_object(std::string_view json_text)
{
    Json json;
    try {
        json = Json::parse(json_text);
    } catch (const Json::parse_error& error) {
        return make_error(Error{fmt::format("not valid JSON (byte {})", error.byte)});
    }
    if (!json.is_object()) {
        return make_error(Error{"not a JSON object"});
    }
    return json;
}

// An integer that fits `T`, or an error naming the key.
template <class T>
Result<T, Error> integer_field(const Json& json, std::string_view key, std::string_view want)
{
    const auto found = json.find(key);
    if (found == json.end() || !found->is_number_integer()) {
        return make_error(field_error(key, want));
    }
    if (found->is_number_unsigned()) {
        const auto value = found->get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
            return make_error(field_error(key, want));
        }
        return static_cast<T>(value);
    }
    const auto value = found->get<std::int64_t>();
    if (value < 0 && !std::numeric_limits<T>::is_signed) {
        return make_error(field_error(key, want));
    }
    return static_cast<T>(value);
}

Result<std::string, Error> string_field(const Json& json, std::string_view key)
{
    const auto found = json.find(key);
    if (found == json.end() || !found->is_string()) {
        return make_error(field_error(key, "a string"));
    }
    return found->get<std::string>();
}

}  // namespace

std::optional<std::string> check_vm_name(std::string_view name)
{
    constexpr std::string_view kRule =
        "a VM name is 1 to 32 of a-z, 0-9 and '-', not starting with '-'";
    if (name.empty()) {
        return fmt::format("empty VM name: {}", kRule);
    }
    if (name.size() > kMaxVmNameLength || name.front() == '-' ||
        !std::all_of(name.begin(), name.end(), is_name_char)) {
        return fmt::format("not a VM name: \"{}\": {}", name, kRule);
    }
    return std::nullopt;
}

std::string_view to_string(VmStatus status)
{
    switch (status) {
        case VmStatus::starting: return "starting";
        case VmStatus::running: return "running";
        case VmStatus::stopping: return "stopping";
        case VmStatus::stopped: return "stopped";
        case VmStatus::failed: return "failed";
    }
    return "unknown";
}

std::optional<VmStatus> parse_vm_status(std::string_view text)
{
    for (const VmStatus status : {VmStatus::starting, VmStatus::running, VmStatus::stopping,
                                  VmStatus::stopped, VmStatus::failed}) {
        if (to_string(status) == text) {
            return status;
        }
    }
    return std::nullopt;
}

bool is_live(VmStatus status)
{
    return status == VmStatus::starting || status == VmStatus::running ||
           status == VmStatus::stopping;
}

Result<VmState, Error> parse_vm_state(std::string_view json_text)
{
    auto json = parse_object(json_text);
    if (!json) {
        return make_error(json.error());
    }
    VmState state;

    auto name = string_field(*json, "name");
    if (!name) {
        return make_error(name.error());
    }
    state.name = std::move(*name);

    const auto pid = integer_field<std::int32_t>(*json, "pid", "a positive integer (a PID)");
    if (!pid || *pid <= 0) {
        return make_error(field_error("pid", "a positive integer (a PID)"));
    }
    state.pid = *pid;

    const auto status_text = string_field(*json, "state");
    if (!status_text) {
        return make_error(status_text.error());
    }
    const auto status = parse_vm_status(*status_text);
    if (!status) {
        return make_error(Error{fmt::format(
            "unknown \"state\": \"{}\" (want starting, running, stopping, stopped or failed)",
            *status_text)});
    }
    state.status = *status;

    // Optional from here on: absent or null is "unknown".
    const auto present = [&json](std::string_view key) {
        const auto found = json->find(key);
        return found != json->end() && !found->is_null();
    };
    if (present("vcpus")) {
        const auto vcpus = integer_field<std::uint32_t>(*json, "vcpus", "a vCPU count");
        if (!vcpus) {
            return make_error(vcpus.error());
        }
        state.vcpus = *vcpus;
    }
    if (present("memory_mib")) {
        const auto memory = integer_field<std::uint64_t>(*json, "memory_mib", "a count of MiB");
        if (!memory) {
            return make_error(memory.error());
        }
        state.memory_mib = *memory;
    }
    if (present("kernel")) {
        auto kernel = string_field(*json, "kernel");
        if (!kernel) {
            return make_error(kernel.error());
        }
        state.kernel = std::move(*kernel);
    }
    if (present("started_at")) {
        const auto started =
            integer_field<std::int64_t>(*json, "started_at", "Unix seconds (an integer)");
        if (!started) {
            return make_error(started.error());
        }
        state.started_at = *started;
    }
    if (present("exit_reason")) {
        auto reason = string_field(*json, "exit_reason");
        if (!reason) {
            return make_error(reason.error());
        }
        state.exit_reason = std::move(*reason);
    }
    return state;
}

std::string format_vm_state(const VmState& state)
{
    Json json;
    json["name"] = state.name;
    json["pid"] = state.pid;
    json["state"] = to_string(state.status);
    json["vcpus"] = state.vcpus;
    json["memory_mib"] = state.memory_mib;
    json["kernel"] = state.kernel;
    json["started_at"] = state.started_at;
    json["exit_reason"] = state.exit_reason ? Json(*state.exit_reason) : Json(nullptr);
    return json.dump() + '\n';
}

Result<VmProcess, Error> parse_vm_process(std::string_view json_text)
{
    const auto json = parse_object(json_text);
    if (!json) {
        return make_error(json.error());
    }
    const auto pid = integer_field<std::int32_t>(*json, "pid", "a positive integer (a PID)");
    if (!pid || *pid <= 0) {
        return make_error(field_error("pid", "a positive integer (a PID)"));
    }
    const auto ticks = integer_field<std::uint64_t>(*json, "start_ticks", "clock ticks after boot");
    if (!ticks) {
        return make_error(ticks.error());
    }
    return VmProcess{.pid = *pid, .start_ticks = *ticks};
}

std::string format_vm_process(const VmProcess& process)
{
    Json json;
    json["pid"] = process.pid;
    json["start_ticks"] = process.start_ticks;
    return json.dump() + '\n';
}

std::optional<ProcessStat> parse_process_stat(std::string_view stat)
{
    const auto paren = stat.rfind(')');
    if (paren == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view rest = stat.substr(paren + 1);
    // rest holds fields 3 onwards, one space before each.
    constexpr int kStateField = 3;
    constexpr int kStartTimeField = 22;
    ProcessStat result;
    for (int field = kStateField; field <= kStartTimeField; ++field) {
        if (rest.size() < 2 || rest.front() != ' ') {
            return std::nullopt;
        }
        rest.remove_prefix(1);
        const auto end = std::min(rest.find_first_of(" \n"), rest.size());
        const std::string_view value = rest.substr(0, end);
        if (field == kStateField) {
            if (value.size() != 1) {
                return std::nullopt;
            }
            result.state = value.front();
        } else if (field == kStartTimeField) {
            const auto ticks = parse_decimal<std::uint64_t>(value);
            if (!ticks) {
                return std::nullopt;
            }
            result.start_ticks = *ticks;
        }
        rest.remove_prefix(end);
    }
    return result;
}

std::optional<std::uint64_t> parse_mem_available_kib(std::string_view meminfo)
{
    constexpr std::string_view kKey = "MemAvailable:";
    std::optional<std::uint64_t> kib;
    for_each_line(meminfo, [&kib, kKey](std::string_view line) {
        if (!line.starts_with(kKey)) {
            return false;
        }
        std::string_view value = trim(line.substr(kKey.size()));
        if (!value.ends_with(" kB")) {
            return true;
        }
        value.remove_suffix(3);
        kib = parse_decimal<std::uint64_t>(trim(value));
        return true;
    });
    return kib;
}

std::uint64_t donatable_mib(std::uint64_t mem_available_kib)
{
    const std::uint64_t mib = mem_available_kib / 1024;
    return mib > kHostReserveMib ? mib - kHostReserveMib : 0;
}

std::optional<std::uint32_t> parse_group_id(std::string_view etc_group, std::string_view group)
{
    std::optional<std::uint32_t> gid;
    for_each_line(etc_group, [&gid, group](std::string_view line) {
        // name:password:gid:members
        const auto name_end = line.find(':');
        if (name_end == std::string_view::npos || line.substr(0, name_end) != group) {
            return false;
        }
        const auto gid_start = line.find(':', name_end + 1);
        if (gid_start == std::string_view::npos) {
            return false;
        }
        const auto gid_end = line.find(':', gid_start + 1);
        gid = parse_decimal<std::uint32_t>(line.substr(gid_start + 1, gid_end - gid_start - 1));
        return gid.has_value();
    });
    return gid;
}

std::string format_uptime(std::int64_t seconds)
{
    constexpr std::int64_t kMinute = 60;
    constexpr std::int64_t kHour = 60 * kMinute;
    constexpr std::int64_t kDay = 24 * kHour;
    seconds = std::max<std::int64_t>(seconds, 0);
    if (seconds < kMinute) {
        return fmt::format("{}s", seconds);
    }
    if (seconds < kHour) {
        return fmt::format("{}m {:02}s", seconds / kMinute, seconds % kMinute);
    }
    if (seconds < kDay) {
        return fmt::format("{}h {:02}m", seconds / kHour, seconds % kHour / kMinute);
    }
    return fmt::format("{}d {:02}h", seconds / kDay, seconds % kDay / kHour);
}

std::string vcpu_count_text(std::uint32_t vcpus)
{
    return vcpus == 1 ? std::string{"1 vCPU"} : fmt::format("{} vCPUs", vcpus);
}

VmListRow make_list_row(std::string name, const Result<VmState, Error>& state,
                        const VmObservation& seen)
{
    VmListRow row;
    row.name = std::move(name);
    if (!state) {
        // Between boxyctl's mkdir and boxy-vm's first state.json.
        row.state = seen.being_started ? "starting" : "unknown";
        if (!seen.being_started) {
            row.error = state.error().message;
        }
        return row;
    }
    row.pid = state->pid;
    row.vcpus = state->vcpus;
    row.memory_mib = state->memory_mib;
    row.kernel = state->kernel;
    if (state->started_at > 0) {
        row.started_at = state->started_at;
    }
    row.exit_reason = state->exit_reason;
    if (is_live(state->status) && !seen.process_alive) {
        row.state = "crashed";
        return row;
    }
    row.state = to_string(state->status);
    if (is_live(state->status) && row.started_at) {
        row.uptime_seconds = std::max<std::int64_t>(seen.now - *row.started_at, 0);
    }
    return row;
}

std::string format_list_table(std::span<const VmListRow> rows)
{
    enum class Align { left, right };
    constexpr std::array kAlign{Align::left,  Align::left, Align::right,
                                Align::right, Align::left, Align::right};
    using Line = std::array<std::string, kAlign.size()>;

    std::vector<Line> lines{Line{"name", "state", "vcpus", "memory", "uptime", "pid"}};
    for (const VmListRow& row : rows) {
        const auto number = [](const auto& value) {
            return value ? fmt::format("{}", *value) : std::string{"-"};
        };
        lines.push_back(Line{
            row.name,
            row.state,
            number(row.vcpus),
            row.memory_mib ? fmt::format("{} MiB", *row.memory_mib) : "-",
            row.uptime_seconds ? format_uptime(*row.uptime_seconds) : "-",
            number(row.pid),
        });
    }

    std::array<std::size_t, kAlign.size()> widths{};
    for (const Line& line : lines) {
        for (std::size_t column = 0; column < line.size(); ++column) {
            widths[column] = std::max(widths[column], line[column].size());
        }
    }
    std::string out;
    for (const Line& line : lines) {
        std::string text;
        for (std::size_t column = 0; column < line.size(); ++column) {
            text += column == 0 ? "" : "  ";
            text += kAlign[column] == Align::left
                        ? fmt::format("{:<{}}", line[column], widths[column])
                        : fmt::format("{:>{}}", line[column], widths[column]);
        }
        text.erase(text.find_last_not_of(' ') + 1);
        out += text;
        out += '\n';
    }
    return out;
}

std::string format_list_json(std::span<const VmListRow> rows)
{
    const auto value = [](const auto& optional) {
        return optional ? Json(*optional) : Json(nullptr);
    };
    Json list = Json::array();
    for (const VmListRow& row : rows) {
        Json entry;
        entry["name"] = row.name;
        entry["state"] = row.state;
        entry["pid"] = value(row.pid);
        entry["vcpus"] = value(row.vcpus);
        entry["memory_mib"] = value(row.memory_mib);
        entry["kernel"] = value(row.kernel);
        entry["started_at"] = value(row.started_at);
        entry["uptime_seconds"] = value(row.uptime_seconds);
        entry["exit_reason"] = value(row.exit_reason);
        entry["error"] = value(row.error);
        list.push_back(std::move(entry));
    }
    return list.dump(2) + '\n';
}

}  // namespace boxy::boxyctl
