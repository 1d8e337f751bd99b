// SPDX-License-Identifier: MIT
#include "boxy_device.hpp"

#include "posix.hpp"

#include <boxy/boxy_ioctl.h>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace boxy::vm {
namespace {

constexpr std::size_t kRunPageSize = 4096;

KernelError ioctl_error(std::string_view request, int error)
{
    std::string text = fmt::format("{} failed: {}", request, errno_text(error));
    switch (error) {
        case ENOTTY: text += " (not Boxy's device, or boxy.ko older than boxy-vm)"; break;
        case EOPNOTSUPP: text += " (this Boxy does not offer service VMs)"; break;
        case EIO: text += " (Boxy refused the call; the kernel log says why)"; break;
        case ENOMEM: text += " (the VMM or the host is out of memory)"; break;
        case EBUSY: text += " (Boxy has as many VMs as it can hold)"; break;
        default: break;
    }
    return KernelError{std::move(text)};
}

void on_kick(int /*signal*/)
{
}

class DeviceVcpu final : public Vcpu {
public:
    DeviceVcpu(UniqueFd fd, boxy_vcpu_run* run) : fd_{std::move(fd)}, run_{run} {}
    DeviceVcpu(const DeviceVcpu&) = delete;
    DeviceVcpu& operator=(const DeviceVcpu&) = delete;
    DeviceVcpu(DeviceVcpu&&) = delete;
    DeviceVcpu& operator=(DeviceVcpu&&) = delete;
    ~DeviceVcpu() override { ::munmap(run_, kRunPageSize); }

    boxy_vcpu_run& run_page() override { return *run_; }

    Result<void, KernelError> set_regs(const boxy_vcpu_regs& regs) override
    {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        if (::ioctl(fd_.get(), BOXY_IOCTL_SET_REGS, &regs) != 0) {
            return make_error(ioctl_error("BOXY_IOCTL_SET_REGS", errno));
        }
        return {};
    }

    Result<boxy_vcpu_regs, KernelError> get_regs() override
    {
        boxy_vcpu_regs regs{};
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        if (::ioctl(fd_.get(), BOXY_IOCTL_GET_REGS, &regs) != 0) {
            return make_error(ioctl_error("BOXY_IOCTL_GET_REGS", errno));
        }
        return regs;
    }

    Result<RunResult, KernelError> run() override
    {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        if (::ioctl(fd_.get(), BOXY_IOCTL_RUN, 0) == 0) {
            return RunResult::exit;
        }
        if (errno == EINTR) {
            return RunResult::interrupted;
        }
        return make_error(ioctl_error("BOXY_IOCTL_RUN", errno));
    }

    void kick(pthread_t thread) override { (void)::pthread_kill(thread, kKickSignal); }

private:
    UniqueFd fd_;
    boxy_vcpu_run* run_;
};

class DeviceVm final : public Vm {
public:
    DeviceVm(UniqueFd fd, std::uint64_t tsc_khz, std::uint32_t handle)
        : fd_{std::move(fd)}, tsc_khz_{tsc_khz}, handle_{handle}
    {
    }

    [[nodiscard]] std::uint64_t tsc_khz() const override { return tsc_khz_; }
    [[nodiscard]] std::uint32_t handle() const override { return handle_; }

    Result<void, KernelError> set_memory(std::uint64_t guest_address,
                                         std::span<std::byte> memory) override
    {
        boxy_ioctl_memory request{};
        request.guest_address = guest_address;
        request.size = memory.size();
        request.user_address = reinterpret_cast<std::uintptr_t>(memory.data());  // the ABI's u64
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        if (::ioctl(fd_.get(), BOXY_IOCTL_SET_MEMORY, &request) != 0) {
            return make_error(ioctl_error("BOXY_IOCTL_SET_MEMORY", errno));
        }
        return {};
    }

    Result<std::unique_ptr<Vcpu>, KernelError> create_vcpu(std::uint32_t index) override
    {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        UniqueFd fd{::ioctl(fd_.get(), BOXY_IOCTL_VCPU_CREATE, static_cast<unsigned long>(index))};
        if (!fd) {
            return make_error(ioctl_error(fmt::format("BOXY_IOCTL_VCPU_CREATE {}", index), errno));
        }
        void* page = ::mmap(nullptr, kRunPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
        if (page == MAP_FAILED) {
            return make_error(KernelError{
                fmt::format("mmap of vCPU {}'s run page failed: {}", index, errno_text(errno))});
        }
        // The run page is struct boxy_vcpu_run (boxy_ioctl.h, VCPU_CREATE).
        return std::unique_ptr<Vcpu>{
            std::make_unique<DeviceVcpu>(std::move(fd), static_cast<boxy_vcpu_run*>(page))};
    }

    bool inject(std::uint32_t vcpu, std::uint8_t vector, bool level) override
    {
        boxy_ioctl_interrupt request{};
        request.vcpu = vcpu;
        request.vector = vector;
        request.flags = level ? static_cast<boxy_u32>(BOXY_INJECT_LEVEL) : 0;
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        return ::ioctl(fd_.get(), BOXY_IOCTL_INJECT, &request) == 0;
    }

private:
    UniqueFd fd_;
    std::uint64_t tsc_khz_;
    std::uint32_t handle_;
};

class DeviceKernel final : public Kernel {
public:
    explicit DeviceKernel(UniqueFd fd) : fd_{std::move(fd)} {}

    Result<std::unique_ptr<Vm>, KernelError> create_vm(std::uint64_t memory_size,
                                                       std::uint32_t vcpu_count) override
    {
        boxy_ioctl_vm_create request{};
        request.memory_size = memory_size;
        request.vcpu_count = vcpu_count;
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        UniqueFd fd{::ioctl(fd_.get(), BOXY_IOCTL_VM_CREATE, &request)};
        if (!fd) {
            return make_error(ioctl_error("BOXY_IOCTL_VM_CREATE", errno));
        }
        return std::unique_ptr<Vm>{
            std::make_unique<DeviceVm>(std::move(fd), request.tsc_khz, request.handle)};
    }

private:
    UniqueFd fd_;
};

}  // namespace

Result<std::unique_ptr<Kernel>, KernelError> open_boxy_device(const std::string& path)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    UniqueFd fd{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
    if (!fd) {
        const int error = errno;
        std::string text = fmt::format("cannot open {}: {}", path, errno_text(error));
        if (error == ENOENT || error == ENODEV || error == ENXIO) {
            text += " (is boxy.ko loaded?)";
        } else if (error == EACCES || error == EPERM) {
            text += " (run as root or as a member of group boxy)";
        }
        return make_error(KernelError{std::move(text)});
    }
    // A handler that does nothing, without SA_RESTART: the kick signal
    // only interrupts BOXY_IOCTL_RUN with EINTR.
    struct sigaction action {};
    action.sa_handler = on_kick;
    sigemptyset(&action.sa_mask);
    if (::sigaction(kKickSignal, &action, nullptr) != 0) {
        return make_error(KernelError{fmt::format("sigaction: {}", errno_text(errno))});
    }
    return std::unique_ptr<Kernel>{std::make_unique<DeviceKernel>(std::move(fd))};
}

}  // namespace boxy::vm
