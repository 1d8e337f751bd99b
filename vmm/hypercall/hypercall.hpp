// SPDX-License-Identifier: MIT
//
// Hypercalls (include/boxy/abi.h, docs/abi.md), split as in seL4: decode()
// reads the caller's registers, checks every argument and either fails with
// a status or yields a DecodedCall; the invoke_* functions then carry the
// call out and cannot fail. All checks that touch untrusted input happen in
// decode(), which is pure logic and fuzzed (tests/unit/hypercall).
//
// The exit handler's part, per VMMCALL/VMCALL exit:
//
//   auto call = decode(regs, ctx, checker);
//   if (!call) { complete_with_error(call.error(), regs); }
//   else switch (call->call) {
//   case Call::version: invoke_version(ctx.cpu_count, regs); break;
//   case Call::get_stats: invoke_get_stats(call->args.get_stats,
//       stats_of_cpu(call->args.get_stats.cpu_index), writer, regs); break;
//   }
//   // then write regs back to the guest and advance RIP past the instruction
#pragma once

#include "exit_stats.hpp"

#include <boxy/abi.h>
#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace boxy::vmm::hypercall {

enum class Status : std::uint64_t {
    ok = BOXY_STATUS_OK,
    unknown_call = BOXY_STATUS_UNKNOWN_CALL,
    denied = BOXY_STATUS_DENIED,
    invalid_argument = BOXY_STATUS_INVALID_ARGUMENT,
    bad_address = BOXY_STATUS_BAD_ADDRESS,
    bad_length = BOXY_STATUS_BAD_LENGTH,
    no_such_cpu = BOXY_STATUS_NO_SUCH_CPU,
    unsupported = BOXY_STATUS_UNSUPPORTED,
    no_memory = BOXY_STATUS_NO_MEMORY,
    no_such_vm = BOXY_STATUS_NO_SUCH_VM,
    no_such_vcpu = BOXY_STATUS_NO_SUCH_VCPU,
    busy = BOXY_STATUS_BUSY,
    exists = BOXY_STATUS_EXISTS,
};

[[nodiscard]] std::string_view to_string(Status status);

// Features every VMM build offers (BOXY_FEATURE_*); a backend adds
// BOXY_FEATURE_SERVICE_VMS when it runs service VMs (CallerContext).
inline constexpr std::uint64_t kFeatures = BOXY_FEATURE_GET_STATS;

// The guest registers the ABI reads and writes. decode() only reads them;
// invoke_* and complete_with_error() write RAX and a call's outputs and
// leave the rest as they were, so the exit handler can copy all back.
struct HypercallRegisters {
    std::uint64_t rax;  // call number in, status out
    std::uint64_t rdi;
    std::uint64_t rsi;
    std::uint64_t rdx;
    std::uint64_t r10;
    std::uint64_t r8;
    std::uint64_t r9;
};

// Who is calling, and what the VMM looks like to it.
struct CallerContext {
    // The caller's privilege level: the CPL field of the VMCB state save
    // area (APM Vol. 2, Appendix B) or the DPL of the guest's SS, which
    // VMX keeps equal to the CPL (SDM Vol. 3C, "Guest Register State").
    std::uint8_t cpl;
    bool is_host_vm;          // the VM holding the host OS, not a guest it created
    std::uint32_t cpu_count;  // CPUs under Boxy; cpu indices are 0..cpu_count-1
    // The caller VM's guest-physical address width (its CPUID
    // 0x80000008:EAX[7:0]); addresses at or above 2^bits do not exist.
    std::uint8_t physical_address_bits{kMaxPhysicalAddressBits};
    // The VMM was started by boxy.ko on a running host (late launch), so a
    // CPU may leave it (BOXY_CALL_STOP_CPU).
    bool late_launched{false};
    // The backend runs service VMs (calls 0x10-0x4F); else they decode to
    // unsupported.
    bool service_vms{false};

    static constexpr std::uint8_t kMaxPhysicalAddressBits = 52;  // MAXPHYADDR limit
};

// Answers "is [gpa, gpa + length) ordinary RAM of the calling VM that the
// VMM may write to" (no MMIO, no holes, nothing the VM lacks write access
// to). The VMM answers from the VM's nested page tables. length > 0 and
// gpa + length does not wrap when decode() asks.
struct GuestMemoryChecker {
    bool (*permits_write)(void* context, std::uint64_t gpa, std::uint64_t length);
    void* context;

    [[nodiscard]] bool allows(std::uint64_t gpa, std::uint64_t length) const
    {
        return permits_write(context, gpa, length);
    }
};

// Copies bytes into the calling VM's memory at a range the checker allowed
// during decode(). Cannot fail: the VMM keeps the VM's memory map unchanged
// between decode and invoke (both run in one exit on one CPU).
struct GuestMemoryWriter {
    void (*write)(void* context, std::uint64_t gpa, const void* bytes, std::size_t length);
    void* context;
};

// Adapters from any callable, for tests and for VMM code holding a lambda.
// The callable must outlive the returned object.
template <class Fn>
[[nodiscard]] GuestMemoryChecker memory_checker_for(Fn& fn)
{
    return {[](void* context, std::uint64_t gpa, std::uint64_t length) -> bool {
                return (*static_cast<Fn*>(context))(gpa, length);
            },
            &fn};
}

template <class Fn>
[[nodiscard]] GuestMemoryWriter memory_writer_for(Fn& fn)
{
    return {[](void* context, std::uint64_t gpa, const void* bytes, std::size_t length) {
                (*static_cast<Fn*>(context))(gpa, bytes, length);
            },
            &fn};
}

