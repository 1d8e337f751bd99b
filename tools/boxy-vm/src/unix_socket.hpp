// SPDX-License-Identifier: MIT
//
// Unix stream sockets for DIR/console.sock and DIR/control.sock.
#pragma once

#include "posix.hpp"

#include <boxy/result.hpp>

#include <string>

namespace boxy::vm {

// The longest socket path (sockaddr_un.sun_path, without its NUL).
[[nodiscard]] std::size_t max_socket_path();

// A listening, non-blocking socket at `path`. A stale socket there (a
// previous boxy-vm's) is removed first; any other file is an error.
[[nodiscard]] Result<UniqueFd, std::string> listen_unix(const std::string& path);
// A connected socket (blocking), for clients and tests.
[[nodiscard]] Result<UniqueFd, std::string> connect_unix(const std::string& path);
// The next pending connection, non-blocking; none when there is none.
[[nodiscard]] UniqueFd accept_client(int listener);

}  // namespace boxy::vm
