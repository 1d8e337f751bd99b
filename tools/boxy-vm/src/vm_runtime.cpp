// SPDX-License-Identifier: MIT
#include "vm_runtime.hpp"

#include "console_hub.hpp"
#include "exit_summary.hpp"
#include "guest_setup.hpp"
#include "machine.hpp"
#include "process_log.hpp"
#include "service_loop.hpp"
#include "state_file.hpp"
#include "vcpu_dump.hpp"
#include "virtio/guest_memory.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fmt/format.h>
#include <iostream>
#include <mutex>
#include <optional>
#include <sys/mman.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace boxy::vm {
namespace {

// How long teardown keeps kicking vCPU threads out of RUN.
constexpr auto kStopTimeout = std::chrono::seconds{5};
constexpr auto kKickInterval = std::chrono::milliseconds{10};
// How long `boxyctl registers` waits for the vCPU threads to answer.
constexpr auto kDumpTimeout = std::chrono::milliseconds{2000};

// The guest's RAM: an anonymous private mapping that boxy.ko pins
// (BOXY_IOCTL_SET_MEMORY), so no MAP_NORESERVE: every page is committed.
class GuestRam {
public:
    [[nodiscard]] static Result<GuestRam, std::string> map(std::uint64_t size)
    {
        void* mapping =
            ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapping == MAP_FAILED) {
            return make_error(fmt::format("cannot map {} MiB of guest memory: {}", size >> 20,
                                          errno_text(errno)));
        }
        // Huge pages: fewer pages to pin and a shorter page list for the
        // VMM. Not in core dumps: a crash of this process must not spill
        // the guest's memory. Both are advice; failures do not matter.
        (void)::madvise(mapping, size, MADV_HUGEPAGE);
        (void)::madvise(mapping, size, MADV_DONTDUMP);
        return GuestRam{static_cast<std::byte*>(mapping), size};
    }
    GuestRam(const GuestRam&) = delete;
    GuestRam& operator=(const GuestRam&) = delete;
    GuestRam(GuestRam&& other) noexcept
        : data_{std::exchange(other.data_, nullptr)}, size_{std::exchange(other.size_, 0)}
    {
    }
    GuestRam& operator=(GuestRam&&) = delete;
    ~GuestRam()
    {
        if (data_ != nullptr) {
            ::munmap(data_, size_);
        }
    }

    [[nodiscard]] std::span<std::byte> bytes() const { return {data_, size_}; }
    [[nodiscard]] std::span<std::uint8_t> u8() const
    {
        // std::byte and uint8_t: byte types that may alias.
        return {reinterpret_cast<std::uint8_t*>(data_), size_};
    }

private:
    GuestRam(std::byte* data, std::uint64_t size) : data_{data}, size_{size} {}

    std::byte* data_;
    std::uint64_t size_;
};

class VmRuntime final : public ServiceHandler {
public:
    VmRuntime(const Options& options, const BootFiles& files, Kernel& kernel, int terminate_fd)
        : options_{&options}, files_{&files}, kernel_{&kernel}, terminate_fd_{terminate_fd}
    {
    }
    VmRuntime(const VmRuntime&) = delete;
    VmRuntime& operator=(const VmRuntime&) = delete;
    VmRuntime(VmRuntime&&) = delete;
    VmRuntime& operator=(VmRuntime&&) = delete;
    ~VmRuntime() override = default;

    [[nodiscard]] int run();

    // ServiceHandler: the event loop's thread.
    void console_input(std::span<const std::uint8_t> bytes) override
    {
        machine_->console_input(bytes);
    }
    [[nodiscard]] std::string control(ControlCommand command) override;
    void terminate() override { request_stop(VmState::stopped, "killed"); }
    [[nodiscard]] bool stopping() const override { return stop_requested_.load(); }

private:
    [[nodiscard]] std::string path(std::string_view file) const
    {
        return options_->state_dir + "/" + std::string{file};
    }
    [[nodiscard]] Result<void, std::string> set_up();
    [[nodiscard]] Result<void, std::string> start_vcpus();
    void vcpu_main(std::uint32_t index);
    void answer_dump(std::uint32_t index, Vcpu& vcpu);
    [[nodiscard]] std::string dump_vcpus();
    void request_stop(VmState state, std::string reason);
    [[nodiscard]] bool stop_vcpus();
    void set_state(VmState state, std::string exit_reason = {});
    void signal_ready(std::string_view line);
    int fail_early(const std::string& message);
    void wake()
    {
        if (loop_) {
            loop_->wake();
        }
    }

    const Options* options_;
    const BootFiles* files_;
    Kernel* kernel_;
    int terminate_fd_;
    int ready_fd_{-1};
    ProcessLog log_;
    VmStatus status_;

