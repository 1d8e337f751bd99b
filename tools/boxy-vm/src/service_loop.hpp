// SPDX-License-Identifier: MIT
//
// The process's event loop (one thread, poll(2)): the console and control
// sockets of the VM directory, the console clients' output, a wake-up
// eventfd for the other threads, and a terminate descriptor (a signalfd
// for SIGTERM/SIGINT in the process, a pipe in the tests).
//
//   DIR/console.sock  any number of clients (up to kMaxClients each); each
//                     receives console output from when it connected
//                     (ConsoleHub); what it sends goes to the guest's
//                     console input.
//   DIR/control.sock  the line protocol of control_protocol.hpp.
//
// What the commands and input do is the handler's business.
#pragma once

#include "console_hub.hpp"
#include "control_protocol.hpp"
#include "posix.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>

namespace boxy::vm {

class ServiceHandler {
public:
    ServiceHandler() = default;
    ServiceHandler(const ServiceHandler&) = delete;
    ServiceHandler& operator=(const ServiceHandler&) = delete;
    ServiceHandler(ServiceHandler&&) = delete;
    ServiceHandler& operator=(ServiceHandler&&) = delete;
    virtual ~ServiceHandler() = default;

    virtual void console_input(std::span<const std::uint8_t> bytes) = 0;
    // The answer line, with its "\n".
    [[nodiscard]] virtual std::string control(ControlCommand command) = 0;
    // The terminate descriptor became readable (SIGTERM, SIGINT).
    virtual void terminate() = 0;
    // Checked after every wake-up: true ends run().
    [[nodiscard]] virtual bool stopping() const = 0;
};

class ServiceLoop {
public:
    static constexpr std::size_t kMaxClients = 64;  // per socket
    static constexpr std::size_t kReadChunk = 4096;

    ServiceLoop(ConsoleHub& hub, ServiceHandler& handler);
    ServiceLoop(const ServiceLoop&) = delete;
    ServiceLoop& operator=(const ServiceLoop&) = delete;
    ServiceLoop(ServiceLoop&&) = delete;
    ServiceLoop& operator=(ServiceLoop&&) = delete;
    ~ServiceLoop();

    // Creates the wake-up eventfd and DIR/console.sock, DIR/control.sock.
    [[nodiscard]] Result<void, std::string> listen(const std::string& directory);
    // From any thread: make run() look at the handler and the hub again.
    void wake();
    // Serves until handler.stopping(); errors of poll(2) end it too.
    [[nodiscard]] Result<void, std::string> run(int terminate_fd);
    // One last non-blocking flush of pending console output, then closes
    // every client and removes the sockets.
    void shut_down();

private:
    struct ControlClient {
        LineSplitter lines;
        std::string reply;  // not sent yet
        bool close_after_reply{false};
    };

    void accept_console();
    void accept_control();
    bool serve_console(int fd, short events);
    bool serve_control(int fd, short events);

    ConsoleHub* hub_;
    ServiceHandler* handler_;
    UniqueFd wake_;
    UniqueFd console_listener_;
    UniqueFd control_listener_;
    std::string console_path_;
    std::string control_path_;
    std::map<int, UniqueFd> console_clients_;
    std::map<int, std::pair<UniqueFd, ControlClient>> control_clients_;
};

}  // namespace boxy::vm
