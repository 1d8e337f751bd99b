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
        default: return make_error(Status::unknown_call);
    }
}

}  // namespace boxy::vmm::hypercall
