// SPDX-License-Identifier: MIT
#include "control_protocol.hpp"

#include <utility>

namespace boxy::vm {

ControlCommand parse_control_command(std::string_view line)
{
    if (line == "stop") {
        return ControlCommand::stop;
    }
    if (line == "status") {
        return ControlCommand::status;
    }
    if (line == "registers") {
        return ControlCommand::registers;
    }
    return ControlCommand::unknown;
}

std::vector<std::string> LineSplitter::feed(std::string_view bytes)
{
    std::vector<std::string> lines;
    while (!overflowed_ && !bytes.empty()) {
        const std::size_t end = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, end);
        if (partial_.size() + piece.size() > kMaxLineLength) {
            overflowed_ = true;
            partial_.clear();
            break;
        }
        partial_.append(piece);
        if (end == std::string_view::npos) {
            break;
        }
        bytes.remove_prefix(end + 1);
        if (!partial_.empty() && partial_.back() == '\r') {
            partial_.pop_back();
        }
        lines.push_back(std::move(partial_));
        partial_.clear();
    }
    return lines;
}

}  // namespace boxy::vm