enum class Call : std::uint64_t {
    version = BOXY_CALL_VERSION,
    get_stats = BOXY_CALL_GET_STATS,
    stop_cpu = BOXY_CALL_STOP_CPU,
    vm_create = BOXY_CALL_VM_CREATE,
    vm_destroy = BOXY_CALL_VM_DESTROY,
    memory_donate = BOXY_CALL_MEMORY_DONATE,
    memory_reclaim = BOXY_CALL_MEMORY_RECLAIM,
    vcpu_create = BOXY_CALL_VCPU_CREATE,
    vcpu_set_regs = BOXY_CALL_VCPU_SET_REGS,
    vcpu_get_regs = BOXY_CALL_VCPU_GET_REGS,
    vcpu_run = BOXY_CALL_VCPU_RUN,
    inject_interrupt = BOXY_CALL_INJECT_INTERRUPT,
};

struct NoArgs {};

struct GetStatsArgs {
    std::uint32_t cpu_index;      // < CallerContext::cpu_count
    std::uint64_t buffer_gpa;     // 8-byte aligned, checker-approved for buffer_length
    std::uint64_t buffer_length;  // sizeof(boxy_cpu_stats)..BOXY_GET_STATS_MAX_LENGTH
};

// Service-VM calls (abi.h). decode() checks what the registers alone
// decide: ranges, alignment, flags, that buffers are the caller's RAM. The
// VM and vCPU named must then be looked up by the VMM (vmm/vm/service_vm),
// which answers no_such_vm, no_such_vcpu, busy, exists or no_memory.
struct VmCreateArgs {
    std::uint64_t memory_size;  // 4 KiB multiple, 1..BOXY_VM_MAX_MEMORY
    std::uint32_t vcpu_count;   // 1..BOXY_MAX_VCPUS
};
struct VmArgs {
    std::uint32_t vm;  // 1..BOXY_MAX_VMS
};
struct DonateArgs {
    std::uint32_t vm;
    std::uint64_t gpa;       // 4 KiB aligned; gpa + pages * 4 KiB <= BOXY_VM_MAX_MEMORY
    std::uint64_t list_gpa;  // 8-byte aligned caller RAM, pages * 8 bytes
    std::uint32_t pages;     // 1..BOXY_DONATE_MAX_PAGES
};
struct ReclaimArgs {
    std::uint32_t vm;
    std::uint64_t gpa;  // as DonateArgs
    std::uint32_t pages;
};
struct VcpuArgs {
    std::uint32_t vm;
    std::uint32_t vcpu;    // < BOXY_MAX_VCPUS
    std::uint64_t buffer;  // create: run page (4 KiB aligned, 4 KiB); regs: the struct; run: 0
};
struct InjectArgs {
    std::uint32_t vm;
    std::uint32_t vcpu;
    std::uint8_t vector;  // 16..255
    bool level;
};

// A validated call: `call` says which member of `args` is active.
struct DecodedCall {
    Call call;
    union Args {
        NoArgs none;             // Call::version, stop_cpu
        GetStatsArgs get_stats;  // Call::get_stats
        VmCreateArgs vm_create;  // Call::vm_create
        VmArgs vm;               // Call::vm_destroy
        DonateArgs donate;       // Call::memory_donate
        ReclaimArgs reclaim;     // Call::memory_reclaim
        VcpuArgs vcpu;           // Call::vcpu_create, vcpu_set_regs, vcpu_get_regs, vcpu_run
        InjectArgs inject;       // Call::inject_interrupt
    } args;

    [[nodiscard]] static constexpr DecodedCall make_stop_cpu()
    {
        return {Call::stop_cpu, {.none = {}}};
    }

    [[nodiscard]] static constexpr DecodedCall make_version()
    {
        return {Call::version, {.none = {}}};
    }
    [[nodiscard]] static constexpr DecodedCall make_get_stats(GetStatsArgs get_stats)
    {
        return {Call::get_stats, {.get_stats = get_stats}};
    }
};

// Validates a call. Checks, in order: the call number (unknown_call), the
// caller's right to it (denied: management calls are for the host VM's
// ring 0 only), unused argument registers are zero (invalid_argument), then
// the call's own arguments (no_such_cpu, bad_length, bad_address; the
// checker is asked last, only about a range that passed the other checks).
[[nodiscard]] Result<DecodedCall, Status> decode(const HypercallRegisters& regs, CallerContext ctx,
                                                 const GuestMemoryChecker& memory);

// BOXY_CALL_STOP_CPU decodes only from the host kernel of a late-launched
// VMM (else denied / unsupported); the exit handler then leaves the CPU,
// with RAX = ok.

// RAX = status; nothing else changes.
void complete_with_error(Status status, HypercallRegisters& regs);

// BOXY_CALL_VERSION: RDI = ABI version, RSI = kFeatures (plus
// BOXY_FEATURE_SERVICE_VMS if service_vms), RDX = cpu_count.
void invoke_version(std::uint32_t cpu_count, HypercallRegisters& regs, bool service_vms = false);

// BOXY_CALL_GET_STATS: writes stats.snapshot() to args.buffer_gpa through
// `writer`; RDI = bytes written. `stats` is the ExitStats of CPU
// args.cpu_index.
void invoke_get_stats(const GetStatsArgs& args, const ExitStats& stats,
                      const GuestMemoryWriter& writer, HypercallRegisters& regs);

}  // namespace boxy::vmm::hypercall
