// SPDX-License-Identifier: MIT
#include "unix_socket.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace boxy::vm {
namespace {

constexpr int kBacklog = 16;

Result<sockaddr_un, std::string> address_of(const std::string& path)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() > max_socket_path()) {
        return make_error(fmt::format("{}: path longer than the {} bytes a Unix socket takes", path,
                                      max_socket_path()));
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

// sockaddr_un is a sockaddr for bind/connect: the sockets API's own cast.
const sockaddr* as_sockaddr(const sockaddr_un& address)
{
    return reinterpret_cast<const sockaddr*>(&address);
}

}  // namespace

std::size_t max_socket_path()
{
    return sizeof(sockaddr_un::sun_path) - 1;
}

Result<UniqueFd, std::string> listen_unix(const std::string& path)
{
    auto address = address_of(path);
    if (!address) {
        return make_error(address.error());
    }
    struct stat info {};
    if (::lstat(path.c_str(), &info) == 0) {
        if (!S_ISSOCK(info.st_mode)) {
            return make_error(fmt::format("{} exists and is not a socket", path));
        }
        if (::unlink(path.c_str()) != 0) {
            return make_error(fmt::format("cannot remove stale {}: {}", path, errno_text(errno)));
        }
    }
    UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (!fd) {
        return make_error(fmt::format("socket: {}", errno_text(errno)));
    }
    if (::bind(fd.get(), as_sockaddr(*address), sizeof(sockaddr_un)) != 0) {
        return make_error(fmt::format("cannot bind {}: {}", path, errno_text(errno)));
    }
    // Owner and group (boxyctl's directory is set-group-ID boxy): 0660.
    if (::chmod(path.c_str(), 0660) != 0 || ::listen(fd.get(), kBacklog) != 0) {
        return make_error(fmt::format("cannot listen on {}: {}", path, errno_text(errno)));
    }
    return fd;
}

Result<UniqueFd, std::string> connect_unix(const std::string& path)
{
    auto address = address_of(path);
    if (!address) {
        return make_error(address.error());
    }
    UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd) {
        return make_error(fmt::format("socket: {}", errno_text(errno)));
    }
    if (::connect(fd.get(), as_sockaddr(*address), sizeof(sockaddr_un)) != 0) {
        return make_error(fmt::format("cannot connect to {}: {}", path, errno_text(errno)));
    }
    return fd;
}

UniqueFd accept_client(int listener)
{
    for (;;) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0 || errno != EINTR) {
            return UniqueFd{fd};
        }
    }
}

}  // namespace boxy::vm
