// SPDX-License-Identifier: MIT
//
// DIR/state.json: what boxyctl (tools/boxyctl/vm_state.hpp) and users read
// about a running VM. One JSON object on one line, keys in a fixed order:
//   {"name", "pid", "state", "vcpus", "memory_mib", "kernel", "started_at",
//    "exit_reason"}
// state is starting | running | stopping | stopped | failed; exit_reason
// is present only once stopped or failed. The file is rewritten on every
// change through a temporary file and rename(2), so a reader sees the old
// or the new state, never a mix.
#pragma once

#include <boxy/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace boxy::vm {

enum class VmState : std::uint8_t { starting, running, stopping, stopped, failed };

[[nodiscard]] std::string_view to_string(VmState state);

struct VmStatus {
    std::string name;
    std::int64_t pid{0};
    VmState state{VmState::starting};
    std::uint32_t vcpus{0};
    std::uint64_t memory_mib{0};
    std::string kernel;          // the path as given
    std::int64_t started_at{0};  // Unix seconds
    std::string exit_reason;     // "poweroff", "reset", "triple fault", "killed", "error: ..."
};

// The JSON object, without a newline (the control socket's status answer
// and state.json's content, which adds one).
[[nodiscard]] std::string to_json(const VmStatus& status);

// Writes DIR/state.json atomically (DIR/.state.json.tmp, mode 0660, then
// rename). The error names the file and the cause.
[[nodiscard]] Result<void, std::string> write_state_file(const std::string& directory,
                                                         const VmStatus& status);

}  // namespace boxy::vm
