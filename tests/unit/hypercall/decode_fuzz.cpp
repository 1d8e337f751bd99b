// SPDX-License-Identifier: MIT
// The hypercall decoder reads registers any VM (and any ring of the host)
// controls. Fuzz the registers, the caller and the checker's answer, and
// check the invariants a decoded call promises before invoking it.
#include "hypercall.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

using namespace boxy::vmm::hypercall;

namespace {

// Bytes 0..55: RAX, RDI, RSI, RDX, R10, R8, R9; then CPL, host flag, CPU
// count, address width and whether the checker says yes.
constexpr std::size_t kInputSize = 7 * 8 + 4;

std::uint64_t read_u64(const std::uint8_t* p)
{
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

void require(bool invariant)
{
    if (!invariant) {
        __builtin_trap();
    }
}

struct Checker {
    bool answer;
    bool asked = false;
    std::uint64_t gpa = 0, length = 0;
    bool operator()(std::uint64_t at, std::uint64_t len)
    {
        require(!asked);  // one question per decode
        require(len > 0 && at + len > at);
        asked = true;
        gpa = at;
        length = len;
        return answer;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < kInputSize) {
        return 0;
    }
    HypercallRegisters regs{read_u64(data),      read_u64(data + 8),  read_u64(data + 16),
                            read_u64(data + 24), read_u64(data + 32), read_u64(data + 40),
                            read_u64(data + 48)};
    CallerContext ctx{static_cast<std::uint8_t>(data[56] & 3), (data[57] & 1) != 0, data[58],
                      static_cast<std::uint8_t>(data[59] & 0x3F), (data[57] & 4) != 0};
    ctx.service_vms = (data[57] & 8) != 0;
    Checker checker{(data[57] & 2) != 0};
    auto decoded = decode(regs, ctx, memory_checker_for(checker));
    if (!decoded) {
        require(decoded.error() != Status::ok);
        complete_with_error(decoded.error(), regs);
        return 0;
    }
    require(ctx.is_host_vm && ctx.cpl == 0);
    switch (decoded->call) {
        case Call::version:
            require(regs.rdi == 0 && regs.rsi == 0 && regs.rdx == 0);
            invoke_version(ctx.cpu_count, regs);
            break;
        case Call::get_stats: {
            const GetStatsArgs args = decoded->args.get_stats;
            require(checker.asked && checker.answer);
            require(args.cpu_index < ctx.cpu_count);
            require(args.buffer_gpa == checker.gpa && args.buffer_length == checker.length);
            require(args.buffer_gpa != 0 && args.buffer_gpa % 8 == 0);
            require(args.buffer_length >= sizeof(boxy_cpu_stats));
            boxy::vmm::ExitStats stats{args.cpu_index, 0};
            stats.record(boxy::vmm::ExitReason::hypercall);
            auto write = [&args](std::uint64_t gpa, const void*, std::size_t length) {
                require(gpa >= args.buffer_gpa && length <= args.buffer_length &&
                        gpa - args.buffer_gpa <= args.buffer_length - length);
            };
            invoke_get_stats(args, stats, memory_writer_for(write), regs);
            break;
        }
        case Call::stop_cpu:
            require(ctx.late_launched && regs.rdi == 0 && regs.rsi == 0 && regs.rdx == 0);
            regs.rax = BOXY_STATUS_OK;  // what the exit handler sets before leaving
            break;
        // Service-VM calls: what decode promises the VMM's lookup code.
        case Call::vm_create: {
            const auto& a = decoded->args.vm_create;
            require(ctx.service_vms && a.memory_size != 0 && a.memory_size % 4096 == 0 &&
                    a.memory_size <= BOXY_VM_MAX_MEMORY && a.vcpu_count >= 1 &&
                    a.vcpu_count <= BOXY_MAX_VCPUS);
            regs.rax = BOXY_STATUS_OK;
            break;
        }
        case Call::vm_destroy:
            require(ctx.service_vms && decoded->args.vm.vm >= 1 &&
                    decoded->args.vm.vm <= BOXY_MAX_VMS);
            regs.rax = BOXY_STATUS_OK;
            break;
        case Call::memory_donate: {
            const auto& a = decoded->args.donate;
            require(ctx.service_vms && a.vm >= 1 && a.vm <= BOXY_MAX_VMS && a.gpa % 4096 == 0 &&
                    a.pages >= 1 && a.pages <= BOXY_DONATE_MAX_PAGES &&
                    a.gpa + std::uint64_t{a.pages} * 4096 <= BOXY_VM_MAX_MEMORY);
            require(checker.asked && checker.answer && a.list_gpa == checker.gpa &&
                    checker.length == std::uint64_t{a.pages} * 8 && a.list_gpa % 8 == 0);
            regs.rax = BOXY_STATUS_OK;
            break;
        }
        case Call::memory_reclaim: {
            const auto& a = decoded->args.reclaim;
            require(ctx.service_vms && a.vm >= 1 && a.vm <= BOXY_MAX_VMS && a.gpa % 4096 == 0 &&
                    a.pages >= 1 && a.pages <= BOXY_DONATE_MAX_PAGES &&
                    a.gpa + std::uint64_t{a.pages} * 4096 <= BOXY_VM_MAX_MEMORY);
            regs.rax = BOXY_STATUS_OK;
            break;
        }
        case Call::vcpu_create:
        case Call::vcpu_set_regs:
        case Call::vcpu_get_regs:
        case Call::vcpu_run: {
            const auto& a = decoded->args.vcpu;
            require(ctx.service_vms && a.vm >= 1 && a.vm <= BOXY_MAX_VMS &&
                    a.vcpu < BOXY_MAX_VCPUS);
            if (decoded->call == Call::vcpu_run) {
                require(a.buffer == 0);
            } else {
                require(checker.asked && checker.answer && a.buffer == checker.gpa);
            }
            if (decoded->call == Call::vcpu_create) {
                require(a.buffer % 4096 == 0 && checker.length == 4096);
            }
            regs.rax = BOXY_STATUS_OK;
            break;
        }
        case Call::inject_interrupt: {
            const auto& a = decoded->args.inject;
            require(ctx.service_vms && a.vm >= 1 && a.vm <= BOXY_MAX_VMS &&
                    a.vcpu < BOXY_MAX_VCPUS && a.vector >= 32);
            regs.rax = BOXY_STATUS_OK;
            break;
        }
    }
    require(regs.rax == BOXY_STATUS_OK);
    return 0;
}
