// SPDX-License-Identifier: MIT
#include "state_file.hpp"

#include "posix.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace boxy::vm {

std::string_view to_string(VmState state)
{
    switch (state) {
        case VmState::starting: return "starting";
        case VmState::running: return "running";
        case VmState::stopping: return "stopping";
        case VmState::stopped: return "stopped";
        case VmState::failed: return "failed";
    }
    return "failed";
}

std::string to_json(const VmStatus& status)
{
    // ordered_json: the keys in the documented order, as boxyctl writes them.
    nlohmann::ordered_json json;
    json["name"] = status.name;
    json["pid"] = status.pid;
    json["state"] = to_string(status.state);
    json["vcpus"] = status.vcpus;
    json["memory_mib"] = status.memory_mib;
    json["kernel"] = status.kernel;
    json["started_at"] = status.started_at;
    if (status.state == VmState::stopped || status.state == VmState::failed) {
        json["exit_reason"] = status.exit_reason;
    }
    // Invalid UTF-8 (a kernel path is any bytes) is replaced, not thrown.
    return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<void, std::string> write_state_file(const std::string& directory, const VmStatus& status)
{
    const std::string path = directory + "/state.json";
    const std::string temporary = directory + "/.state.json.tmp";
    const std::string text = to_json(status) + "\n";
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    UniqueFd fd{::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660)};
    if (!fd) {
        return make_error(fmt::format("cannot write {}: {}", temporary, errno_text(errno)));
    }
    if (!write_all(fd.get(), text)) {
        return make_error(fmt::format("cannot write {}: {}", temporary, errno_text(errno)));
    }
    fd.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        return make_error(
            fmt::format("cannot rename {} to {}: {}", temporary, path, errno_text(errno)));
    }
    return {};
}

}  // namespace boxy::vm
