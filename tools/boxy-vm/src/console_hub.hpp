// SPDX-License-Identifier: MIT
//
// Where the guest's console output goes: DIR/console.log and every client
// connected to DIR/console.sock.
//   - The log is opened for appending and written with write(2) for every
//     piece of output, so it is on disk (in the page cache) the moment the
//     guest wrote it. At kLogRotateSize it is renamed to console.log.1 (the
//     previous .1 goes) and started afresh, so a chatty guest cannot fill
//     the host's disk.
//   - Each client gets the output from the moment it connected, through a
//     buffer of at most kClientBufferLimit bytes: a client that does not
//     read loses the oldest bytes (counted), and never slows the guest.
// write() is called by vCPU threads; the client side (add, flush, remove)
// by the event loop. Thread-safe.
#pragma once

#include "console_output.hpp"
#include "posix.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>

namespace boxy::vm {

class ConsoleHub final : public ConsoleOutput {
public:
    static constexpr std::size_t kClientBufferLimit = 256 * 1024;
    static constexpr std::uint64_t kLogRotateSize = 64ULL * 1024 * 1024;

    // `wake` is called (from the writing thread) when a client has output
    // to send, so that the event loop polls it for writing.
    ConsoleHub(std::string log_path, std::function<void()> wake,
               std::uint64_t rotate_size = kLogRotateSize);

    // Opens (creates, mode 0660) the log. The error names the file.
    [[nodiscard]] Result<void, std::string> open_log();

    void write(std::span<const std::uint8_t> bytes) override;

    // The event loop's side. `fd` is a connected, non-blocking socket the
    // caller owns.
    void add_client(int fd);
    void remove_client(int fd);
    [[nodiscard]] bool has_pending(int fd) const;
    // Sends what the socket takes now; false when the client is gone.
    [[nodiscard]] bool flush(int fd);

    [[nodiscard]] std::uint64_t dropped_bytes() const;
    [[nodiscard]] std::uint64_t log_errors() const;

private:
    void write_log(std::span<const std::uint8_t> bytes);
    void rotate_log();

    std::string log_path_;
    std::function<void()> wake_;
    std::uint64_t rotate_size_;
    mutable std::mutex mutex_;
    UniqueFd log_;
    std::uint64_t log_size_{0};
    std::map<int, std::string> clients_;  // fd -> bytes not sent yet
    std::uint64_t dropped_bytes_{0};
    std::uint64_t log_errors_{0};
};

}  // namespace boxy::vm
