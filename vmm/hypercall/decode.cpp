// SPDX-License-Identifier: MIT
//
// Hypercall decoding: everything here reads registers a VM controls, so
// every value is range-checked before it is used, and arithmetic on guest
// addresses is checked for wrap-around before it is done.
#include "hypercall.hpp"

namespace boxy::vmm::hypercall {
namespace {

using Check = Result<void, Status>;

constexpr std::size_t kArgumentRegisters = 6;

// Argument i in ABI order: RDI, RSI, RDX, R10, R8, R9.
std::uint64_t argument(const HypercallRegisters& regs, std::size_t i)
{
    switch (i) {
        case 0: return regs.rdi;
        case 1: return regs.rsi;
        case 2: return regs.rdx;
        case 3: return regs.r10;
        case 4: return regs.r8;
        default: return regs.r9;
    }
}

// Management calls belong to the host kernel. VMMCALL and VMCALL exit at
// any CPL (APM Vol. 2, 15.9; SDM Vol. 3C, "Instructions That Cause VM Exits
// Unconditionally"), so ring 3 of the host reaches the VMM too and is
// turned away here.
Check require_host_kernel(const CallerContext& ctx)
{
    if (!ctx.is_host_vm || ctx.cpl != 0) {
        return make_error(Status::denied);
    }
    return {};
}

// Unused argument registers must be zero, so that a later minor version can
// give them a meaning without old callers passing garbage in them.
Check require_unused_zero(const HypercallRegisters& regs, std::size_t used)
{
    for (std::size_t i = used; i < kArgumentRegisters; ++i) {
        if (argument(regs, i) != 0) {
            return make_error(Status::invalid_argument);
        }
    }
    return {};
}

// A guest buffer the VMM will write: [gpa, gpa + length).
Check check_buffer(std::uint64_t gpa, std::uint64_t length, std::uint64_t min_length,
                   std::uint64_t max_length, const CallerContext& ctx,
                   const GuestMemoryChecker& memory)
{
    if (length < min_length || length > max_length) {
        return make_error(Status::bad_length);
    }
    // Null is never a buffer; 8-byte alignment keeps the VMM's stores to
    // the buffer aligned, and a buffer so aligned never splits a u64.
    if (gpa == 0 || gpa % 8 != 0) {
        return make_error(Status::bad_address);
    }
    if (gpa > UINT64_MAX - length) {
        return make_error(Status::bad_address);  // gpa + length wraps
    }
    const std::uint64_t end = gpa + length;
    const std::uint8_t bits = ctx.physical_address_bits < CallerContext::kMaxPhysicalAddressBits
                                  ? ctx.physical_address_bits
                                  : CallerContext::kMaxPhysicalAddressBits;
    // Beyond the VM's physical address width nothing exists (the
    // guest-physical analogue of a non-canonical address).
    if (end > (std::uint64_t{1} << bits)) {
        return make_error(Status::bad_address);
    }
    if (!memory.allows(gpa, length)) {
        return make_error(Status::bad_address);
    }
    return {};
}

Result<DecodedCall, Status> decode_version(const HypercallRegisters& regs, const CallerContext& ctx)
{
    BOXY_TRY(require_host_kernel(ctx));
    BOXY_TRY(require_unused_zero(regs, 0));
    return DecodedCall::make_version();
}

Result<DecodedCall, Status> decode_get_stats(const HypercallRegisters& regs,
                                             const CallerContext& ctx,
                                             const GuestMemoryChecker& memory)
{
    BOXY_TRY(require_host_kernel(ctx));
    BOXY_TRY(require_unused_zero(regs, 3));
    const std::uint64_t cpu_index = regs.rdi;
    const std::uint64_t gpa = regs.rsi;
    const std::uint64_t length = regs.rdx;
    if (cpu_index >= ctx.cpu_count) {
        return make_error(Status::no_such_cpu);
    }
    BOXY_TRY(
        check_buffer(gpa, length, sizeof(boxy_cpu_stats), BOXY_GET_STATS_MAX_LENGTH, ctx, memory));
    return DecodedCall::make_get_stats({static_cast<std::uint32_t>(cpu_index), gpa, length});
}

Result<DecodedCall, Status> decode_stop_cpu(const HypercallRegisters& regs,
                                            const CallerContext& ctx)
{
    BOXY_TRY(require_host_kernel(ctx));
    BOXY_TRY(require_unused_zero(regs, 0));
    if (!ctx.late_launched) {
        return make_error(Status::unsupported);
    }
    return DecodedCall::make_stop_cpu();
}

// --- Service VMs (abi.h, calls 0x10-0x4F) -----------------------------------

constexpr std::uint64_t kPage = 4096;

Check check_vm(std::uint64_t vm)
{
    if (vm == 0 || vm > BOXY_MAX_VMS) {
        return make_error(Status::no_such_vm);
    }
    return {};
}

Check check_vcpu(std::uint64_t vcpu)
{
    if (vcpu >= BOXY_MAX_VCPUS) {
        return make_error(Status::no_such_vcpu);
    }
    return {};
}

// [gpa, gpa + pages * 4 KiB) inside the largest guest-physical space a VM has.
Check check_guest_range(std::uint64_t gpa, std::uint64_t pages)
{
    if (pages == 0 || pages > BOXY_DONATE_MAX_PAGES) {
        return make_error(Status::bad_length);
    }
    if (gpa % kPage != 0 || gpa >= BOXY_VM_MAX_MEMORY || pages * kPage > BOXY_VM_MAX_MEMORY - gpa) {
        return make_error(Status::bad_address);
    }
    return {};
}

Result<DecodedCall, Status> decode_vm_create(const HypercallRegisters& regs)
{
    BOXY_TRY(require_unused_zero(regs, 2));
    const std::uint64_t size = regs.rdi;
    if (size == 0 || size % kPage != 0 || size > BOXY_VM_MAX_MEMORY) {
        return make_error(Status::invalid_argument);
    }
    if (regs.rsi == 0 || regs.rsi > BOXY_MAX_VCPUS) {
        return make_error(Status::invalid_argument);
    }
    DecodedCall call{Call::vm_create, {.vm_create = {size, static_cast<std::uint32_t>(regs.rsi)}}};
    return call;
}

Result<DecodedCall, Status> decode_vm_destroy(const HypercallRegisters& regs)
{
    BOXY_TRY(require_unused_zero(regs, 1));
    BOXY_TRY(check_vm(regs.rdi));
    DecodedCall call{Call::vm_destroy, {.vm = {static_cast<std::uint32_t>(regs.rdi)}}};
    return call;
}

Result<DecodedCall, Status> decode_donate(const HypercallRegisters& regs, const CallerContext& ctx,
                                          const GuestMemoryChecker& memory)
{
    BOXY_TRY(require_unused_zero(regs, 4));
    BOXY_TRY(check_vm(regs.rdi));
    BOXY_TRY(check_guest_range(regs.rsi, regs.r10));
    const std::uint64_t list_length = regs.r10 * sizeof(std::uint64_t);
    BOXY_TRY(check_buffer(regs.rdx, list_length, list_length, list_length, ctx, memory));
    DecodedCall call{Call::memory_donate,
                     {.donate = {static_cast<std::uint32_t>(regs.rdi), regs.rsi, regs.rdx,
                                 static_cast<std::uint32_t>(regs.r10)}}};
    return call;
}

Result<DecodedCall, Status> decode_reclaim(const HypercallRegisters& regs)
{
    BOXY_TRY(require_unused_zero(regs, 3));
    BOXY_TRY(check_vm(regs.rdi));
    BOXY_TRY(check_guest_range(regs.rsi, regs.rdx));
    DecodedCall call{Call::memory_reclaim,
                     {.reclaim = {static_cast<std::uint32_t>(regs.rdi), regs.rsi,
                                  static_cast<std::uint32_t>(regs.rdx)}}};
    return call;
}

// VCPU_CREATE (run page), SET_REGS/GET_REGS (register struct), RUN (none).
Result<DecodedCall, Status> decode_vcpu(Call which, const HypercallRegisters& regs,
                                        const CallerContext& ctx, const GuestMemoryChecker& memory)
{
    const bool has_buffer = which != Call::vcpu_run;
    BOXY_TRY(require_unused_zero(regs, has_buffer ? 3 : 2));
    BOXY_TRY(check_vm(regs.rdi));
    BOXY_TRY(check_vcpu(regs.rsi));
    if (which == Call::vcpu_create) {
        if (regs.rdx % kPage != 0) {
            return make_error(Status::bad_address);
        }
        BOXY_TRY(check_buffer(regs.rdx, kPage, kPage, kPage, ctx, memory));
    } else if (has_buffer) {
        constexpr std::uint64_t kLength = sizeof(boxy_vcpu_regs);
        BOXY_TRY(check_buffer(regs.rdx, kLength, kLength, kLength, ctx, memory));
    }
    DecodedCall call{which,
                     {.vcpu = {static_cast<std::uint32_t>(regs.rdi),
                               static_cast<std::uint32_t>(regs.rsi), has_buffer ? regs.rdx : 0}}};
    return call;
}

Result<DecodedCall, Status> decode_inject(const HypercallRegisters& regs)
{
    BOXY_TRY(require_unused_zero(regs, 4));
    BOXY_TRY(check_vm(regs.rdi));
    BOXY_TRY(check_vcpu(regs.rsi));
    // Vectors 0-31 are exceptions; 16-31 reach a local APIC only as an
    // illegal vector (SDM Vol. 3A, 11.5.2), so injecting them is refused.
    constexpr std::uint64_t kFirstVector = 32;
    if (regs.rdx < kFirstVector || regs.rdx > 255) {
        return make_error(Status::invalid_argument);
    }
    if ((regs.r10 & ~BOXY_INJECT_LEVEL) != 0) {
        return make_error(Status::invalid_argument);
    }
    DecodedCall call{
        Call::inject_interrupt,
        {.inject = {static_cast<std::uint32_t>(regs.rdi), static_cast<std::uint32_t>(regs.rsi),
                    static_cast<std::uint8_t>(regs.rdx), (regs.r10 & BOXY_INJECT_LEVEL) != 0}}};
    return call;
}

Result<DecodedCall, Status> decode_service_vm_call(const HypercallRegisters& regs,
                                                   const CallerContext& ctx,
                                                   const GuestMemoryChecker& memory)
{
    BOXY_TRY(require_host_kernel(ctx));
    if (!ctx.service_vms) {
        return make_error(Status::unsupported);
    }
    switch (regs.rax) {
        case BOXY_CALL_VM_CREATE: return decode_vm_create(regs);
        case BOXY_CALL_VM_DESTROY: return decode_vm_destroy(regs);
        case BOXY_CALL_MEMORY_DONATE: return decode_donate(regs, ctx, memory);
        case BOXY_CALL_MEMORY_RECLAIM: return decode_reclaim(regs);
        case BOXY_CALL_VCPU_CREATE: return decode_vcpu(Call::vcpu_create, regs, ctx, memory);
        case BOXY_CALL_VCPU_SET_REGS: return decode_vcpu(Call::vcpu_set_regs, regs, ctx, memory);
        case BOXY_CALL_VCPU_GET_REGS: return decode_vcpu(Call::vcpu_get_regs, regs, ctx, memory);
        case BOXY_CALL_VCPU_RUN: return decode_vcpu(Call::vcpu_run, regs, ctx, memory);
        case BOXY_CALL_INJECT_INTERRUPT: return decode_inject(regs);
        default: return make_error(Status::unknown_call);
    }
}

}  // namespace

std::string_view to_string(Status status)
{
    switch (status) {
        case Status::ok: return "ok";
        case Status::unknown_call: return "unknown call";
        case Status::denied: return "denied";
        case Status::invalid_argument: return "invalid argument";
        case Status::bad_address: return "bad address";
        case Status::bad_length: return "bad length";
        case Status::no_such_cpu: return "no such cpu";
        case Status::unsupported: return "unsupported";
        case Status::no_memory: return "no memory";
        case Status::no_such_vm: return "no such VM";
        case Status::no_such_vcpu: return "no such vCPU";
        case Status::busy: return "busy";
        case Status::exists: return "exists";
    }
    return "unknown status";
}

Result<DecodedCall, Status> decode(const HypercallRegisters& regs, CallerContext ctx,
                                   const GuestMemoryChecker& memory)
{
    switch (regs.rax) {
        case BOXY_CALL_VERSION: return decode_version(regs, ctx);
        case BOXY_CALL_GET_STATS: return decode_get_stats(regs, ctx, memory);
        case BOXY_CALL_STOP_CPU: return decode_stop_cpu(regs, ctx);
        case BOXY_CALL_VM_CREATE:
        case BOXY_CALL_VM_DESTROY:
        case BOXY_CALL_MEMORY_DONATE:
        case BOXY_CALL_MEMORY_RECLAIM:
        case BOXY_CALL_VCPU_CREATE:
        case BOXY_CALL_VCPU_SET_REGS:
        case BOXY_CALL_VCPU_GET_REGS:
        case BOXY_CALL_VCPU_RUN:
        case BOXY_CALL_INJECT_INTERRUPT: return decode_service_vm_call(regs, ctx, memory);
        default: return make_error(Status::unknown_call);
    }
}

}  // namespace boxy::vmm::hypercall
