// SPDX-License-Identifier: MIT
#include "console_hub.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <sys/socket.h>
#include <unistd.h>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::TempDir;

namespace {

std::span<const std::uint8_t> bytes_of(const std::string& text)
{
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// A connected pair: the hub's end (non-blocking) and the client's.
struct Client {
    UniqueFd hub_end;
    UniqueFd client_end;

    Client()
    {
        std::array<int, 2> fds{};
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds.data()) == 0);
        hub_end.reset(fds[0]);
        client_end.reset(fds[1]);
    }
    std::string receive() const
    {
        std::string text;
        std::array<char, 65536> buffer{};
        for (;;) {
            const ssize_t got = ::recv(client_end.get(), buffer.data(), buffer.size(), 0);
            if (got <= 0) {
                return text;
            }
            text.append(buffer.data(), static_cast<std::size_t>(got));
        }
    }
};

}  // namespace

TEST_CASE("console hub: the log gets everything, appended", "[console_hub]")
{
    TempDir dir;
    dir.write("console.log", {'o', 'l', 'd', '\n'});
    int wakes = 0;
    ConsoleHub hub{dir.file("console.log"), [&] { ++wakes; }};
    REQUIRE(hub.open_log());
    hub.write(bytes_of("Linux version 6.1\n"));
    hub.write(bytes_of("login: "));
    CHECK(dir.read("console.log") == "old\nLinux version 6.1\nlogin: ");
    CHECK(wakes == 0);  // no client to wake the loop for
}

TEST_CASE("console hub: clients get output from when they connect", "[console_hub]")
{
    TempDir dir;
    int wakes = 0;
    ConsoleHub hub{dir.file("console.log"), [&] { ++wakes; }};
    REQUIRE(hub.open_log());
    hub.write(bytes_of("before"));
    Client first;
    Client second;
    hub.add_client(first.hub_end.get());
    hub.write(bytes_of("one "));
    hub.add_client(second.hub_end.get());
    hub.write(bytes_of("two"));
    CHECK(wakes == 2);
    CHECK(hub.has_pending(first.hub_end.get()));
    REQUIRE(hub.flush(first.hub_end.get()));
    REQUIRE(hub.flush(second.hub_end.get()));
    CHECK_FALSE(hub.has_pending(first.hub_end.get()));
    CHECK(first.receive() == "one two");
    CHECK(second.receive() == "two");
    hub.remove_client(first.hub_end.get());
    hub.write(bytes_of("three"));
    CHECK_FALSE(hub.has_pending(first.hub_end.get()));
    CHECK_FALSE(hub.flush(first.hub_end.get()));  // not a client any more
}

TEST_CASE("console hub: a client that does not read loses the oldest bytes", "[console_hub]")
{
    TempDir dir;
    ConsoleHub hub{dir.file("console.log"), nullptr};
    REQUIRE(hub.open_log());
    Client slow;
    hub.add_client(slow.hub_end.get());
    const std::string block(ConsoleHub::kClientBufferLimit / 4, 'a');
    for (int i = 0; i < 5; ++i) {
        hub.write(bytes_of(block));
    }
    hub.write(bytes_of("END"));
    CHECK(hub.dropped_bytes() == block.size() + 3);
    // One write larger than the buffer keeps its tail.
    const std::string huge(ConsoleHub::kClientBufferLimit + 7, 'b');
    hub.write(bytes_of(huge + "TAIL"));
    CHECK(hub.dropped_bytes() == block.size() + 3 + ConsoleHub::kClientBufferLimit + 11);
    std::string received;
    while (hub.has_pending(slow.hub_end.get())) {
        REQUIRE(hub.flush(slow.hub_end.get()));
        received += slow.receive();
    }
    CHECK(received.size() == ConsoleHub::kClientBufferLimit);
    CHECK(received.substr(received.size() - 4) == "TAIL");
    // The log has all of it.
    CHECK(dir.read("console.log").size() == 5 * block.size() + 3 + huge.size() + 4);
}

TEST_CASE("console hub: a client that went away is reported", "[console_hub]")
{
    TempDir dir;
    ConsoleHub hub{dir.file("console.log"), nullptr};
    REQUIRE(hub.open_log());
    Client gone;
    hub.add_client(gone.hub_end.get());
    gone.client_end.reset();
    hub.write(bytes_of("anyone?"));
    CHECK_FALSE(hub.flush(gone.hub_end.get()));
}

TEST_CASE("console hub: the log rotates at its size limit", "[console_hub]")
{
    TempDir dir;
    ConsoleHub hub{dir.file("console.log"), nullptr, 10};
    REQUIRE(hub.open_log());
    hub.write(bytes_of("0123456789"));
    hub.write(bytes_of("abc"));
    CHECK(dir.read("console.log.1") == "0123456789");
    CHECK(dir.read("console.log") == "abc");
    hub.write(bytes_of("defghijklm"));
    hub.write(bytes_of("n"));
    CHECK(dir.read("console.log.1") == "abcdefghijklm");
    CHECK(dir.read("console.log") == "n");
    CHECK(hub.log_errors() == 0);
}

TEST_CASE("console hub: an unwritable log is an error naming it", "[console_hub]")
{
    TempDir dir;
    ConsoleHub hub{dir.file("missing/console.log"), nullptr};
    auto opened = hub.open_log();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().find("missing/console.log") != std::string::npos);
    hub.write(bytes_of("lost, but no crash"));
}
