// SPDX-License-Identifier: MIT
//
// A fake boxy-vm for boxyctl's end-to-end test (vm_flow.sh): the boxy-vm
// protocol (README.md "Service VMs") without a VM. The first line of the
// --kernel file picks what it does:
//   bad-kernel   bad input: "boxy-vm: error: ..." on stderr, exit 2, nothing
//                created
//   fail         "error: ..." on the ready fd, exit 1
//   hang         never ready
//   ignore-stop  runs, answers "ok" to stop but does not shut down;
//                SIGTERM ends it
//   stubborn     like ignore-stop, and SIGTERM is ignored too
//   anything     runs: the guest prints a banner and answers every console
//                line with "guest got: <line>"; stop shuts it down
// Like the real one, SIGTERM ends the VM as stopped, "killed", and the
// sockets go when it ends.
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace {

struct Options {
    std::string name;
    std::string kernel;
    std::string memory;
    std::string vcpus;
    std::string state_dir;
    int ready_fd = -1;
};

struct Client {
    bool control = false;
    std::string pending;  // a partial line
};

Options options;
std::string status = "starting";
std::string exit_reason;
long long started_at = 0;
std::vector<int> console_clients;

[[noreturn]] void usage_error(const std::string& message)
{
    std::fprintf(stderr, "boxy-vm: error: %s\n", message.c_str());
    std::exit(2);
}

std::string path(const char* file)
{
    return options.state_dir + "/" + file;
}

void write_fd(int fd, const std::string& text)
{
    (void)!::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::string state_json()
{
    std::string json = "{\"name\":\"" + options.name + "\",\"pid\":" + std::to_string(::getpid()) +
                       ",\"state\":\"" + status + "\",\"vcpus\":" + options.vcpus +
                       ",\"memory_mib\":" + options.memory + ",\"kernel\":\"" + options.kernel +
                       "\",\"started_at\":" + std::to_string(started_at) + ",\"exit_reason\":";
    json += exit_reason.empty() ? "null" : "\"" + exit_reason + "\"";
    return json + "}";
}

void write_state(const std::string& new_status)
{
    status = new_status;
    const std::string temporary = path("state.json.fake");
    {
        std::ofstream out{temporary};
        out << state_json() << '\n';
    }
    std::rename(temporary.c_str(), path("state.json").c_str());
}

// What the guest prints: to console.log and every console client.
void guest_says(const std::string& text)
{
    std::ofstream{path("console.log"), std::ios::app} << text;
    for (const int client : console_clients) {
        write_fd(client, text);
    }
}

int listen_on(const char* file)
{
    const std::string socket_path = path(file);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::unlink(socket_path.c_str());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd, 8) != 0) {
        std::fprintf(stderr, "boxy-vm: cannot listen on %s: %s\n", socket_path.c_str(),
                     std::strerror(errno));
        std::exit(1);
    }
    return fd;
}

void parse(int argc, char** argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (i + 1 == args.size()) {
            usage_error("missing value of " + args[i]);
        }
        const std::string& value = args[++i];
        const std::string& key = args[i - 1];
        if (key == "--name") {
            options.name = value;
        } else if (key == "--kernel") {
            options.kernel = value;
        } else if (key == "--memory") {
            options.memory = value;
        } else if (key == "--vcpus") {
            options.vcpus = value;
        } else if (key == "--state-dir") {
            options.state_dir = value;
        } else if (key == "--ready-fd") {
            options.ready_fd = std::atoi(value.c_str());
        } else if (key != "--initrd" && key != "--cmdline" && key != "--device") {
            usage_error("unknown option " + key);
        }
    }
    if (options.name.empty() || options.kernel.empty() || options.memory.empty() ||
        options.vcpus.empty() || options.state_dir.empty()) {
        usage_error("--name, --kernel, --memory, --vcpus and --state-dir are required");
    }
}

[[noreturn]] void stop_vm(const char* reason)
{
    exit_reason = reason;
    write_state("stopped");
    ::unlink(path("console.sock").c_str());
    ::unlink(path("control.sock").c_str());
    std::exit(0);
}

volatile std::sig_atomic_t terminated = 0;

extern "C" void note_terminate(int /*signal*/)
{
    terminated = 1;
}

// The console's and control's lines.
void handle_line(int fd, const Client& client, const std::string& line, bool ignore_stop)
{
    if (!client.control) {
        guest_says("guest got: " + line + "\n");
        return;
    }
    if (line == "status") {
        write_fd(fd, state_json() + "\n");
    } else if (line == "stop") {
        write_fd(fd, "ok\n");
        if (ignore_stop) {
            return;
        }
        write_state("stopping");
        guest_says("fake guest: shutting down\n");
        stop_vm("guest shut down");
    } else {
        write_fd(fd, "error: unknown command\n");
    }
}

