// SPDX-License-Identifier: MIT
//
// What boxy-vm asks of the kernel, as interfaces: boxy_device.cpp
// implements them with /dev/boxy's ioctls (include/boxy/boxy_ioctl.h), the
// unit tests with a scripted fake, so that the runtime above (threads,
// state, sockets) is tested without boxy.ko.
#pragma once

#include "interrupts.hpp"

#include <boxy/abi.h>
#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <pthread.h>
#include <span>
#include <string>

namespace boxy::vm {

// A failure, phrased for the log: what failed and why.
struct KernelError {
    std::string message;
};

// One vCPU (a vCPU fd and its run page).
class Vcpu {
public:
    Vcpu() = default;
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    Vcpu(Vcpu&&) = delete;
    Vcpu& operator=(Vcpu&&) = delete;
    virtual ~Vcpu() = default;

    // The run page: the exit of the last run(), and the answer to an IN or
    // MMIO read for the next.
    [[nodiscard]] virtual boxy_vcpu_run& run_page() = 0;
    [[nodiscard]] virtual Result<void, KernelError> set_regs(const boxy_vcpu_regs& regs) = 0;
    [[nodiscard]] virtual Result<boxy_vcpu_regs, KernelError> get_regs() = 0;

    enum class RunResult : std::uint8_t {
        exit,         // run_page() holds an exit to handle
        interrupted,  // a kick (or any signal) came: check for a stop, run again
    };
    // BOXY_IOCTL_RUN on the calling thread.
    [[nodiscard]] virtual Result<RunResult, KernelError> run() = 0;
    // Makes run() on `thread` return `interrupted` soon. A kick that comes
    // just before the thread enters run() may be missed: the caller repeats
    // it until the thread has noticed.
    virtual void kick(pthread_t thread) = 0;
};

// One VM (a VM fd). inject() is BOXY_IOCTL_INJECT.
class Vm : public InterruptSink {
public:
    // BOXY_IOCTL_VM_CREATE's answers.
    [[nodiscard]] virtual std::uint64_t tsc_khz() const = 0;
    [[nodiscard]] virtual std::uint32_t handle() const = 0;
    // Donates `memory` (page aligned, the process's own anonymous mapping)
    // as guest-physical [guest_address, guest_address + size).
    [[nodiscard]] virtual Result<void, KernelError> set_memory(std::uint64_t guest_address,
                                                               std::span<std::byte> memory) = 0;
    [[nodiscard]] virtual Result<std::unique_ptr<Vcpu>, KernelError> create_vcpu(
        std::uint32_t index) = 0;
};

class Kernel {
public:
    Kernel() = default;
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;
    Kernel(Kernel&&) = delete;
    Kernel& operator=(Kernel&&) = delete;
    virtual ~Kernel() = default;

    // Destroying the Vm (closing its fds) destroys the VM in boxy.ko.
    [[nodiscard]] virtual Result<std::unique_ptr<Vm>, KernelError> create_vm(
        std::uint64_t memory_size, std::uint32_t vcpu_count) = 0;
};

}  // namespace boxy::vm
