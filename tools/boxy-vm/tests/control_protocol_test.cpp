// SPDX-License-Identifier: MIT
#include "control_protocol.hpp"

#include <catch2/catch.hpp>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity

TEST_CASE("control: commands", "[control]")
{
    CHECK(parse_control_command("stop") == ControlCommand::stop);
    CHECK(parse_control_command("status") == ControlCommand::status);
    CHECK(parse_control_command("registers") == ControlCommand::registers);
    CHECK(parse_control_command("registers 0") == ControlCommand::unknown);
    CHECK(parse_control_command("") == ControlCommand::unknown);
    CHECK(parse_control_command("STOP") == ControlCommand::unknown);
    CHECK(parse_control_command(" stop") == ControlCommand::unknown);
    CHECK(parse_control_command("stop now") == ControlCommand::unknown);
    CHECK(parse_control_command(std::string_view{"stop\0", 5}) == ControlCommand::unknown);
}

TEST_CASE("control: lines split across reads, CRLF, several per read", "[control]")
{
    LineSplitter lines;
    CHECK(lines.feed("sta").empty());
    CHECK(lines.feed("tus\nst") == std::vector<std::string>{"status"});
    CHECK(lines.feed("op\r\n\nstatus\n") == std::vector<std::string>{"stop", "", "status"});
    CHECK_FALSE(lines.overflowed());
}

TEST_CASE("control: an overlong line stops the connection", "[control][malformed]")
{
    LineSplitter lines;
    const std::string chunk(LineSplitter::kMaxLineLength / 2, 'x');
    CHECK(lines.feed(chunk).empty());
    CHECK(lines.feed(chunk).empty());
    CHECK_FALSE(lines.overflowed());  // exactly the limit is fine
    CHECK(lines.feed("x").empty());
    CHECK(lines.overflowed());
    CHECK(lines.feed("\nstop\n").empty());  // nothing more is taken

    LineSplitter at_limit;
    CHECK(at_limit.feed(std::string(LineSplitter::kMaxLineLength, 'y') + "\n").size() == 1);
}