// How boxyctl started it, for vm_flow.sh to check: its arguments, open
// descriptors, session, stdin, umask and directory.
void report_surroundings(int argc, char** argv)
{
    std::string line = "boxy-vm (fake): args:";
    for (int i = 1; i < argc; ++i) {
        line += std::string{" ["} + argv[i] + "]";
    }
    std::printf("%s\n", line.c_str());

    std::string fds;
    for (int fd = 0; fd < 1024; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0) {
            fds += (fds.empty() ? "" : ",") + std::to_string(fd);
        }
    }
    std::array<char, 256> stdin_target{};
    (void)!::readlink("/proc/self/fd/0", stdin_target.data(), stdin_target.size() - 1);
    const mode_t mask = ::umask(0);
    ::umask(mask);
    std::array<char, 256> cwd{};
    (void)!::getcwd(cwd.data(), cwd.size());
    std::printf("boxy-vm (fake): fds=%s session_leader=%s stdin=%s umask=%03o cwd=%s\n",
                fds.c_str(), ::getsid(0) == ::getpid() ? "yes" : "no", stdin_target.data(),
                static_cast<unsigned>(mask), cwd.data());
}

}  // namespace

int main(int argc, char** argv)
{
    parse(argc, argv);
    std::string behaviour;
    {
        std::ifstream kernel{options.kernel};
        if (!kernel) {
            usage_error(options.kernel + ": cannot read the kernel");
        }
        std::getline(kernel, behaviour);
    }
    if (behaviour == "bad-kernel") {
        usage_error(options.kernel + ": not a bzImage (no \"HdrS\" signature)");
    }
    std::printf("boxy-vm (fake): starting %s\n", options.name.c_str());
    report_surroundings(argc, argv);
    std::fflush(stdout);
    const auto ready = [](const std::string& line) {
        (void)!::write(options.ready_fd, line.data(), line.size());
        ::close(options.ready_fd);
    };
    if (behaviour == "fail") {
        std::printf("boxy-vm (fake): VM_CREATE failed\n");
        ready("error: boxy.ko refused VM_CREATE: Cannot allocate memory\n");
        return 1;
    }
    started_at = static_cast<long long>(std::time(nullptr));
    write_state("starting");
    if (behaviour == "hang") {
        for (;;) {
            ::pause();
        }
    }
    guest_says("fake guest: booting " + options.name + "\n");
    const int console_listener = listen_on("console.sock");
    const int control_listener = listen_on("control.sock");
    write_state("running");
    ready("ready\n");

    const bool ignore_stop = behaviour == "ignore-stop" || behaviour == "stubborn";
    struct sigaction on_terminate {};
    on_terminate.sa_handler = behaviour == "stubborn" ? SIG_IGN : note_terminate;
    ::sigaction(SIGTERM, &on_terminate, nullptr);  // no SA_RESTART: poll returns EINTR
    std::map<int, Client> clients;
    for (;;) {
        if (terminated != 0) {
            stop_vm("killed");
        }
        std::vector<pollfd> fds{{console_listener, POLLIN, 0}, {control_listener, POLLIN, 0}};
        for (const auto& [fd, client] : clients) {
            fds.push_back({fd, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;
        }
        for (const pollfd& entry : fds) {
            if (entry.revents == 0) {
                continue;
            }
            if (entry.fd == console_listener || entry.fd == control_listener) {
                const int client = ::accept4(entry.fd, nullptr, nullptr, SOCK_CLOEXEC);
                if (client >= 0) {
                    clients[client].control = entry.fd == control_listener;
                    if (entry.fd == console_listener) {
                        console_clients.push_back(client);
                    }
                }
                continue;
            }
            std::array<char, 1024> buffer{};
            const ssize_t got = ::read(entry.fd, buffer.data(), buffer.size());
            Client& client = clients[entry.fd];
            if (got <= 0) {
                std::erase(console_clients, entry.fd);
                ::close(entry.fd);
                clients.erase(entry.fd);
                continue;
            }
            client.pending.append(buffer.data(), static_cast<std::size_t>(got));
            for (auto end = client.pending.find('\n'); end != std::string::npos;
                 end = client.pending.find('\n')) {
                const std::string line = client.pending.substr(0, end);
                client.pending.erase(0, end + 1);
                handle_line(entry.fd, client, line, ignore_stop);
            }
        }
    }
}