    // Destroyed bottom-up: sockets, devices, console, vCPUs, VM, RAM.
    std::optional<GuestRam> ram_;
    std::optional<virtio::GuestMemory> memory_;
    std::unique_ptr<Vm> vm_;
    std::vector<std::unique_ptr<Vcpu>> vcpus_;
    std::unique_ptr<ConsoleHub> hub_;
    std::unique_ptr<Machine> machine_;
    std::unique_ptr<ServiceLoop> loop_;

    std::vector<std::thread> threads_;
    std::unique_ptr<std::atomic<bool>[]> exited_;
    std::unique_ptr<VcpuDump> dump_;
    std::mutex stop_mutex_;
    std::optional<std::pair<VmState, std::string>> stop_;
    std::atomic<bool> stop_requested_{false};
};

int VmRuntime::run()
{
    ready_fd_ = options_->ready_fd;
    status_ = VmStatus{options_->name,       ::getpid(),       VmState::starting, options_->vcpus,
                       options_->memory_mib, options_->kernel, unix_now(),        {}};
    if (auto opened = log_.open(path("boxy-vm.log")); !opened) {
        return fail_early(opened.error());
    }
    log_.line(fmt::format("boxy-vm {} starting: pid {}, {} MiB, {} vCPU(s), kernel {}",
                          options_->name, status_.pid, options_->memory_mib, options_->vcpus,
                          options_->kernel));
    if (auto written = write_state_file(options_->state_dir, status_); !written) {
        return fail_early(written.error());
    }
    if (auto ready = set_up(); !ready) {
        return fail_early(ready.error());
    }
    if (auto started = start_vcpus(); !started) {
        log_.line("error: " + started.error());
        signal_ready("error: " + started.error() + "\n");
        request_stop(VmState::failed, "error: " + started.error());
    } else {
        set_state(VmState::running);
        signal_ready("ready\n");
        log_.line("running");
    }
    if (auto served = loop_->run(terminate_fd_); !served) {
        request_stop(VmState::failed, "error: " + served.error());
    }
    std::pair<VmState, std::string> outcome;
    {
        const std::lock_guard lock{stop_mutex_};
        outcome = stop_.value_or(std::pair{VmState::failed, std::string{"error: unknown"}});
    }
    log_.line(fmt::format("stopping: {}", outcome.second));
    set_state(VmState::stopping);
    const bool joined = stop_vcpus();
    if (joined) {  // the run pages are quiet once every vCPU thread is gone
        std::vector<const boxy_vcpu_run*> runs;
        for (auto& vcpu : vcpus_) {
            runs.push_back(&vcpu->run_page());
        }
        log_.line(format_exit_summary(runs));
    }
    log_.line("device counters: " + machine_->stats_summary());
    log_.line(fmt::format("console: {} bytes dropped for slow clients, {} log write errors",
                          hub_->dropped_bytes(), hub_->log_errors()));
    loop_->shut_down();
    if (joined) {
        loop_.reset();
        machine_.reset();
        vcpus_.clear();
        vm_.reset();  // closing the VM fd: boxy.ko destroys the VM, unpins its memory
        memory_.reset();
        ram_.reset();
        log_.line("VM destroyed");
    } else {
        // A thread still inside RUN uses its vCPU: leave everything to the
        // process exit, which closes the fds (and so destroys the VM).
        (void)loop_.release();
        (void)machine_.release();
        for (auto& vcpu : vcpus_) {
            (void)vcpu.release();
        }
        (void)vm_.release();
        log_.line("some vCPU threads did not stop; the VM goes with the process");
    }
    set_state(outcome.first, outcome.second);
    return outcome.first == VmState::failed ? kExitFailure : kExitOk;
}

