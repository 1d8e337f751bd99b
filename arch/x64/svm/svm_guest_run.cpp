// SPDX-License-Identifier: MIT
//
// The run loop of a service vCPU on AMD-V (see svm_guest.cpp for the model).
// Every exit is handled here or returned to the host through the run page
// (include/boxy/abi.h, struct boxy_vcpu_run). Guest-controlled values are
// bounded before use: a malicious service VM can at worst stop itself.
#include "core/log.hpp"
#include "core/mmio.hpp"
#include "core/vmm_state.hpp"
#include "emulate/guest_mode.hpp"
#include "emulate/guest_paging.hpp"
#include "emulate/guest_registers.hpp"
#include "emulate/mmio_decode.hpp"
#include "svm.hpp"
#include "vm/service_cpuid.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>

extern "C" void boxy_svm_vmrun(boxy::vmm::GuestGprs* gprs, std::uint64_t vmcb_pa);

namespace boxy::svm {
namespace {

namespace msr = x64::msr;
namespace emulate = vmm::emulate;
using vmm::GuestGprs;
using vmm::PendingCompletion;
using vmm::Vcpu;

using vmm::kVectorGp;
using vmm::kVectorUd;

constexpr std::uint64_t kRflagsIf = 1U << 9;
constexpr std::uint32_t kNone = BOXY_VM_EXIT_NONE;

struct Exit {
    std::uint32_t reason{kNone};  // BOXY_VM_EXIT_*; none: keep running
    std::uint64_t kick{0};        // siblings to wake (reason KICK)
    std::uint32_t eoi_vector{0};
};

volatile boxy_vcpu_run& run_page(const Vcpu& vcpu)
{
    return *reinterpret_cast<volatile boxy_vcpu_run*>(vcpu.run_page_pa);
}

std::uint64_t rdtsc()
{
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (std::uint64_t{hi} << 32) | lo;
}

void inject_exception(Vmcb& v, std::uint8_t vector)
{
    v.control.event_inject = vector | event::kTypeException | event::kValid |
                             (vector == kVectorGp ? event::kErrorCodeValid : 0);
}

// The GPRs as the emulator wants them (same x86 order); RAX and RSP from the VMCB.
emulate::GuestRegisters registers_of(const Vcpu& vcpu, const Vmcb& v)
{
    emulate::GuestRegisters r{};
    read_gprs(vcpu.gprs, v, &r.rax);
    r.rip = v.save.rip;
    r.rflags = v.save.rflags;
    return r;
}

void store_registers(Vcpu& vcpu, Vmcb& v, const emulate::GuestRegisters& r)
{
    write_gprs(vcpu.gprs, v, &r.rax);
    v.save.rip = r.rip;
}

// The host answered the previous exit: finish that instruction.
void complete_pending(Vcpu& vcpu, Vmcb& v)
{
    volatile boxy_vcpu_run& run = run_page(vcpu);
    switch (vcpu.pending) {
        case PendingCompletion::none: break;
        case PendingCompletion::io_in: {
            const std::uint64_t data = run.u.io.data;
            if (vcpu.io_size == 4) {
                v.save.rax = data & 0xFFFF'FFFF;  // 32-bit results zero-extend
            } else {
                const std::uint64_t mask = vcpu.io_size == 1 ? 0xFF : 0xFFFF;
                v.save.rax = (v.save.rax & ~mask) | (data & mask);
            }
            v.save.rip = vcpu.next_rip;
            break;
        }
        case PendingCompletion::io_out:
        case PendingCompletion::mmio_write: v.save.rip = vcpu.next_rip; break;
        case PendingCompletion::mmio_read: {
            emulate::GuestRegisters r = registers_of(vcpu, v);
            emulate::apply_mmio_read(r, vcpu.mmio, run.u.mmio.data);
            emulate::advance_rip(r, vcpu.mmio.mode, vcpu.mmio.length);
            store_registers(vcpu, v, r);
            break;
        }
    }
    vcpu.pending = PendingCompletion::none;
}

// INIT and start-up IPIs that siblings posted (SDM Vol. 3A, 9.4.4).
void take_startup_ipis(Vcpu& vcpu, Vmcb& v)
{
    vmm::SpinlockGuard guard{vcpu.apic_lock};
    if (vcpu.init_pending) {
        // A SIPI posted after this INIT stays (route_ipi cancels older ones).
        vcpu.init_pending = false;
        reset_to_init_state(v);
        vcpu.lapic.init_reset();
        vcpu.mp_state = BOXY_MP_WAIT_FOR_SIPI;
        vcpu.pending = PendingCompletion::none;
    }
    if (vcpu.sipi_pending) {
        vcpu.sipi_pending = false;
        if (vcpu.mp_state == BOXY_MP_WAIT_FOR_SIPI) {
            start_at_sipi(v, vcpu.gprs, vcpu.sipi_vector);
            v.save.rax = 0;
            vcpu.mp_state = BOXY_MP_RUNNABLE;
        }
    }
}

// Posts the local APIC's highest pending interrupt as the guest's virtual
// interrupt (V_IRQ, V_INTR_VECTOR; APM Vol. 2, 15.21.4): the CPU delivers
// it through the guest's IDT as soon as the guest can take it (RFLAGS.IF
// set, no interrupt shadow), without an exit, and clears V_IRQ when it
// does. The local APIC already weighed TPR and in-service vectors, hence
// V_IGN_TPR. Returns the vector posted; it stays requested in the IRR
// until settle_interrupts() sees it taken.
//
// Not EVENTINJ: QEMU's TCG (7.2 and later) delivers an injected external
// interrupt during VMRUN but leaves it as the CPU's pending exception, and
// the next exit request of its own (a round-robin kick, say) delivers the
// same vector again, at the handler's first instruction with IF clear: a
// Linux guest then faults on its user GS base until its stack overflows
// (docs/testing.md, "Known emulator problems"). Its virtual-interrupt path
// has no such flaw, and on hardware both are architectural.
std::optional<std::uint8_t> post_interrupt(Vcpu& vcpu, Vmcb& v)
{
    v.control.vintr &= ~(vintr::kIrq | vintr::kPriorityMax | vintr::kIgnoreTpr | vintr::kVector);
    v.control.intercept_misc1 &= ~misc1::kVintr;
    vmm::SpinlockGuard guard{vcpu.apic_lock};
    vcpu.lapic.advance(rdtsc());
    const auto vector = vcpu.lapic.pending();
    if (vector) {
        v.control.vintr |= vintr::kIrq | vintr::kPriorityMax | vintr::kIgnoreTpr |
                           (std::uint64_t{*vector} << vintr::kVectorShift);
    }
    return vector;
}

// After VMRUN: the posted interrupt is in service if the guest took it
// (V_IRQ clear) and no exit cut its delivery short; a cut-short delivery
// is in EXITINTINFO (APM Vol. 2, 15.7.2) and the vector stays requested, to
// be posted again. Any other event the exit interrupted (an exception) is
// delivered again through EVENTINJ.
void settle_interrupts(Vcpu& vcpu, Vmcb& v, std::optional<std::uint8_t> posted)
{
    const std::uint64_t info = v.control.exit_int_info;
    const bool valid = (info & event::kValid) != 0;
    const auto vector = static_cast<std::uint8_t>(info & event::kVectorMask);
    const std::uint64_t type = info & event::kTypeMask;
    // QEMU's TCG records an external interrupt it was delivering as an
    // exception with that vector; no exception has a vector above 31.
    const bool interrupt =
        valid && (type == event::kTypeInterrupt || (type == event::kTypeException && vector >= 32));
    const bool cut_short = interrupt && posted && vector == *posted;
    if (posted && (v.control.vintr & vintr::kIrq) == 0 && !cut_short) {
        vmm::SpinlockGuard guard{vcpu.apic_lock};
        (void)vcpu.lapic.acknowledge(*posted);
    }
    v.control.vintr &= ~vintr::kIrq;
    if (!valid || cut_short) {
        v.control.event_inject = 0;
    } else if (interrupt) {
        v.control.event_inject = vector | event::kTypeInterrupt | event::kValid;
    } else {
        v.control.event_inject = info;
    }
}

std::uint64_t edx_eax(const Vcpu& vcpu, const Vmcb& v)
{
    return (vcpu.gprs.r[GuestGprs::rdx] << 32) | (v.save.rax & 0xFFFF'FFFF);
}

void set_edx_eax(Vcpu& vcpu, Vmcb& v, std::uint64_t value)
{
    v.save.rax = value & 0xFFFF'FFFF;
    vcpu.gprs.r[GuestGprs::rdx] = value >> 32;
}

bool valid_pat(std::uint64_t pat)
{
    for (unsigned i = 0; i < 8; ++i) {
        const auto type = (pat >> (8 * i)) & 0xFF;
        if (type == 2 || type == 3 || type > 7) {  // reserved encodings (SDM Vol. 3A, 12.12.2)
            return false;
        }
    }
    return true;
}

// RDMSR/WRMSR (only intercepted MSRs arrive). False: #GP.
bool handle_msr(Vcpu& vcpu, Vmcb& v, bool write, Exit& exit)
{
    const auto index = static_cast<std::uint32_t>(vcpu.gprs.r[GuestGprs::rcx]);
    if (vmm::Lapic::handles_msr(index)) {
        std::optional<vmm::IpiRequest> ipi;
        {
            vmm::SpinlockGuard guard{vcpu.apic_lock};
            vcpu.lapic.advance(rdtsc());
            if (!write) {
                auto value = vcpu.lapic.read_msr(index);
                if (value) {
                    set_edx_eax(vcpu, v, *value);
                }
                return value.has_value();
            }
            auto effect = vcpu.lapic.write_msr(index, edx_eax(vcpu, v));
            if (!effect) {
                return false;
            }
            if (effect->level_eoi) {
                exit.reason = BOXY_VM_EXIT_EOI;
                exit.eoi_vector = *effect->level_eoi;
            }
            ipi = effect->ipi;
            // The host armed its timer for the deadline it last read; an
            // earlier one needs a new host timer, so go back and say so.
            const auto deadline = vcpu.lapic.next_deadline();
            if (deadline && (vcpu.reported_deadline == 0 || *deadline < vcpu.reported_deadline) &&
                exit.reason == kNone) {
                exit.reason = BOXY_VM_EXIT_INTERRUPTED;
            }
        }
        // Outside our lock: route_ipi takes every target's, ours included.
        if (ipi) {
            exit.kick = vmm::service::route_ipi(vcpu, *ipi);
            if (exit.kick != 0 && exit.reason == kNone) {
                exit.reason = BOXY_VM_EXIT_KICK;
            }
        }
        return true;
    }
    switch (index) {
        case msr::kEfer:
            if (!write) {
                set_edx_eax(vcpu, v, v.save.efer & ~msr::kEferSvme);
                return true;
            } else {
                const std::uint64_t value = edx_eax(vcpu, v);
                if ((value & ~(msr::kEferSce | msr::kEferLme | msr::kEferLma | msr::kEferNxe)) !=
                    0) {
                    return false;
                }
                v.save.efer = value | msr::kEferSvme;
                return true;
            }
        case msr::kPat:
            if (!write) {
                set_edx_eax(vcpu, v, v.save.g_pat);
                return true;
            }
            if (!valid_pat(edx_eax(vcpu, v))) {
                return false;
            }
            v.save.g_pat = edx_eax(vcpu, v);
            return true;
        default: return false;
    }
}

// The guest-physical bytes of the VM, through its nested page tables only.
bool read_guest(const vmm::ServiceVm& vm, std::uint64_t gpa, void* out, std::size_t length)
{
    auto* dst = static_cast<std::uint8_t*>(out);
    for (std::size_t i = 0; i < length; ++i) {
        auto hpa = vmm::service::translate(vm, gpa + i);
        if (!hpa) {
            return false;
        }
        dst[i] = *reinterpret_cast<const volatile std::uint8_t*>(*hpa);
    }
    return true;
}

// A nested page fault outside the VM's RAM: decode the access for the host.
Exit handle_mmio(Vcpu& vcpu, Vmcb& v)
{
    const std::uint64_t gpa = v.control.exit_info2;
    const vmm::ServiceVm& vm = *vcpu.vm;
    auto read = [&vm](std::uint64_t address, void* out, std::size_t length) {
        return read_guest(vm, address, out, length);
    };
    vmm::FetchedInstruction fetched;
    Exit exit;
    volatile boxy_vcpu_run& run = run_page(vcpu);
    if (!vmm::fetch_at_rip(guest_control_of(v), v.save.cpl, emulate::guest_phys_reader_for(read),
                           fetched)) {
        exit.reason = BOXY_VM_EXIT_FAILED;
        run.u.failed.cause = BOXY_VM_FAIL_EMULATION;
        return exit;
    }
    const vmm::CpuMode mode = fetched.mode;
    const emulate::GuestRegisters regs = registers_of(vcpu, v);
    auto access = emulate::decode_mmio_access({fetched.bytes.data(), fetched.count}, mode, regs);
    if (!access || access->direction == emulate::MmioDirection::exchange) {
        exit.reason = BOXY_VM_EXIT_FAILED;
        run.u.failed.cause = BOXY_VM_FAIL_EMULATION;
        return exit;
    }
    const bool write = access->direction == emulate::MmioDirection::write;
    run.u.mmio.gpa = gpa;
    run.u.mmio.size = access->width;
    run.u.mmio.write = write ? 1 : 0;
    run.u.mmio.data = write ? access->value : 0;
    vcpu.mmio = *access;
    if (write) {
        emulate::GuestRegisters r = regs;
        emulate::advance_rip(r, mode, access->length);
        vcpu.next_rip = r.rip;
        vcpu.pending = PendingCompletion::mmio_write;
    } else {
        vcpu.pending = PendingCompletion::mmio_read;
    }
    exit.reason = BOXY_VM_EXIT_MMIO;
    return exit;
}

// IOIO EXITINFO1 (APM Vol. 2, 15.10.2, Figure 15-2); EXITINFO2 is the next RIP.
Exit handle_io(Vcpu& vcpu, Vmcb& v)
{
    const std::uint64_t info = v.control.exit_info1;
    Exit exit;
    volatile boxy_vcpu_run& run = run_page(vcpu);
    constexpr std::uint64_t kIn = 1U << 0;
    constexpr std::uint64_t kString = 1U << 2;
    if ((info & kString) != 0) {
        exit.reason = BOXY_VM_EXIT_FAILED;
        run.u.failed.cause = BOXY_VM_FAIL_EMULATION;
        return exit;
    }
    const std::uint8_t size = (info & (1U << 4)) != 0 ? 1 : (info & (1U << 5)) != 0 ? 2 : 4;
    const bool in = (info & kIn) != 0;
    run.u.io.port = static_cast<std::uint16_t>(info >> 16);
    run.u.io.size = size;
    run.u.io.in = in ? 1 : 0;
    const std::uint64_t mask = size == 4 ? 0xFFFF'FFFF : size == 2 ? 0xFFFF : 0xFF;
    run.u.io.data = in ? 0 : static_cast<std::uint32_t>(v.save.rax & mask);
    vcpu.io_size = size;
    vcpu.next_rip = v.control.exit_info2;
    vcpu.pending = in ? PendingCompletion::io_in : PendingCompletion::io_out;
    exit.reason = BOXY_VM_EXIT_IO;
    return exit;
}

Exit fail(Vcpu& vcpu, const Vmcb& v, std::uint32_t cause)
{
    volatile boxy_vcpu_run& run = run_page(vcpu);
    run.u.failed.cause = cause;
    run.u.failed.vendor_code = v.control.exit_code;
    run.u.failed.info1 = v.control.exit_info1;
    run.u.failed.info2 = v.control.exit_info2;
    run.u.failed.rip = v.save.rip;
    return {BOXY_VM_EXIT_FAILED};
}

Exit handle_exit(vmm::PerCpu& cpu, Vcpu& vcpu, Vmcb& v)
{
    (void)cpu;
    const std::uint64_t code = v.control.exit_code;
    Exit exit;
    switch (code) {
        case exit_code::kIntr:
        case exit_code::kNmi:
        case exit_code::kSmi: exit.reason = BOXY_VM_EXIT_INTERRUPTED; return exit;
        case exit_code::kVintr: return exit;  // not intercepted (post_interrupt)
        case exit_code::kCpuid: {
            const vmm::ServiceCpuidContext ctx{
                vcpu.index, vcpu.vm->vcpu_count, [](std::uint32_t leaf, std::uint32_t subleaf) {
                    const auto r = x64::cpuid(leaf, subleaf);
                    return vmm::CpuidResult{r.eax, r.ebx, r.ecx, r.edx};
                }};
            const auto r =
                vmm::service_cpuid(static_cast<std::uint32_t>(v.save.rax),
                                   static_cast<std::uint32_t>(vcpu.gprs.r[GuestGprs::rcx]), ctx);
            v.save.rax = r.eax;
            vcpu.gprs.r[GuestGprs::rbx] = r.ebx;
            vcpu.gprs.r[GuestGprs::rcx] = r.ecx;
            vcpu.gprs.r[GuestGprs::rdx] = r.edx;
            v.save.rip += 2;  // 0F A2
            return exit;
        }
        case exit_code::kMsr:
            if (handle_msr(vcpu, v, v.control.exit_info1 != 0, exit)) {
                v.save.rip += 2;  // 0F 32 / 0F 30
            } else {
                inject_exception(v, kVectorGp);
            }
            return exit;
        case exit_code::kHlt: {
            v.save.rip += 1;  // F4
            v.control.interrupt_shadow = 0;
            vmm::SpinlockGuard guard{vcpu.apic_lock};
            vcpu.lapic.advance(rdtsc());
            if ((v.save.rflags & kRflagsIf) == 0 || !vcpu.lapic.has_pending_for_halt()) {
                exit.reason = BOXY_VM_EXIT_HLT;
            }
            return exit;
        }
        case exit_code::kIoio: return handle_io(vcpu, v);
        case exit_code::kNpf: return handle_mmio(vcpu, v);
        case exit_code::kShutdown:
            vcpu.dead = true;
            exit.reason = BOXY_VM_EXIT_SHUTDOWN;
            return exit;
        case exit_code::kVmrun:
        case exit_code::kVmmcall:
        case exit_code::kVmload:
        case exit_code::kVmsave:
        case exit_code::kStgi:
        case exit_code::kClgi:
        case exit_code::kSkinit:
        case exit_code::kInvlpga:
        case exit_code::kMonitor:
        case exit_code::kMwait:
        case exit_code::kMwaitConditional:
        case exit_code::kXsetbv:
            // Not offered to service VMs (CPUID says so): #UD, as on a CPU
            // without them.
            inject_exception(v, kVectorUd);
            return exit;
        case exit_code::kInvalid: return fail(vcpu, v, BOXY_VM_FAIL_INVALID_STATE);
        default: return fail(vcpu, v, BOXY_VM_FAIL_UNEXPECTED);
    }
}

std::uint32_t finish(Vcpu& vcpu, const Exit& exit)
{
    volatile boxy_vcpu_run& run = run_page(vcpu);
    run.exit_reason = exit.reason;
    if (exit.reason == BOXY_VM_EXIT_KICK) {
        run.u.kick.vcpus = exit.kick;
    } else if (exit.reason == BOXY_VM_EXIT_EOI) {
        run.u.eoi.vector = exit.eoi_vector;
    }
    {
        vmm::SpinlockGuard guard{vcpu.apic_lock};
        const auto deadline = vcpu.lapic.next_deadline();
        vcpu.reported_deadline = deadline ? *deadline : 0;
        run.timer_deadline_tsc = vcpu.reported_deadline;
    }
    ++vcpu.host_exits;
    run.exits = vcpu.exits;
    run.host_exits = vcpu.host_exits;
    for (unsigned i = 0; i < BOXY_EXIT_REASON_COUNT; ++i) {
        run.exits_by_reason[i] = vcpu.exits_by_reason[i];
    }
    return exit.reason;
}

}  // namespace

std::uint32_t run_vcpu(vmm::PerCpu& cpu, Vcpu& vcpu)
{
    Vmcb& v = vmcb_of(vcpu);
    if (vcpu.dead) {
        return finish(vcpu, {BOXY_VM_EXIT_SHUTDOWN});
    }
    complete_pending(vcpu, v);
    // This vCPU may have run on another CPU, the VM's tables may have
    // changed, and its ASID may have served an earlier VM here: flush its
    // translations (APM Vol. 2, 15.16.1; TLB_CONTROL 3 needs FlushByAsid).
    const bool by_asid = (x64::cpuid(0x8000000A).edx & feature::kFlushByAsid) != 0;
    v.control.tlb_control = by_asid ? 3 : 1;
    asm volatile("fxrstor64 %0" ::"m"(vcpu.fpu));
    Exit exit;
    for (;;) {
        take_startup_ipis(vcpu, v);
        if (vcpu.mp_state == BOXY_MP_WAIT_FOR_SIPI) {
            exit.reason = BOXY_VM_EXIT_HLT;
            break;
        }
        const auto posted = post_interrupt(vcpu, v);
        // GIF is clear in the VMM, so STI lets no interrupt in here; it
        // makes VMRUN record IF=1 as the host's, and with V_INTR_MASKING
        // every physical interrupt then exits the guest (APM 15.21.1).
        asm volatile("sti" ::: "memory");
        boxy_svm_vmrun(&vcpu.gprs, vcpu.control_pa);
        asm volatile("cli" ::: "memory");
        v.control.tlb_control = 0;
        settle_interrupts(vcpu, v, posted);
        ++vcpu.exits;
        const auto reason =
            static_cast<unsigned>(reason_of(v.control.exit_code, v.control.exit_info1));
        if (reason < BOXY_EXIT_REASON_COUNT) {
            ++vcpu.exits_by_reason[reason];
        }
        exit = handle_exit(cpu, vcpu, v);
        if (exit.reason != kNone) {
            break;
        }
    }
    asm volatile("fxsave64 %0" : "=m"(vcpu.fpu));
    return finish(vcpu, exit);
}

}  // namespace boxy::svm
