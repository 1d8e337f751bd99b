// SPDX-License-Identifier: MIT
#include "service_loop.hpp"

#include "unix_socket.hpp"

#include <array>
#include <cerrno>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace boxy::vm {
namespace {

constexpr short kBroken = POLLERR | POLLHUP | POLLNVAL;

// Reads and discards what is there (eventfd counter, signalfd records,
// pipe bytes); a signalfd needs 128 bytes per read.
void drain(int fd)
{
    std::array<char, 512> buffer{};
    (void)::read(fd, buffer.data(), buffer.size());
}

// Sends what the socket takes now of `reply`; false when the client is gone.
bool send_reply(int fd, std::string& reply)
{
    while (!reply.empty()) {
        const ssize_t sent = ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        reply.erase(0, static_cast<std::size_t>(sent));
    }
    return true;
}

}  // namespace

ServiceLoop::ServiceLoop(ConsoleHub& hub, ServiceHandler& handler) : hub_{&hub}, handler_{&handler}
{
}

ServiceLoop::~ServiceLoop()
{
    shut_down();
}

Result<void, std::string> ServiceLoop::listen(const std::string& directory)
{
    wake_ = UniqueFd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    if (!wake_) {
        return make_error(fmt::format("eventfd: {}", errno_text(errno)));
    }
    console_path_ = directory + "/console.sock";
    control_path_ = directory + "/control.sock";
    auto console = listen_unix(console_path_);
    if (!console) {
        return make_error(console.error());
    }
    console_listener_ = std::move(console).value();
    auto control = listen_unix(control_path_);
    if (!control) {
        return make_error(control.error());
    }
    control_listener_ = std::move(control).value();
    return {};
}

void ServiceLoop::wake()
{
    if (wake_) {
        const std::uint64_t one = 1;
        (void)::write(wake_.get(), &one, sizeof(one));  // EAGAIN: already awake
    }
}

Result<void, std::string> ServiceLoop::run(int terminate_fd)
{
    std::vector<pollfd> fds;
    while (!handler_->stopping()) {
        fds.clear();
        fds.push_back({wake_.get(), POLLIN, 0});
        fds.push_back({terminate_fd, POLLIN, 0});
        fds.push_back({console_listener_.get(), POLLIN, 0});
        fds.push_back({control_listener_.get(), POLLIN, 0});
        for (const auto& [fd, socket] : console_clients_) {
            const short out = hub_->has_pending(fd) ? POLLOUT : 0;
            fds.push_back({fd, static_cast<short>(POLLIN | out), 0});
        }
        for (const auto& [fd, entry] : control_clients_) {
            const short out = entry.second.reply.empty() ? 0 : POLLOUT;
            // A client being closed is only written to.
            const short in = entry.second.close_after_reply ? 0 : POLLIN;
            fds.push_back({fd, static_cast<short>(in | out), 0});
        }
        const int ready = ::poll(fds.data(), fds.size(), -1);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_error(fmt::format("poll: {}", errno_text(errno)));
        }
        if (fds[0].revents != 0) {
            drain(wake_.get());
        }
        if (terminate_fd >= 0 && fds[1].revents != 0) {
            drain(terminate_fd);
            handler_->terminate();
        }
        if (fds[2].revents != 0) {
            accept_console();
        }
        if (fds[3].revents != 0) {
            accept_control();
        }
        for (std::size_t i = 4; i < fds.size(); ++i) {
            const int fd = fds[i].fd;
            const short events = fds[i].revents;
            if (events == 0) {
                continue;
            }
            if (console_clients_.contains(fd)) {
                if (!serve_console(fd, events)) {
                    hub_->remove_client(fd);
                    console_clients_.erase(fd);
                }
            } else if (control_clients_.contains(fd)) {
                if (!serve_control(fd, events)) {
                    control_clients_.erase(fd);
                }
            }
        }
    }
    return {};
}

void ServiceLoop::accept_console()
{
    for (UniqueFd client = accept_client(console_listener_.get()); client;
         client = accept_client(console_listener_.get())) {
        if (console_clients_.size() >= kMaxClients) {
            continue;  // closed at once: the client sees end of file
        }
        const int fd = client.get();
        hub_->add_client(fd);
        console_clients_.emplace(fd, std::move(client));
    }
}

void ServiceLoop::accept_control()
{
    for (UniqueFd client = accept_client(control_listener_.get()); client;
         client = accept_client(control_listener_.get())) {
        if (control_clients_.size() >= kMaxClients) {
            continue;
        }
        const int fd = client.get();
        control_clients_.emplace(fd, std::make_pair(std::move(client), ControlClient{}));
    }
}

bool ServiceLoop::serve_console(int fd, short events)
{
    if ((events & POLLIN) != 0) {
        std::array<std::uint8_t, kReadChunk> buffer{};
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got == 0) {
            return false;  // the client left
        }
        if (got > 0) {
            handler_->console_input(std::span{buffer}.first(static_cast<std::size_t>(got)));
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return false;
        }
    } else if ((events & kBroken) != 0) {
        return false;
    }
    if ((events & POLLOUT) != 0) {
        return hub_->flush(fd);
    }
    return true;
}

bool ServiceLoop::serve_control(int fd, short events)
{
    ControlClient& client = control_clients_.at(fd).second;
    if ((events & POLLIN) != 0 && !client.close_after_reply) {
        std::array<char, kReadChunk> buffer{};
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got == 0) {
            return false;
        }
        if (got < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        }
        for (const std::string& line :
             client.lines.feed({buffer.data(), static_cast<std::size_t>(got)})) {
            client.reply += handler_->control(parse_control_command(line));
        }
        if (client.lines.overflowed()) {
            client.reply += kLineTooLongReply;
            client.close_after_reply = true;
        }
    } else if ((events & kBroken) != 0 && (events & POLLOUT) == 0) {
        return false;
    }
    if (!send_reply(fd, client.reply)) {
        return false;
    }
    return !(client.close_after_reply && client.reply.empty());
}

void ServiceLoop::shut_down()
{
    for (const auto& [fd, socket] : console_clients_) {
        (void)hub_->flush(fd);
        hub_->remove_client(fd);
    }
    console_clients_.clear();
    for (auto& [fd, entry] : control_clients_) {
        (void)send_reply(fd, entry.second.reply);
    }
    control_clients_.clear();
    if (console_listener_) {
        console_listener_.reset();
        (void)::unlink(console_path_.c_str());
    }
    if (control_listener_) {
        control_listener_.reset();
        (void)::unlink(control_path_.c_str());
    }
}

}  // namespace boxy::vm
