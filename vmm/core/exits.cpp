// SPDX-License-Identifier: MIT
#include "exits.hpp"

#include "hypercall/cpuid_leaves.hpp"
#include "hypercall/hypercall.hpp"
#include "log.hpp"
#include "mmio.hpp"
#include "vm/service_vm.hpp"
#include "vmm_state.hpp"
#include "xapic.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>

namespace boxy::vmm {
namespace {

namespace msr = x64::msr;
using R = GuestGprs;

constexpr ExitAction inject(std::uint8_t vector, std::string_view why)
{
    return {ActionKind::inject_exception, vector, vector == kVectorGp, 0, why};
}

void set_edx_eax(GuestGprs& g, std::uint64_t value)
{
    g.r[R::rax] = value & 0xFFFFFFFF;
    g.r[R::rdx] = value >> 32;
}

// CPUID as the host sees it (docs/abi.md): the hypervisor-present bit, Boxy's
// leaves at 0x40000000, and the virtualization extension hidden so the host
// behaves as on a CPU without it (APM Vol. 3, E.4.2: Fn8000_0001 ECX[2] SVM).
ExitAction handle_cpuid(GuestGprs& g)
{
    const auto leaf = static_cast<std::uint32_t>(g.r[R::rax]);
    const auto subleaf = static_cast<std::uint32_t>(g.r[R::rcx]);
    hypercall::CpuidRegisters out{};
    if (!hypercall::boxy_cpuid_leaf(leaf, out)) {
        const auto real = x64::cpuid(leaf, subleaf);
        out = {real.eax, real.ebx, real.ecx, real.edx};
        if (leaf == 1) {
            out.ecx |= 1U << 31;    // hypervisor present (SDM Vol. 2A, CPUID, Table 3-10)
            out.ecx &= ~(1U << 5);  // VMX
        } else if (leaf == 0x80000001) {
            out.ecx &= ~(1U << 2);  // SVM
        } else if (leaf == 0x8000000A) {
            out = {};  // SVM revision and features: none
        }
    }
    g.r[R::rax] = out.eax;
    g.r[R::rbx] = out.ebx;
    g.r[R::rcx] = out.ecx;
    g.r[R::rdx] = out.edx;
    return {};
}

// Only the MSRs whose intercept bits vmm_init() sets arrive here.
ExitAction handle_msr_read(GuestGprs& g, GuestControl& guest)
{
    switch (static_cast<std::uint32_t>(g.r[R::rcx])) {
        case msr::kEfer: set_edx_eax(g, guest.efer & ~guest.efer_hidden_bits); return {};
        // What an AMD CPU whose firmware disabled SVM reports (APM Vol. 2,
        // 15.30.1): SVMDIS set and locked.
        case msr::kVmCr: set_edx_eax(g, msr::kVmCrSvmDis | msr::kVmCrLock); return {};
        case msr::kVmHsavePa: set_edx_eax(g, 0); return {};
        // What an Intel CPU whose firmware disabled VT-x reports: locked,
        // VMX inside and outside SMX and SENTER off (SDM Vol. 3C, 24.7).
        case msr::kFeatureControl: {
            constexpr std::uint64_t kLock = 1U << 0;
            constexpr std::uint64_t kVmxAndSenter = 0xFF06;  // bits 1, 2, 8-15
            set_edx_eax(g, (x64::rdmsr(msr::kFeatureControl) & ~kVmxAndSenter) | kLock);
            return {};
        }
        default: return inject(kVectorGp, "read of an intercepted MSR");
    }
}

ExitAction handle_msr_write(GuestGprs& g, GuestControl& guest)
{
    const std::uint64_t value = (g.r[R::rdx] << 32) | (g.r[R::rax] & 0xFFFFFFFF);
    switch (static_cast<std::uint32_t>(g.r[R::rcx])) {
        case msr::kEfer:
            // Setting EFER.SVME without SVM is a reserved-bit write: #GP
            // (APM Vol. 2, 3.1.7).
            if ((value & guest.efer_hidden_bits) != 0) {
                return inject(kVectorGp, "EFER.SVME write");
            }
            guest.efer = value | guest.efer_hidden_bits;
            return {};
        case msr::kFeatureControl:  // locked: writes fault (SDM Vol. 3C, 24.7)
            return inject(kVectorGp, "IA32_FEATURE_CONTROL write");
        default: return inject(kVectorGp, "write of an intercepted MSR");
    }
}

// XSETBV exits unconditionally on VMX (SDM Vol. 3C, 26.1.2). The VMM
// executes it for the guest after the checks the instruction makes, so a
// value that would fault faults in the guest, not in the VMM (SDM Vol. 2C,
// XSETBV; Vol. 1, 13.3 "Enabling the XSAVE Feature Set").
ExitAction handle_xsetbv(GuestGprs& g, const ExitInfo& exit, const GuestControl& guest)
{
    constexpr std::uint64_t kCr4Osxsave = 1U << 18;
    if ((guest.cr4 & kCr4Osxsave) == 0) {
        return {ActionKind::inject_exception, kVectorUd, false, 0, "XSETBV with CR4.OSXSAVE clear"};
    }
    const std::uint64_t value = (g.r[R::rdx] << 32) | (g.r[R::rax] & 0xFFFFFFFF);
    const auto supported = x64::cpuid(0xD, 0);
    const std::uint64_t allowed = (std::uint64_t{supported.edx} << 32) | supported.eax;
    auto pair_differs = [value](unsigned a, unsigned b) {
        return ((value >> a) & 1) != ((value >> b) & 1);
    };
    constexpr std::uint64_t kX87 = 1U << 0;
    constexpr std::uint64_t kSse = 1U << 1;
    constexpr std::uint64_t kAvx = 1U << 2;
    constexpr std::uint64_t kAvx512 = 7U << 5;
    const bool bad =
        exit.cpl != 0 || static_cast<std::uint32_t>(g.r[R::rcx]) != 0 || (value & kX87) == 0 ||
        (value & ~allowed) != 0 || ((value & kAvx) != 0 && (value & kSse) == 0) ||
        ((value & kAvx512) != 0 && ((value & kAvx512) != kAvx512 || (value & kAvx) == 0)) ||
        pair_differs(3, 4) || pair_differs(17, 18);
    if (bad) {
        return inject(kVectorGp, "XSETBV with a value the CPU refuses");
    }
    // The VMM runs with the CR4 its launcher had, where OSXSAVE may be off
    // (OVMF's is), and XSETBV would raise #UD here.
    x64::write_cr4(x64::read_cr4() | kCr4Osxsave);
    asm volatile("xsetbv" ::"a"(static_cast<std::uint32_t>(value)),
                 "d"(static_cast<std::uint32_t>(value >> 32)), "c"(0U));
    return {};
}

ExitAction handle_hypercall(PerCpu& cpu, const ExitInfo& exit)
{
    auto& s = state();
    GuestGprs& g = cpu.gprs;
    hypercall::HypercallRegisters regs{g.r[R::rax], g.r[R::rdi], g.r[R::rsi], g.r[R::rdx],
                                       g.r[R::r10], g.r[R::r8],  g.r[R::r9]};
    hypercall::CallerContext ctx{exit.cpl, true, s.cpu_count};
    ctx.late_launched = late_launched();
    ctx.service_vms = s.backend->service_vms != nullptr;
    // The host VM may have the VMM write to any memory its nested tables map
    // to itself, never into the VMM's region.
    auto permits = [&s](std::uint64_t gpa, std::uint64_t length) {
        return gpa + length <= s.boot.phys_top && !is_vmm_memory(gpa, length);
    };
    const auto checker = hypercall::memory_checker_for(permits);
    auto call = hypercall::decode(regs, ctx, checker);
    if (!call) {
        hypercall::complete_with_error(call.error(), regs);
    } else {
        switch (call->call) {
            case hypercall::Call::version:
                hypercall::invoke_version(s.cpu_count, regs, ctx.service_vms);
                break;
            case hypercall::Call::get_stats: {
                // Identity-mapped in the VMM's page tables; checked above.
                auto write = [](std::uint64_t gpa, const void* bytes, std::size_t length) {
                    auto* dst = reinterpret_cast<volatile std::uint8_t*>(gpa);
                    const auto* src = static_cast<const std::uint8_t*>(bytes);
                    for (std::size_t i = 0; i < length; ++i) {
                        dst[i] = src[i];
                    }
                };
                const auto writer = hypercall::memory_writer_for(write);
                const auto& args = call->args.get_stats;
                hypercall::invoke_get_stats(args, s.cpus[args.cpu_index]->stats, writer, regs);
                break;
            }
            case hypercall::Call::stop_cpu:
                g.r[R::rax] = BOXY_STATUS_OK;
                return {ActionKind::leave_vmm, 0, false, 0, "BOXY_CALL_STOP_CPU"};
            default: service::invoke(cpu, *call, regs); break;
        }
    }
    g.r[R::rax] = regs.rax;
    g.r[R::rdi] = regs.rdi;
    g.r[R::rsi] = regs.rsi;
    g.r[R::rdx] = regs.rdx;
    return {};
}

// VMM memory seen from the host: it reads as all ones and ignores writes,
// like a physical range with nothing behind it (docs/architecture.md, "VMM
// memory"); the host's data never reaches it and nothing of it leaks.
void absent_memory(void* /*context*/, PerCpu& /*cpu*/, MmioRequest& request)
{
    if (!request.write) {
        request.value = ~std::uint64_t{0};
    }
}

ExitAction handle_nested_page_fault(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest)
{
    if (xapic::is_apic_page(exit.address)) {
        return xapic::handle_access(cpu, exit, guest);
    }
    if (is_vmm_memory(exit.address, 1)) {
        // Say so a few times, not once per access.
        static constinit std::uint32_t reported = 0;
        if (__atomic_fetch_add(&reported, 1U, __ATOMIC_RELAXED) < 4) {
            log::Line(log::Level::warn, cpu.index)
                << "host access to VMM memory at " << log::Hex{exit.address} << " (rip "
                << log::Hex{guest.rip} << "): reads as all ones, writes ignored";
        }
        return emulate_mmio(cpu, exit, guest, MmioDevice{absent_memory, nullptr});
    }
    log::Line(log::Level::error, cpu.index)
        << "nested page fault outside VMM memory at " << log::Hex{exit.address} << ", error code "
        << log::Hex{exit.error_code};
    return {ActionKind::fatal, 0, false, 0, "nested page fault on memory the host owns"};
}

// HLT and MWAIT are intercepted while a CPU may be waiting to be started
// (vmm/core/xapic.hpp). With interrupts off, a HLT can only end by INIT:
// park in the VMM until one is posted (the backend then resets the guest).
// An MWAIT may end at any time (SDM Vol. 2B, MWAIT: "spurious wake-ups"),
// so it returns at once, and the guest's wait loop passes through here
// until an INIT arrives. With interrupts on, the CPU idles in its OS: stop
// intercepting both and let them run natively.
ExitAction handle_idle(PerCpu& cpu, const ExitInfo& exit, const GuestControl& guest)
{
    constexpr std::uint64_t kRflagsIf = 1U << 9;
    if ((guest.rflags & kRflagsIf) != 0) {
        return {ActionKind::stop_idle_intercept};
    }
    if (exit.mwait) {
        constexpr std::uint8_t kMwaitLength = 3;  // 0F 01 C9
        return {ActionKind::advance, 0, false, 0, {}, kMwaitLength};
    }
    xapic::park(cpu);
    return {ActionKind::resume};
}

}  // namespace

ExitAction handle_exit(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest)
{
    cpu.stats.record(exit.reason);
    switch (exit.reason) {
        case ExitReason::cpuid: return handle_cpuid(cpu.gprs);
        case ExitReason::msr_read: return handle_msr_read(cpu.gprs, guest);
        case ExitReason::msr_write: return handle_msr_write(cpu.gprs, guest);
        case ExitReason::hypercall: return handle_hypercall(cpu, exit);
        case ExitReason::nested_page_fault: return handle_nested_page_fault(cpu, exit, guest);
        case ExitReason::hlt: return handle_idle(cpu, exit, guest);
        case ExitReason::xsetbv: return handle_xsetbv(cpu.gprs, exit, guest);
        case ExitReason::virtualization_instruction:
            // With EFER.SVME clear (as the host sees it) these raise #UD (APM Vol. 3, VMRUN etc.).
            return {ActionKind::inject_exception, kVectorUd, false, 0,
                    "virtualization instruction"};
        case ExitReason::shutdown:
            return {ActionKind::reset_machine, 0, false, 0, "host triple fault (shutdown)"};
        case ExitReason::invalid_state:
            return {ActionKind::fatal, 0, false, 0, "VM entry refused the guest state"};
        default: return {ActionKind::fatal, 0, false, 0, "unexpected VM exit"};
    }
}

}  // namespace boxy::vmm
