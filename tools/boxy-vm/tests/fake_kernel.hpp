// SPDX-License-Identifier: MIT
//
// kernel.hpp without boxy.ko: each vCPU plays a script of exits (what a
// guest would do), waits for injected interrupts like a halted CPU, and
// blocks in run() until kicked once its script is done. Everything the
// runtime asked for is recorded for the tests.
#pragma once

#include "kernel.hpp"

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace boxy::vm::test {

struct Step {
    enum class Kind : std::uint8_t { exit, wait_for_vector, run_error };
    Kind kind{Kind::exit};
    boxy_vcpu_run exit{};
    std::uint32_t vector{0};
};

inline Step io_out(std::uint16_t port, std::uint8_t size, std::uint32_t value)
{
    Step step;
    step.exit.exit_reason = BOXY_VM_EXIT_IO;
    step.exit.u.io = {port, size, 0, value};
    return step;
}

inline Step io_in(std::uint16_t port, std::uint8_t size)
{
    Step step;
    step.exit.exit_reason = BOXY_VM_EXIT_IO;
    step.exit.u.io = {port, size, 1, 0};
    return step;
}

inline Step mmio(std::uint64_t gpa, std::uint8_t size, std::optional<std::uint64_t> store)
{
    Step step;
    step.exit.exit_reason = BOXY_VM_EXIT_MMIO;
    step.exit.u.mmio.gpa = gpa;
    step.exit.u.mmio.size = size;
    step.exit.u.mmio.write = store ? 1 : 0;
    step.exit.u.mmio.data = store.value_or(0);
    return step;
}

inline Step exit_of(std::uint32_t reason)
{
    Step step;
    step.exit.exit_reason = reason;
    return step;
}

inline Step wait_for_vector(std::uint32_t vector)
{
    Step step;
    step.kind = Step::Kind::wait_for_vector;
    step.vector = vector;
    return step;
}

// What the runtime did, shared by the fake VM and vCPUs.
struct FakeKernelState {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::uint32_t> injected_vectors;
    std::map<std::uint32_t, boxy_vcpu_regs> regs;                 // SET_REGS by vCPU
    std::map<std::uint32_t, std::vector<std::uint64_t>> answers;  // IN / MMIO read results
    std::uint32_t vcpus_created{0};
    std::uint64_t donated{0};
    std::string cmdline;  // read from guest RAM at SET_MEMORY
    bool vm_destroyed{false};
};

class FakeVcpu final : public Vcpu {
public:
    FakeVcpu(FakeKernelState& state, std::uint32_t index, std::vector<Step> script)
        : state_{&state}, index_{index}, script_{std::move(script)}
    {
    }

    boxy_vcpu_run& run_page() override { return run_; }

    Result<void, KernelError> set_regs(const boxy_vcpu_regs& regs) override
    {
        const std::lock_guard lock{state_->mutex};
        state_->regs[index_] = regs;
        return {};
    }

    Result<boxy_vcpu_regs, KernelError> get_regs() override
    {
        const std::lock_guard lock{state_->mutex};
        boxy_vcpu_regs regs = state_->regs[index_];
        regs.rip = 0xFFFF'FFFF'8100'1234;  // where it "failed"
        return regs;
    }

    Result<RunResult, KernelError> run() override
    {
        std::unique_lock lock{state_->mutex};
        record_answer();
        for (;;) {
            if (kicked_) {
                kicked_ = false;
                return RunResult::interrupted;
            }
            if (next_ >= script_.size()) {
                state_->changed.wait(lock);  // a halted CPU: until kicked
                continue;
            }
            const Step& step = script_[next_];
            if (step.kind == Step::Kind::run_error) {
                ++next_;
                return make_error(KernelError{"BOXY_IOCTL_RUN failed: Input/output error"});
            }
            if (step.kind == Step::Kind::wait_for_vector) {
                if (seen_vector(step.vector)) {
                    ++next_;
                    continue;
                }
                state_->changed.wait(lock);
                continue;
            }
            run_ = step.exit;
            ++next_;
            return RunResult::exit;
        }
    }

    void kick(pthread_t /*thread*/) override
    {
        const std::lock_guard lock{state_->mutex};
        kicked_ = true;
        state_->changed.notify_all();
    }

private:
    // The runtime answered the last IN / MMIO read in the run page.
    void record_answer()
    {
        if (run_.exit_reason == BOXY_VM_EXIT_IO && run_.u.io.in != 0) {
            state_->answers[index_].push_back(run_.u.io.data);
        } else if (run_.exit_reason == BOXY_VM_EXIT_MMIO && run_.u.mmio.write == 0) {
            state_->answers[index_].push_back(run_.u.mmio.data);
        }
        run_.exit_reason = BOXY_VM_EXIT_NONE;
    }
    bool seen_vector(std::uint32_t vector) const
    {
        for (const std::uint32_t v : state_->injected_vectors) {
            if (v == vector) {
                return true;
            }
        }
        return false;
    }

    FakeKernelState* state_;
    std::uint32_t index_;
    std::vector<Step> script_;
    std::size_t next_{0};
    bool kicked_{false};
    boxy_vcpu_run run_{};
};

class FakeVm final : public Vm {
public:
    FakeVm(FakeKernelState& state, std::map<std::uint32_t, std::vector<Step>> scripts)
        : state_{&state}, scripts_{std::move(scripts)}
    {
    }
    FakeVm(const FakeVm&) = delete;
    FakeVm& operator=(const FakeVm&) = delete;
    FakeVm(FakeVm&&) = delete;
    FakeVm& operator=(FakeVm&&) = delete;
    ~FakeVm() override
    {
        const std::lock_guard lock{state_->mutex};
        state_->vm_destroyed = true;
    }

    std::uint64_t tsc_khz() const override { return 2'500'000; }
    std::uint32_t handle() const override { return 7; }

    Result<void, KernelError> set_memory(std::uint64_t guest_address,
                                         std::span<std::byte> memory) override
    {
        const std::lock_guard lock{state_->mutex};
        state_->donated = guest_address + memory.size();
        // The command line at 0x20000 (boot_params.hpp), NUL-terminated.
        const char* text = reinterpret_cast<const char*>(memory.data() + 0x2'0000);
        state_->cmdline.assign(text, ::strnlen(text, 0x1'0000));
        return {};
    }

    Result<std::unique_ptr<Vcpu>, KernelError> create_vcpu(std::uint32_t index) override
    {
        const std::lock_guard lock{state_->mutex};
        ++state_->vcpus_created;
        return std::unique_ptr<Vcpu>{std::make_unique<FakeVcpu>(*state_, index, scripts_[index])};
    }

    bool inject(std::uint32_t /*vcpu*/, std::uint8_t vector, bool /*level*/) override
    {
        const std::lock_guard lock{state_->mutex};
        state_->injected_vectors.push_back(vector);
        state_->changed.notify_all();
        return true;
    }

private:
    FakeKernelState* state_;
    std::map<std::uint32_t, std::vector<Step>> scripts_;
};

class FakeKernel final : public Kernel {
public:
    Result<std::unique_ptr<Vm>, KernelError> create_vm(std::uint64_t /*memory_size*/,
                                                       std::uint32_t /*vcpu_count*/) override
    {
        if (refuse_vm) {
            return make_error(KernelError{"BOXY_IOCTL_VM_CREATE failed: Device or resource busy"});
        }
        return std::unique_ptr<Vm>{std::make_unique<FakeVm>(state, scripts)};
    }

    FakeKernelState state;
    std::map<std::uint32_t, std::vector<Step>> scripts;  // by vCPU; none: halt at once
    bool refuse_vm{false};
};

}  // namespace boxy::vm::test