Result<void, std::string> VmRuntime::set_up()
{
    const std::uint64_t memory_size = options_->memory_mib * kMiB;
    auto vm = kernel_->create_vm(memory_size, options_->vcpus);
    if (!vm) {
        return make_error(vm.error().message);
    }
    vm_ = std::move(vm).value();
    log_.line(fmt::format("VM handle {} created; host TSC {} kHz", vm_->handle(), vm_->tsc_khz()));

    auto ram = GuestRam::map(memory_size);
    if (!ram) {
        return make_error(ram.error());
    }
    ram_.emplace(std::move(ram).value());
    auto memory = virtio::GuestMemory::create(ram_->bytes(), 0);
    if (!memory) {
        return make_error(std::string{"guest memory mapping is misaligned"});
    }
    memory_.emplace(*memory);

    const std::string cmdline = guest_cmdline(options_->cmdline, vm_->tsc_khz());
    auto image =
        load_guest(ram_->u8(), files_->image, files_->initrd_bytes(), cmdline, options_->vcpus);
    if (!image) {
        return make_error(image.error());
    }
    log_.line(fmt::format(
        "guest: kernel at {:#x}, entry {:#x}, initrd {} bytes at {:#x}, "
        "RSDP at {:#x}, command line \"{}\"",
        image->layout.kernel_address, image->layout.entry_point, image->layout.initrd_size,
        image->layout.initrd_address, image->acpi.rsdp, cmdline));
    if (auto donated = vm_->set_memory(0, ram_->bytes()); !donated) {
        return make_error(donated.error().message);
    }
    for (std::uint32_t index = 0; index < options_->vcpus; ++index) {
        auto vcpu = vm_->create_vcpu(index);
        if (!vcpu) {
            return make_error(vcpu.error().message);
        }
        vcpus_.push_back(std::move(vcpu).value());
    }
    // vCPU 0 enters the kernel; the others keep the VMM's wait-for-SIPI
    // state until the guest starts them.
    if (auto set = vcpus_[0]->set_regs(to_abi_regs(image->boot_vcpu)); !set) {
        return make_error(set.error().message);
    }

    hub_ = std::make_unique<ConsoleHub>(path("console.log"), [this] { wake(); });
    if (auto opened = hub_->open_log(); !opened) {
        return make_error(opened.error());
    }
    machine_ = std::make_unique<Machine>(Machine::Connections{
        &*memory_, options_->vcpus, vm_.get(), hub_.get(),
        [this](PowerEvent event) {
            request_stop(VmState::stopped, event == PowerEvent::reset ? "reset" : "poweroff");
        },
        [this](const std::string& line) { log_.line(line); }});
    loop_ = std::make_unique<ServiceLoop>(*hub_, *this);
    return loop_->listen(options_->state_dir);
}

Result<void, std::string> VmRuntime::start_vcpus()
{
    exited_ = std::make_unique<std::atomic<bool>[]>(options_->vcpus);
    dump_ = std::make_unique<VcpuDump>(options_->vcpus);
    for (std::uint32_t index = 0; index < options_->vcpus; ++index) {
        try {
            threads_.emplace_back([this, index] { vcpu_main(index); });
        } catch (const std::system_error& error) {
            return make_error(fmt::format("cannot start vCPU thread {}: {}", index, error.what()));
        }
    }
    return {};
}

void VmRuntime::vcpu_main(std::uint32_t index)
{
    // The kick signal must reach this thread (the process blocks SIGTERM
    // and SIGINT, which the event loop reads from a signalfd).
    sigset_t kick{};
    sigemptyset(&kick);
    sigaddset(&kick, SIGUSR1);
    (void)::pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);

    Vcpu& vcpu = *vcpus_[index];
    while (!stop_requested_.load()) {
        auto ran = vcpu.run();
        answer_dump(index, vcpu);
        if (!ran) {
            request_stop(VmState::failed,
                         fmt::format("error: vCPU {}: {}", index, ran.error().message));
            break;
        }
        if (*ran == Vcpu::RunResult::interrupted) {
            continue;
        }
        const ExitAction action = machine_->handle_exit(vcpu.run_page());
        if (action.kind == ExitAction::Kind::resume) {
            continue;
        }
        const bool shutdown = action.kind == ExitAction::Kind::shutdown;
        log_.line(shutdown ? fmt::format("vCPU {}: shutdown exit ({})", index, action.detail)
                           : fmt::format("vCPU {} failed: {}", index, action.detail));
        // The state the vCPU stopped in: for a triple fault, where the guest was.
        if (auto regs = vcpu.get_regs()) {
            log_.line(fmt::format("vCPU {} registers:\n{}", index, format_registers(*regs)));
        } else {
            log_.line(fmt::format("vCPU {}: no register dump: {}", index, regs.error().message));
        }
        if (shutdown) {
            request_stop(VmState::stopped, action.detail);
            break;
        }
        request_stop(VmState::failed,
                     fmt::format("error: vCPU {} failed: {}", index, action.detail));
        break;
    }
    exited_[index].store(true);
}

void VmRuntime::answer_dump(std::uint32_t index, Vcpu& vcpu)
{
    const std::uint64_t request = dump_->wanted(index);
    if (request == 0) {
        return;
    }
    const boxy_vcpu_run* run = &vcpu.run_page();
    std::string text = fmt::format("vCPU {} {}\n", index, format_exit_summary({&run, 1}));
    if (auto regs = vcpu.get_regs()) {
        text += format_registers(*regs);
    } else {
        text += "no registers: " + regs.error().message;
    }
    dump_->answer(index, request, std::move(text));
}

std::string VmRuntime::dump_vcpus()
{
    if (!dump_) {
        return "error: the vCPUs are not running\n";
    }
    const auto texts = dump_->collect(
        [this](std::uint32_t index) {
            if (index < threads_.size() && !exited_[index].load()) {
                vcpus_[index]->kick(threads_[index].native_handle());
            }
        },
        kDumpTimeout, kKickInterval);
    std::string reply;
    for (const auto& text : texts) {
        reply += text + "\n";
    }
    log_.line("registers requested:\n" + reply);
    return reply + "ok\n";
}

