// SPDX-License-Identifier: MIT
//
// Service-VM vCPUs on AMD-V (vmm/vm/service_vm.hpp, ServiceVmOps): their
// VMCBs, their registers, and the run loop BOXY_CALL_VCPU_RUN enters on the
// calling CPU. The loop handles in the VMM only what is hot and needs no
// host: CPUID, MSRs (the local APIC among them), HLT with an interrupt to
// deliver. Port I/O, MMIO, HLT with nothing to deliver,
// shutdown and every physical interrupt return to the host, which schedules.
//
// The run loop nests inside the host's own exit: the host VM's VMCB waits
// while the service VMCB runs, and vmrun.S's VMLOAD/VMSAVE pair switches the
// state VMRUN leaves alone (APM Vol. 2, 15.5.2). The guest's x87/SSE state
// is the VMM's to switch (boxy.ko brackets RUN with kernel_fpu_begin/end, so
// the host's registers are saved); XSAVE is hidden from service VMs, so
// FXSAVE covers everything a guest can change.
#include "core/log.hpp"
#include "core/vmm_state.hpp"
#include "svm.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>

namespace boxy::svm {
namespace {

namespace msr = x64::msr;
using vmm::GuestGprs;
using vmm::Vcpu;

// One MSR and one I/O permission map for every service VM: everything
// intercepted except the MSRs VMRUN and VMLOAD/VMSAVE switch themselves.
constinit std::uint64_t service_msrpm_pa = 0;
constinit std::uint64_t service_iopm_pa = 0;

void fill(std::uint64_t pa, std::uint64_t bytes, std::uint8_t value)
{
    auto* p = reinterpret_cast<volatile std::uint8_t*>(pa);
    for (std::uint64_t i = 0; i < bytes; ++i) {
        p[i] = value;
    }
}

// MSRPM: two bits per MSR (read, write) in three 2 KiB ranges (APM Vol. 2,
// 15.11, Table 15-6).
void pass_through(std::uint32_t msr_index)
{
    std::uint32_t base = 0;
    std::uint32_t offset = 0;
    if (msr_index <= 0x1FFF) {
        offset = 0;
    } else if (msr_index >= 0xC0000000 && msr_index <= 0xC0001FFF) {
        base = 0xC0000000;
        offset = 0x800;
    } else {
        base = 0xC0010000;
        offset = 0x1000;
    }
    const std::uint32_t bit = (msr_index - base) * 2;
    auto* map = reinterpret_cast<volatile std::uint8_t*>(service_msrpm_pa + offset);
    map[bit / 8] = static_cast<std::uint8_t>(map[bit / 8] & ~(3U << (bit % 8)));
}

}  // namespace

// Once, from init() on the bootstrap processor, so that the pool's free
// count before the first service VM is what it is after the last one.
bool init_service_permission_maps(vmm::PageAllocator& pool)
{
    auto msrpm = pool.allocate_run(vmm::PageCount{2});
    auto iopm = pool.allocate_run(vmm::PageCount{3});
    if (!msrpm || !iopm) {
        return false;
    }
    service_msrpm_pa = msrpm->raw();
    service_iopm_pa = iopm->raw();
    fill(service_msrpm_pa, 2 * 4096, 0xFF);
    fill(service_iopm_pa, 3 * 4096, 0xFF);
    // In the VMCB save area and switched by VMRUN or VMLOAD/VMSAVE.
    for (std::uint32_t m :
         {0xC0000081U /* STAR */, 0xC0000082U /* LSTAR */, 0xC0000083U /* CSTAR */,
          0xC0000084U /* SFMASK */, 0xC0000100U /* FS.base */, 0xC0000101U /* GS.base */,
          0xC0000102U /* KernelGsBase */, 0x174U /* SYSENTER_CS */, 0x175U /* SYSENTER_ESP */,
          0x176U /* SYSENTER_EIP */}) {
        pass_through(m);
    }
    return true;
}

namespace {

void vcpu_init(Vcpu& vcpu)
{
    Vmcb& v = vmcb_of(vcpu);
    const auto& s = vmm::state();
    (void)s;
    v.control.intercept_misc1 = misc1::kIntr | misc1::kNmi | misc1::kSmi | misc1::kCpuid |
                                misc1::kHlt | misc1::kInvlpga | misc1::kIoioProt | misc1::kMsrProt |
                                misc1::kShutdown;
    v.control.intercept_misc2 = misc2::kVmrun | misc2::kVmmcall | misc2::kVmload | misc2::kVmsave |
                                misc2::kStgi | misc2::kClgi | misc2::kSkinit | misc2::kMonitor |
                                misc2::kMwait | misc2::kMwaitConditional | misc2::kXsetbv;
    v.control.msrpm_base_pa = service_msrpm_pa;
    v.control.iopm_base_pa = service_iopm_pa;
    v.control.guest_asid = vcpu.vm->asid;
    v.control.np_enable = 1;
    v.control.n_cr3 = vcpu.vm->npt.root().raw();
    // Physical interrupts exit (INTR intercept) whenever the VMM's IF is
    // set at VMRUN; the guest's IF only masks virtual ones (APM 15.21.1).
    v.control.vintr = vintr::kMasking;
    reset_to_init_state(v);
}

// --- Registers --------------------------------------------------------------

VmcbSegment to_vmcb(const boxy_segment& s)
{
    return {s.selector, s.attrib, s.limit, s.base};
}
boxy_segment from_vmcb(const VmcbSegment& s)
{
    return {s.selector, s.attrib, s.limit, s.base};
}

bool canonical(std::uint64_t a)
{
    const auto top = static_cast<std::int64_t>(a) >> 47;
    return top == 0 || top == -1;
}

vmm::hypercall::Status set_regs(Vcpu& vcpu, const boxy_vcpu_regs& r)
{
    constexpr std::uint64_t kEferAllowed =
        msr::kEferSce | msr::kEferLme | msr::kEferLma | msr::kEferNxe;
    if ((r.efer & ~kEferAllowed) != 0 || (r.cr0 >> 32) != 0 || (r.cr4 >> 32) != 0 ||
        !canonical(r.rip) || !canonical(r.fs.base) || !canonical(r.gs.base) ||
        !canonical(r.gdtr.base) || !canonical(r.idtr.base) || !canonical(r.tr.base)) {
        return vmm::hypercall::Status::invalid_argument;
    }
    Vmcb& v = vmcb_of(vcpu);
    write_gprs(vcpu.gprs, v, r.gprs);
    v.save.rip = r.rip;
    v.save.rflags = r.rflags | 2;  // bit 1 reads as one
    v.save.cr0 = r.cr0;
    v.save.cr2 = r.cr2;
    v.save.cr3 = r.cr3;
    v.save.cr4 = r.cr4;
    v.save.efer = r.efer | msr::kEferSvme;
    v.save.g_pat = r.pat;
    v.save.cs = to_vmcb(r.cs);
    v.save.ds = to_vmcb(r.ds);
    v.save.es = to_vmcb(r.es);
    v.save.fs = to_vmcb(r.fs);
    v.save.gs = to_vmcb(r.gs);
    v.save.ss = to_vmcb(r.ss);
    v.save.tr = to_vmcb(r.tr);
    v.save.ldtr = to_vmcb(r.ldtr);
    v.save.gdtr = {0, 0, r.gdtr.limit, r.gdtr.base};
    v.save.idtr = {0, 0, r.idtr.limit, r.idtr.base};
    v.save.cpl = static_cast<std::uint8_t>((r.ss.attrib >> 5) & 3);  // SS.DPL
    v.control.event_inject = 0;
    v.control.interrupt_shadow = 0;
    return vmm::hypercall::Status::ok;
}

void get_regs(const Vcpu& vcpu, boxy_vcpu_regs& r)
{
    const Vmcb& v = vmcb_of(vcpu);
    read_gprs(vcpu.gprs, v, r.gprs);
    r.rip = v.save.rip;
    r.rflags = v.save.rflags;
    r.cr0 = v.save.cr0;
    r.cr2 = v.save.cr2;
    r.cr3 = v.save.cr3;
    r.cr4 = v.save.cr4;
    r.efer = v.save.efer & ~msr::kEferSvme;
    r.pat = v.save.g_pat;
    r.cs = from_vmcb(v.save.cs);
    r.ds = from_vmcb(v.save.ds);
    r.es = from_vmcb(v.save.es);
    r.fs = from_vmcb(v.save.fs);
    r.gs = from_vmcb(v.save.gs);
    r.ss = from_vmcb(v.save.ss);
    r.tr = from_vmcb(v.save.tr);
    r.ldtr = from_vmcb(v.save.ldtr);
    r.gdtr = {0, 0, v.save.gdtr.limit, v.save.gdtr.base};
    r.idtr = {0, 0, v.save.idtr.limit, v.save.idtr.base};
    r.mp_state = vcpu.mp_state;
}

}  // namespace

constinit const vmm::ServiceVmOps kServiceVmOps{vcpu_init, set_regs, get_regs, run_vcpu};

}  // namespace boxy::svm
