// SPDX-License-Identifier: MIT
//
// The control socket's line protocol (DIR/control.sock), parsed into typed
// commands. A client sends lines ending in "\n" ("\r\n" is accepted); each
// gets exactly one answer line:
//   stop    -> "ok" once the guest has been asked to shut down (Ctrl-Alt-Del
//              on its keyboard), or "error: <why>" when it cannot be asked
//   status  -> state.json's object
//   other   -> "error: unknown command"
// A line longer than kMaxLineLength gets "error: line too long" and the
// connection is closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boxy::vm {

// stop: "ok" once Ctrl-Alt-Del is sent; status: state.json's JSON;
// registers: each vCPU's exit counts and registers, then "ok".
enum class ControlCommand : std::uint8_t { stop, status, registers, unknown };

[[nodiscard]] ControlCommand parse_control_command(std::string_view line);

inline constexpr std::string_view kUnknownCommandReply = "error: unknown command\n";
inline constexpr std::string_view kLineTooLongReply = "error: line too long\n";

// Splits a byte stream into lines, bounded.
class LineSplitter {
public:
    static constexpr std::size_t kMaxLineLength = 1024;

    // Appends `bytes`; complete lines (without "\n" or "\r\n") are returned.
    // After an overlong line, overflowed() is true and nothing more is taken.
    [[nodiscard]] std::vector<std::string> feed(std::string_view bytes);
    [[nodiscard]] bool overflowed() const { return overflowed_; }

private:
    std::string partial_;
    bool overflowed_{false};
};

}  // namespace boxy::vm
