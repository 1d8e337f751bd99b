// SPDX-License-Identifier: MIT
#include "svm.hpp"

#include "core/exits.hpp"
#include "core/log.hpp"
#include "core/mmio.hpp"
#include "core/native_state.hpp"
#include "core/vmm_state.hpp"
#include "core/xapic.hpp"
#include "vmcb.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>
#include <arch/x64/port_io.hpp>
#include <arch/x64/segment.hpp>

extern "C" void boxy_svm_vmrun(boxy::vmm::GuestGprs* gprs, std::uint64_t vmcb_pa);

namespace boxy::svm {

namespace msr = x64::msr;
using vmm::ExitReason;
using vmm::GuestGprs;

// Exit codes to neutral reasons (APM Vol. 2, Appendix C).
ExitReason reason_of(std::uint64_t code, std::uint64_t info1)
{
    switch (code) {
        case exit_code::kCpuid: return ExitReason::cpuid;
        case exit_code::kMsr: return info1 == 0 ? ExitReason::msr_read : ExitReason::msr_write;
        case exit_code::kVmmcall: return ExitReason::hypercall;
        case exit_code::kNpf: return ExitReason::nested_page_fault;
        case exit_code::kVmrun:
        case exit_code::kVmload:
        case exit_code::kVmsave:
        case exit_code::kStgi:
        case exit_code::kClgi:
        case exit_code::kSkinit:
        case exit_code::kInvlpga: return ExitReason::virtualization_instruction;
        case exit_code::kShutdown: return ExitReason::shutdown;
        case exit_code::kInit: return ExitReason::init;
        case exit_code::kHlt:
        case exit_code::kMwait:
        case exit_code::kMwaitConditional: return ExitReason::hlt;
        case exit_code::kIoio: return ExitReason::io;
        case exit_code::kIntr: return ExitReason::interrupt;
        case exit_code::kNmi: return ExitReason::nmi;
        case exit_code::kXsetbv: return ExitReason::xsetbv;
        case exit_code::kInvalid: return ExitReason::invalid_state;
        default: break;
    }
    if (code >= exit_code::kExceptionBase && code < exit_code::kExceptionBase + 32) {
        return ExitReason::exception;
    }
    return ExitReason::other;
}

namespace {

// The length of the exiting instruction in its usual encoding, used only if
// the instruction at RIP cannot be fetched and decoded: CPUID 0F A2,
// RDMSR 0F 32, WRMSR 0F 30, VMMCALL 0F 01 D9, the SVM instructions
// 0F 01 D8..DF.
std::uint8_t fixed_length(ExitReason reason)
{
    switch (reason) {
        case ExitReason::cpuid:
        case ExitReason::msr_read:
        case ExitReason::msr_write: return 2;
        case ExitReason::hypercall:
        case ExitReason::virtualization_instruction: return 3;
        default: return 0;
    }
}

void dump_and_stop(vmm::PerCpu& cpu, std::string_view why) noexcept
{
    const Vmcb& v = vmcb_of(cpu);
    using vmm::log::Hex;
    using vmm::log::Level;
    using vmm::log::Line;
    Line(Level::error, cpu.index) << "FATAL: " << why << " (exit code " << Hex{v.control.exit_code}
                                  << ", info1 " << Hex{v.control.exit_info1} << ", info2 "
                                  << Hex{v.control.exit_info2} << ")";
    Line(Level::error, cpu.index) << "guest rip " << Hex{v.save.rip} << " rsp " << Hex{v.save.rsp}
                                  << " rflags " << Hex{v.save.rflags} << " cpl " << v.save.cpl;
    Line(Level::error, cpu.index) << "guest cr0 " << Hex{v.save.cr0} << " cr3 " << Hex{v.save.cr3}
                                  << " cr4 " << Hex{v.save.cr4} << " efer " << Hex{v.save.efer};
    Line(Level::error, cpu.index) << "guest cs " << Hex{v.save.cs.selector} << " base "
                                  << Hex{v.save.cs.base} << " attrib " << Hex{v.save.cs.attrib};
    const GuestGprs& g = cpu.gprs;
    Line(Level::error, cpu.index) << "rax " << Hex{v.save.rax} << " rbx "
                                  << Hex{g.r[GuestGprs::rbx]} << " rcx " << Hex{g.r[GuestGprs::rcx]}
                                  << " rdx " << Hex{g.r[GuestGprs::rdx]};
    Line(Level::error, cpu.index) << "VMM stopped on this CPU; the machine must be reset";
    x64::halt_forever();
}

}  // namespace

// The state INIT leaves a CPU in (APM Vol. 2, 14.1.3, Table 14-1 "Initial
// Processor State"; SDM Vol. 3, Table 10-1), with EFER.SVME kept for VMRUN.
void reset_to_init_state(Vmcb& v)
{
    constexpr std::uint16_t kDataAttrib = 0x93;  // present, writable, accessed
    constexpr std::uint16_t kCodeAttrib = 0x9B;  // present, readable code, accessed
    v.save.cs = {0xF000, kCodeAttrib, 0xFFFF, 0xFFFF0000};
    v.save.ds = v.save.es = v.save.ss = v.save.fs = v.save.gs = {0, kDataAttrib, 0xFFFF, 0};
    v.save.gdtr = {0, 0, 0xFFFF, 0};
    v.save.idtr = {0, 0, 0xFFFF, 0};
    v.save.ldtr = {0, 0x82, 0xFFFF, 0};  // present LDT
    v.save.tr = {0, 0x8B, 0xFFFF, 0};    // present busy 16-bit TSS
    v.save.cpl = 0;
    v.save.efer = msr::kEferSvme;
    v.save.cr0 = 0x60000010;  // CD, NW, ET
    v.save.cr2 = v.save.cr3 = v.save.cr4 = 0;
    v.save.dr7 = 0x400;
    v.save.dr6 = 0xFFFF0FF0;
    v.save.rflags = 0x2;
    v.save.rip = 0xFFF0;
    v.save.rsp = 0;
    v.save.rax = 0;
    v.save.star = v.save.lstar = v.save.cstar = v.save.sfmask = v.save.kernel_gs_base = 0;
    v.save.sysenter_cs = v.save.sysenter_esp = v.save.sysenter_eip = 0;
    v.save.g_pat = 0x0007040600070406ULL;  // power-on PAT
    v.control.event_inject = 0;
    v.control.tlb_control = 1;
    v.control.intercept_misc1 |= misc1::kHlt;  // it may park again before its OS runs
    v.control.intercept_misc2 |= kIdleMisc2;
}

// A start-up IPI with vector V starts real-mode execution at V * 4096
// (SDM Vol. 3, 9.4.4.1): CS = V << 8, IP = 0.
void start_at_sipi(Vmcb& v, vmm::GuestGprs& gprs, std::uint8_t vector)
{
    v.save.cs.selector = static_cast<std::uint16_t>(vector << 8);
    v.save.cs.base = static_cast<std::uint64_t>(vector) << 12;
    v.save.rip = 0;
    for (auto& r : gprs.r) {
        r = 0;
    }
    // EDX holds the processor signature after reset (CPUID Fn0000_0001 EAX).
    gprs.r[GuestGprs::rdx] = x64::cpuid(1).eax;
}

namespace {

// Returns true if the guest was reset and started anew.
bool take_startup_ipis(vmm::PerCpu& cpu, Vmcb& v)
{
    if (!vmm::xapic::take_init(cpu)) {
        return false;
    }
    reset_to_init_state(v);
    const std::uint8_t vector = vmm::xapic::wait_for_sipi(cpu);
    start_at_sipi(v, cpu.gprs, vector);
    vmm::log::Line(vmm::log::Level::info, cpu.index)
        << "INIT-SIPI: starting the host at "
        << vmm::log::Hex{static_cast<std::uint64_t>(vector) << 12} << " in the VM";
    return true;
}

// BOXY_CALL_STOP_CPU: give the CPU back to the guest, natively, at the
// instruction after the hypercall. What VMRUN never swaps (FS, GS, TR and
// LDTR with their hidden parts, KernelGsBase, the SYSCALL/SYSENTER MSRs) is
// the guest's in the CPU already: vmrun.S VMLOADs it before each VMRUN and
// the VMM never changes it (APM Vol. 2, 15.5.2). GIF must be set before SVM
// is disabled, or INIT and NMIs stay blocked (APM 15.17).
[[noreturn]] void leave(vmm::PerCpu& cpu, const Vmcb& v)
{
    vmm::NativeState n{};
    read_gprs(cpu.gprs, v, n.gprs);
    n.rip = v.save.rip;
    n.rsp = v.save.rsp;
    n.rflags = v.save.rflags;
    n.cr0 = v.save.cr0;
    n.cr3 = v.save.cr3;
    n.cr4 = v.save.cr4;
    n.cs = v.save.cs.selector;
    n.ss = v.save.ss.selector;
    n.ds = v.save.ds.selector;
    n.es = v.save.es.selector;
    n.fs = v.save.fs.selector;
    n.gs = v.save.gs.selector;
    n.fs_base = v.save.fs.base;
    n.gs_base = v.save.gs.base;
    n.gdtr.limit = static_cast<std::uint16_t>(v.save.gdtr.limit);
    n.gdtr.base = v.save.gdtr.base;
    n.idtr.limit = static_cast<std::uint16_t>(v.save.idtr.limit);
    n.idtr.base = v.save.idtr.base;

    vmm::mark_left(cpu);
    x64::wrmsr(msr::kPat, v.save.g_pat);
    x64::write_cr2(v.save.cr2);
    x64::write_dr7(v.save.dr7);
    asm volatile("stgi" ::: "memory");
    x64::wrmsr(msr::kEfer, v.save.efer & ~msr::kEferSvme);
    boxy_resume_native(&n);
}

}  // namespace

void run(vmm::PerCpu& cpu)
{
    const auto& s = svm_state();
    Vmcb& v = vmcb_of(cpu);
    // Fields changed since the last VMRUN; everything on the first one.
    // Without clean-bit support the field must stay zero (APM 15.15.3).
    std::uint32_t dirty = clean::kAll;
    for (;;) {
        v.control.clean_bits = s.vmcb_clean_bits ? (clean::kAll & ~dirty) : 0;
        dirty = 0;
        boxy_svm_vmrun(&cpu.gprs, cpu.vmcb_pa);
        v.control.tlb_control = 0;
        v.control.event_inject = 0;

        vmm::ExitInfo exit;
        exit.vendor_code = v.control.exit_code;
        exit.reason = reason_of(v.control.exit_code, v.control.exit_info1);
        exit.cpl = v.save.cpl;
        exit.mwait = exit.vendor_code == exit_code::kMwait ||
                     exit.vendor_code == exit_code::kMwaitConditional;
        if (exit.reason == ExitReason::nested_page_fault) {
            exit.address = v.control.exit_info2;
            exit.error_code = v.control.exit_info1;
            // Decode assists hand over the faulting instruction's bytes.
            if (s.decode_assists && (v.control.bytes_fetched & 0xF) != 0) {
                exit.instruction_bytes = v.control.guest_instruction_bytes;
                exit.instruction_bytes_count = v.control.bytes_fetched & 0xF;
            }
        }
        vmm::GuestControl guest = guest_control_of(v);
        cpu.gprs.r[GuestGprs::rax] = v.save.rax;
        const vmm::ExitAction action = vmm::handle_exit(cpu, exit, guest);
        v.save.rax = cpu.gprs.r[GuestGprs::rax];
        if (v.save.efer != guest.efer) {
            dirty |= clean::kControlRegisters;
        }
        v.save.efer = guest.efer;
        v.save.rip = guest.rip;

        switch (action.kind) {
            case vmm::ActionKind::leave_vmm:
            case vmm::ActionKind::advance: {
                // NRIP-save gives the next RIP (APM Vol. 2, 15.7.1); without it
                // (QEMU TCG) Zydis decodes the instruction at RIP, and the
                // fixed encodings are the last resort.
                if (s.nrip_save && v.control.next_rip != 0) {
                    v.save.rip = v.control.next_rip;
                    if (action.kind == vmm::ActionKind::leave_vmm) {
                        leave(cpu, v);
                    }
                    break;
                }
                std::uint8_t length = action.length;
                if (length == 0) {
                    length = vmm::instruction_length_at_rip(exit, guest);
                }
                if (length == 0) {
                    length = fixed_length(exit.reason);
                }
                if (length == 0) {
                    dump_and_stop(cpu, "cannot tell the length of the exiting instruction");
                }
                v.save.rip += length;
                if (action.kind == vmm::ActionKind::leave_vmm) {
                    leave(cpu, v);
                }
                break;
            }
            case vmm::ActionKind::resume: break;
            case vmm::ActionKind::stop_idle_intercept:
                v.control.intercept_misc1 &= ~misc1::kHlt;
                v.control.intercept_misc2 &= ~kIdleMisc2;
                dirty |= clean::kIntercepts;
                break;
            case vmm::ActionKind::inject_exception:
                v.control.event_inject = action.vector | event::kTypeException | event::kValid |
                                         (action.has_error ? event::kErrorCodeValid : 0) |
                                         (static_cast<std::uint64_t>(action.error_code) << 32);
                break;
            case vmm::ActionKind::reset_machine:
                vmm::log::Line(vmm::log::Level::warn, cpu.index)
                    << action.why << ": resetting the machine";
                // Reset Control Register (PCH/ICH 0xCF9): full reset.
                x64::outb(0xCF9, 0x06);
                x64::halt_forever();
            case vmm::ActionKind::fatal: dump_and_stop(cpu, action.why);
        }
        if (take_startup_ipis(cpu, v)) {
            dirty = clean::kAll;
        }
    }
}

}  // namespace boxy::svm