void VmRuntime::request_stop(VmState state, std::string reason)
{
    {
        const std::lock_guard lock{stop_mutex_};
        if (!stop_) {
            stop_.emplace(state, std::move(reason));  // the first cause wins
        }
    }
    stop_requested_.store(true);
    wake();
}

bool VmRuntime::stop_vcpus()
{
    const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    for (;;) {
        bool all = true;
        for (std::size_t index = 0; index < threads_.size(); ++index) {
            if (!exited_[index].load()) {
                all = false;
                vcpus_[index]->kick(threads_[index].native_handle());
            }
        }
        if (all || std::chrono::steady_clock::now() >= deadline) {
            break;
        }
        std::this_thread::sleep_for(kKickInterval);
    }
    bool joined = true;
    for (std::size_t index = 0; index < threads_.size(); ++index) {
        if (exited_[index].load()) {
            threads_[index].join();
        } else {
            log_.line(
                fmt::format("vCPU {} did not leave RUN within {} s", index, kStopTimeout.count()));
            threads_[index].detach();
            joined = false;
        }
    }
    threads_.clear();
    return joined;
}

std::string VmRuntime::control(ControlCommand command)
{
    switch (command) {
        case ControlCommand::status: return to_json(status_) + "\n";
        case ControlCommand::stop:
            if (!machine_->request_shutdown()) {
                return "error: the guest has no keyboard driver listening yet (still booting?); "
                       "it cannot be asked to shut down, only killed\n";
            }
            log_.line("shutdown requested: Ctrl-Alt-Del sent to the guest");
            set_state(VmState::stopping);
            return "ok\n";
        case ControlCommand::registers: return dump_vcpus();
        case ControlCommand::unknown: break;
    }
    return std::string{kUnknownCommandReply};
}

void VmRuntime::set_state(VmState state, std::string exit_reason)
{
    status_.state = state;
    status_.exit_reason = std::move(exit_reason);
    if (auto written = write_state_file(options_->state_dir, status_); !written) {
        log_.line(written.error());
    }
}

void VmRuntime::signal_ready(std::string_view line)
{
    if (ready_fd_ < 0) {
        return;
    }
    if (!write_all(ready_fd_, line)) {
        log_.line(fmt::format("cannot write to the ready descriptor: {}", errno_text(errno)));
    }
    ::close(ready_fd_);
    ready_fd_ = -1;
}

int VmRuntime::fail_early(const std::string& message)
{
    std::cerr << "boxy-vm: error: " << message << '\n';
    log_.line("error: " + message);
    signal_ready("error: " + message + "\n");
    set_state(VmState::failed, "error: " + message);
    if (loop_) {
        loop_->shut_down();
    }
    return kExitFailure;
}

}  // namespace

int run_vm(const Options& options, const BootFiles& files, Kernel& kernel, int terminate_fd)
{
    VmRuntime runtime{options, files, kernel, terminate_fd};
    return runtime.run();
}

std::string format_registers(const boxy_vcpu_regs& regs)
{
    static constexpr std::array<const char*, 16> kNames{"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                                        "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                                        "r12", "r13", "r14", "r15"};
    std::string text = fmt::format("  rip {:016x} rflags {:016x} mp_state {}\n", regs.rip,
                                   regs.rflags, regs.mp_state);
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        text += fmt::format("  {:>3} {:016x}{}", kNames[i], regs.gprs[i], i % 4 == 3 ? "\n" : "");
    }
    text += fmt::format("  cr0 {:016x} cr2 {:016x} cr3 {:016x} cr4 {:016x}\n", regs.cr0, regs.cr2,
                        regs.cr3, regs.cr4);
    text += fmt::format("  efer {:016x} pat {:016x}\n", regs.efer, regs.pat);
    const std::array<std::pair<const char*, const boxy_segment*>, 8> segments{
        {{"cs", &regs.cs},
         {"ds", &regs.ds},
         {"es", &regs.es},
         {"fs", &regs.fs},
         {"gs", &regs.gs},
         {"ss", &regs.ss},
         {"tr", &regs.tr},
         {"ldtr", &regs.ldtr}}};
    for (const auto& [name, segment] : segments) {
        text += fmt::format("  {:>4} sel {:04x} attrib {:03x} limit {:08x} base {:016x}\n", name,
                            segment->selector, segment->attrib, segment->limit, segment->base);
    }
    text += fmt::format("  gdtr base {:016x} limit {:04x}; idtr base {:016x} limit {:04x}",
                        regs.gdtr.base, regs.gdtr.limit, regs.idtr.base, regs.idtr.limit);
    return text;
}

}  // namespace boxy::vm
