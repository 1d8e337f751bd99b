// SPDX-License-Identifier: MIT
//
// The event loop over real Unix sockets in a temporary directory, with a
// handler that records what reaches it.
#include "service_loop.hpp"

#include "temp_dir.hpp"
#include "unix_socket.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::TempDir;

namespace {

class RecordingHandler final : public ServiceHandler {
public:
    void console_input(std::span<const std::uint8_t> bytes) override
    {
        const std::lock_guard lock{mutex};
        input.append(bytes.begin(), bytes.end());
    }
    std::string control(ControlCommand command) override
    {
        switch (command) {
            case ControlCommand::stop: ++stops; return "ok\n";
            case ControlCommand::status: return "{\"state\":\"running\"}\n";
            case ControlCommand::registers: return "vCPU 0\nok\n";
            case ControlCommand::unknown: break;
        }
        return std::string{kUnknownCommandReply};
    }
    void terminate() override { stop.store(true); }
    bool stopping() const override { return stop.load(); }

    std::string received()
    {
        const std::lock_guard lock{mutex};
        return input;
    }

    std::mutex mutex;
    std::string input;
    std::atomic<int> stops{0};
    std::atomic<bool> stop{false};
};

// Reads until `want` bytes came or 5 s passed.
std::string receive(int fd, std::size_t want)
{
    std::string text;
    std::array<char, 4096> buffer{};
    for (int i = 0; i < 500 && text.size() < want; ++i) {
        pollfd entry{fd, POLLIN, 0};
        if (::poll(&entry, 1, 10) <= 0) {
            continue;
        }
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (got <= 0) {
            break;
        }
        text.append(buffer.data(), static_cast<std::size_t>(got));
    }
    return text;
}

void send_text(int fd, const std::string& text)
{
    REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
}

struct Served {
    TempDir dir;
    RecordingHandler handler;
    ConsoleHub hub{dir.file("console.log"), [this] { loop.wake(); }};
    ServiceLoop loop{hub, handler};
    std::array<int, 2> terminate{-1, -1};
    std::thread thread;
    std::atomic<bool> run_ok{false};

    Served()
    {
        REQUIRE(hub.open_log());
        REQUIRE(loop.listen(dir.path()));
        REQUIRE(::pipe(terminate.data()) == 0);
        // No Catch2 assertions off the main thread: a flag, checked in stop().
        thread = std::thread{[this] { run_ok = static_cast<bool>(loop.run(terminate[0])); }};
    }
    Served(const Served&) = delete;
    Served& operator=(const Served&) = delete;
    Served(Served&&) = delete;
    Served& operator=(Served&&) = delete;
    ~Served()
    {
        stop();
        ::close(terminate[0]);
        ::close(terminate[1]);
    }
    void stop()
    {
        if (thread.joinable()) {
            REQUIRE(::write(terminate[1], "x", 1) == 1);
            thread.join();
            CHECK(run_ok);
        }
    }
    UniqueFd connect(const char* socket)
    {
        auto fd = connect_unix(dir.file(socket));
        REQUIRE(fd);
        return std::move(fd).value();
    }
};

std::span<const std::uint8_t> bytes_of(const std::string& text)
{
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

TEST_CASE("service loop: control commands get one line each", "[service_loop]")
{
    Served s;
    UniqueFd control = s.connect("control.sock");
    send_text(control.get(), "status\nbogus\r\nst");
    const std::string expected = "{\"state\":\"running\"}\nerror: unknown command\n";
    CHECK(receive(control.get(), expected.size()) == expected);
    send_text(control.get(), "op\n");
    CHECK(receive(control.get(), 3) == "ok\n");
    CHECK(s.handler.stops == 1);
    // A second client at the same time.
    UniqueFd other = s.connect("control.sock");
    send_text(other.get(), "stop\n");
    CHECK(receive(other.get(), 3) == "ok\n");
}

TEST_CASE("service loop: an overlong control line closes the connection",
          "[service_loop][malformed]")
{
    Served s;
    UniqueFd control = s.connect("control.sock");
    send_text(control.get(), std::string(5000, 'A'));
    CHECK(receive(control.get(), 100) == "error: line too long\n");
    std::array<char, 16> buffer{};
    // Closed (EOF, or ECONNRESET for the bytes it never read).
    CHECK(::recv(control.get(), buffer.data(), buffer.size(), 0) <= 0);
    // The loop still serves others.
    UniqueFd next = s.connect("control.sock");
    send_text(next.get(), "status\n");
    CHECK(receive(next.get(), 20) == "{\"state\":\"running\"}\n");
}

TEST_CASE("service loop: console clients see output and send input", "[service_loop]")
{
    Served s;
    s.hub.write(bytes_of("nobody sees this"));
    UniqueFd first = s.connect("console.sock");
    // The loop accepts asynchronously: wait until an echo of input shows it
    // is registered.
    send_text(first.get(), "ls\n");
    for (int i = 0; i < 500 && s.handler.received().empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    CHECK(s.handler.received() == "ls\n");
    s.hub.write(bytes_of("bin etc\n"));
    CHECK(receive(first.get(), 8) == "bin etc\n");

    UniqueFd second = s.connect("console.sock");
    send_text(second.get(), "x");
    for (int i = 0; i < 500 && s.handler.received().size() < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    s.hub.write(bytes_of("both"));
    CHECK(receive(first.get(), 4) == "both");
    CHECK(receive(second.get(), 4) == "both");
    first.reset();  // one leaves; the other stays served
    s.hub.write(bytes_of("still"));
    CHECK(receive(second.get(), 5) == "still");
    CHECK(s.dir.read("console.log") == "nobody sees thisbin etc\nbothstill");
}

TEST_CASE("service loop: terminate ends it; shut_down removes the sockets", "[service_loop]")
{
    Served s;
    struct stat info {};
    REQUIRE(::stat(s.dir.file("control.sock").c_str(), &info) == 0);
    CHECK(S_ISSOCK(info.st_mode));
    CHECK((info.st_mode & 0777) == 0660);
    s.stop();
    CHECK(s.handler.stopping());
    s.loop.shut_down();
    CHECK_FALSE(s.dir.exists("console.sock"));
    CHECK_FALSE(s.dir.exists("control.sock"));
}

TEST_CASE("service loop: a stale socket is replaced, other files are not", "[service_loop]")
{
    TempDir dir;
    {
        auto stale = listen_unix(dir.file("console.sock"));
        REQUIRE(stale);
    }  // closed: the file stays, as after a crash
    CHECK(dir.exists("console.sock"));
    RecordingHandler handler;
    ConsoleHub hub{dir.file("console.log"), nullptr};
    ServiceLoop loop{hub, handler};
    CHECK(loop.listen(dir.path()));
    loop.shut_down();

    dir.write("control.sock", {'x'});
    ServiceLoop blocked{hub, handler};
    auto refused = blocked.listen(dir.path());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("not a socket") != std::string::npos);
}
