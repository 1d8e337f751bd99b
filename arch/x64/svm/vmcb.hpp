// SPDX-License-Identifier: MIT
//
// The AMD-V Virtual Machine Control Block (AMD APM Vol. 2, Appendix B
// "Layout of VMCB"). One 4 KiB page per vCPU: the control area (intercepts,
// exit information, nested paging) at 0x000 and the guest state save area
// at 0x400. Offsets are checked against the manual below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace boxy::svm {

// A segment register as the VMCB holds it (APM Vol. 2, B.2, "VMCB Layout,
// State Save Area"): `attrib` packs descriptor bits 40-47 (type, S, DPL, P)
// into bits 0-7 and bits 52-55 (AVL, L, D/B, G) into bits 8-11.
struct VmcbSegment {
    std::uint16_t selector;
    std::uint16_t attrib;
    std::uint32_t limit;
    std::uint64_t base;
};
static_assert(sizeof(VmcbSegment) == 16);

struct VmcbControl {
    std::uint32_t intercept_cr;          // 0x000: bits 0-15 reads, 16-31 writes
    std::uint32_t intercept_dr;          // 0x004
    std::uint32_t intercept_exceptions;  // 0x008: bit n = vector n
    std::uint32_t intercept_misc1;       // 0x00C: InterceptMisc1 bits below
    std::uint32_t intercept_misc2;       // 0x010: InterceptMisc2 bits below
    std::uint32_t intercept_misc3;       // 0x014
    std::uint8_t reserved_018[0x03C - 0x018];
    std::uint16_t pause_filter_threshold;  // 0x03C
    std::uint16_t pause_filter_count;      // 0x03E
    std::uint64_t iopm_base_pa;            // 0x040
    std::uint64_t msrpm_base_pa;           // 0x048
    std::uint64_t tsc_offset;              // 0x050
    std::uint32_t guest_asid;              // 0x058
    std::uint8_t tlb_control;              // 0x05C
    std::uint8_t reserved_05d[3];
    std::uint64_t vintr;               // 0x060: V_TPR, V_IRQ, V_INTR_MASKING, ...
    std::uint64_t interrupt_shadow;    // 0x068
    std::uint64_t exit_code;           // 0x070
    std::uint64_t exit_info1;          // 0x078
    std::uint64_t exit_info2;          // 0x080
    std::uint64_t exit_int_info;       // 0x088
    std::uint64_t np_enable;           // 0x090: bit 0 nested paging
    std::uint64_t avic_apic_bar;       // 0x098
    std::uint64_t ghcb_pa;             // 0x0A0
    std::uint64_t event_inject;        // 0x0A8
    std::uint64_t n_cr3;               // 0x0B0: nested page table root
    std::uint64_t lbr_virtualization;  // 0x0B8
    std::uint32_t clean_bits;          // 0x0C0
    std::uint32_t reserved_0c4;
    std::uint64_t next_rip;      // 0x0C8: valid with NRIP-save (CPUID 8000_000A EDX[3])
    std::uint8_t bytes_fetched;  // 0x0D0: valid with decode assists
    std::uint8_t guest_instruction_bytes[15];  // 0x0D1
    std::uint8_t reserved_0e0[0x400 - 0x0E0];
};
static_assert(sizeof(VmcbControl) == 0x400);
static_assert(offsetof(VmcbControl, pause_filter_threshold) == 0x03C);
static_assert(offsetof(VmcbControl, iopm_base_pa) == 0x040);
static_assert(offsetof(VmcbControl, guest_asid) == 0x058);
static_assert(offsetof(VmcbControl, exit_code) == 0x070);
static_assert(offsetof(VmcbControl, np_enable) == 0x090);
static_assert(offsetof(VmcbControl, event_inject) == 0x0A8);
static_assert(offsetof(VmcbControl, n_cr3) == 0x0B0);
static_assert(offsetof(VmcbControl, clean_bits) == 0x0C0);
static_assert(offsetof(VmcbControl, next_rip) == 0x0C8);
static_assert(offsetof(VmcbControl, guest_instruction_bytes) == 0x0D1);

struct VmcbStateSave {
    VmcbSegment es;    // 0x400
    VmcbSegment cs;    // 0x410
    VmcbSegment ss;    // 0x420
    VmcbSegment ds;    // 0x430
    VmcbSegment fs;    // 0x440
    VmcbSegment gs;    // 0x450
    VmcbSegment gdtr;  // 0x460: only base and limit are used
    VmcbSegment ldtr;  // 0x470
    VmcbSegment idtr;  // 0x480: only base and limit are used
    VmcbSegment tr;    // 0x490
    std::uint8_t reserved_4a0[0x4CB - 0x4A0];
    std::uint8_t cpl;  // 0x4CB
    std::uint32_t reserved_4cc;
    std::uint64_t efer;  // 0x4D0
    std::uint8_t reserved_4d8[0x548 - 0x4D8];
    std::uint64_t cr4;     // 0x548
    std::uint64_t cr3;     // 0x550
    std::uint64_t cr0;     // 0x558
    std::uint64_t dr7;     // 0x560
    std::uint64_t dr6;     // 0x568
    std::uint64_t rflags;  // 0x570
    std::uint64_t rip;     // 0x578
    std::uint8_t reserved_580[0x5D8 - 0x580];
    std::uint64_t rsp;             // 0x5D8
    std::uint64_t s_cet;           // 0x5E0
    std::uint64_t ssp;             // 0x5E8
    std::uint64_t isst_addr;       // 0x5F0
    std::uint64_t rax;             // 0x5F8
    std::uint64_t star;            // 0x600
    std::uint64_t lstar;           // 0x608
    std::uint64_t cstar;           // 0x610
    std::uint64_t sfmask;          // 0x618
    std::uint64_t kernel_gs_base;  // 0x620
    std::uint64_t sysenter_cs;     // 0x628
    std::uint64_t sysenter_esp;    // 0x630
    std::uint64_t sysenter_eip;    // 0x638
    std::uint64_t cr2;             // 0x640
    std::uint8_t reserved_648[0x668 - 0x648];
    std::uint64_t g_pat;           // 0x668
    std::uint64_t dbgctl;          // 0x670
    std::uint64_t br_from;         // 0x678
    std::uint64_t br_to;           // 0x680
    std::uint64_t last_excp_from;  // 0x688
    std::uint64_t last_excp_to;    // 0x690
    std::uint8_t reserved_698[0x1000 - 0x698];
};

struct alignas(4096) Vmcb {
    VmcbControl control;
    VmcbStateSave save;
};
static_assert(sizeof(Vmcb) == 4096);
static_assert(offsetof(Vmcb, save) == 0x400);
static_assert(offsetof(Vmcb, save.cs) == 0x410);
static_assert(offsetof(Vmcb, save.tr) == 0x490);
static_assert(offsetof(Vmcb, save.cpl) == 0x4CB);
static_assert(offsetof(Vmcb, save.efer) == 0x4D0);
static_assert(offsetof(Vmcb, save.cr4) == 0x548);
static_assert(offsetof(Vmcb, save.rflags) == 0x570);
static_assert(offsetof(Vmcb, save.rip) == 0x578);
static_assert(offsetof(Vmcb, save.rsp) == 0x5D8);
static_assert(offsetof(Vmcb, save.rax) == 0x5F8);
static_assert(offsetof(Vmcb, save.star) == 0x600);
static_assert(offsetof(Vmcb, save.sysenter_eip) == 0x638);
static_assert(offsetof(Vmcb, save.cr2) == 0x640);
static_assert(offsetof(Vmcb, save.g_pat) == 0x668);

// Intercept vector 3 (VMCB offset 0x00C), APM Vol. 2, Table B-1.
namespace misc1 {
inline constexpr std::uint32_t kIntr = 1U << 0;
inline constexpr std::uint32_t kNmi = 1U << 1;
inline constexpr std::uint32_t kSmi = 1U << 2;
inline constexpr std::uint32_t kVintr = 1U << 4;
inline constexpr std::uint32_t kInit = 1U << 3;
inline constexpr std::uint32_t kCpuid = 1U << 18;
inline constexpr std::uint32_t kHlt = 1U << 24;
inline constexpr std::uint32_t kInvlpga = 1U << 26;
inline constexpr std::uint32_t kIoioProt = 1U << 27;
inline constexpr std::uint32_t kMsrProt = 1U << 28;
inline constexpr std::uint32_t kShutdown = 1U << 31;
}  // namespace misc1

// Intercept vector 4 (VMCB offset 0x010).
namespace misc2 {
inline constexpr std::uint32_t kVmrun = 1U << 0;
inline constexpr std::uint32_t kVmmcall = 1U << 1;
inline constexpr std::uint32_t kVmload = 1U << 2;
inline constexpr std::uint32_t kVmsave = 1U << 3;
inline constexpr std::uint32_t kStgi = 1U << 4;
inline constexpr std::uint32_t kClgi = 1U << 5;
inline constexpr std::uint32_t kSkinit = 1U << 6;
inline constexpr std::uint32_t kMonitor = 1U << 10;
inline constexpr std::uint32_t kMwait = 1U << 11;
inline constexpr std::uint32_t kMwaitConditional = 1U << 12;
inline constexpr std::uint32_t kXsetbv = 1U << 13;
}  // namespace misc2

// #VMEXIT codes (APM Vol. 2, Appendix C).
namespace exit_code {
inline constexpr std::uint64_t kExceptionBase = 0x40;  // + vector
inline constexpr std::uint64_t kIntr = 0x60;
inline constexpr std::uint64_t kNmi = 0x61;
inline constexpr std::uint64_t kSmi = 0x62;
inline constexpr std::uint64_t kInit = 0x63;
inline constexpr std::uint64_t kVintr = 0x64;
inline constexpr std::uint64_t kCpuid = 0x72;
inline constexpr std::uint64_t kHlt = 0x78;
inline constexpr std::uint64_t kInvlpga = 0x7A;
inline constexpr std::uint64_t kIoio = 0x7B;
inline constexpr std::uint64_t kMsr = 0x7C;
inline constexpr std::uint64_t kShutdown = 0x7F;
inline constexpr std::uint64_t kVmrun = 0x80;
inline constexpr std::uint64_t kVmmcall = 0x81;
inline constexpr std::uint64_t kVmload = 0x82;
inline constexpr std::uint64_t kVmsave = 0x83;
inline constexpr std::uint64_t kStgi = 0x84;
inline constexpr std::uint64_t kClgi = 0x85;
inline constexpr std::uint64_t kSkinit = 0x86;
inline constexpr std::uint64_t kMonitor = 0x8A;
inline constexpr std::uint64_t kMwait = 0x8B;
inline constexpr std::uint64_t kMwaitConditional = 0x8C;
inline constexpr std::uint64_t kXsetbv = 0x8D;
inline constexpr std::uint64_t kNpf = 0x400;
inline constexpr std::uint64_t kInvalid = ~0ULL;
}  // namespace exit_code

// EVENTINJ (APM Vol. 2, 15.20 "Event Injection").
namespace event {
inline constexpr std::uint64_t kVectorMask = 0xFF;
inline constexpr std::uint64_t kTypeMask = 7ULL << 8;
inline constexpr std::uint64_t kTypeInterrupt = 0;  // external (INTR)
inline constexpr std::uint64_t kTypeNmi = 2ULL << 8;
inline constexpr std::uint64_t kTypeException = 3ULL << 8;
inline constexpr std::uint64_t kErrorCodeValid = 1ULL << 11;
inline constexpr std::uint64_t kValid = 1ULL << 31;
}  // namespace event

// V_INTR fields of VmcbControl::vintr (APM Vol. 2, 15.21, Table B-1).
namespace vintr {
inline constexpr std::uint64_t kIrq = 1ULL << 8;  // V_IRQ: a virtual interrupt is pending
inline constexpr std::uint64_t kPriorityMax = 0xFULL << 16;  // V_INTR_PRIO
inline constexpr std::uint64_t kIgnoreTpr = 1ULL << 20;      // V_IGN_TPR
inline constexpr std::uint64_t kMasking = 1ULL << 24;        // V_INTR_MASKING
inline constexpr unsigned kVectorShift = 32;                 // V_INTR_VECTOR (VMCB 0x64)
inline constexpr std::uint64_t kVector = 0xFFULL << kVectorShift;
}  // namespace vintr

// VMCB clean bits (APM Vol. 2, 15.15.3): a set bit tells the CPU that the
// named fields did not change since the last VMRUN of this VMCB on this CPU.
namespace clean {
inline constexpr std::uint32_t kIntercepts = 1U << 0;  // intercepts, TSC offset, pause filter
inline constexpr std::uint32_t kIopm = 1U << 1;        // IOPM/MSRPM base
inline constexpr std::uint32_t kAsid = 1U << 2;
inline constexpr std::uint32_t kTpr = 1U << 3;               // V_TPR, V_IRQ, ...
inline constexpr std::uint32_t kNestedPaging = 1U << 4;      // NP_ENABLE, nCR3, gPAT
inline constexpr std::uint32_t kControlRegisters = 1U << 5;  // CR0, CR3, CR4, EFER
inline constexpr std::uint32_t kDebugRegisters = 1U << 6;    // DR6, DR7
inline constexpr std::uint32_t kDescriptorTables = 1U << 7;  // GDT, IDT
inline constexpr std::uint32_t kSegments = 1U << 8;          // CS, DS, SS, ES, CPL
inline constexpr std::uint32_t kCr2 = 1U << 9;
inline constexpr std::uint32_t kLbr = 1U << 10;
inline constexpr std::uint32_t kAvic = 1U << 11;
inline constexpr std::uint32_t kAll = (1U << 12) - 1;
}  // namespace clean

// CPUID Fn8000_000A EDX: SVM features (APM Vol. 3, E.4.10).
namespace feature {
inline constexpr std::uint32_t kNestedPaging = 1U << 0;
inline constexpr std::uint32_t kNripSave = 1U << 3;
inline constexpr std::uint32_t kVmcbClean = 1U << 5;
inline constexpr std::uint32_t kFlushByAsid = 1U << 6;
inline constexpr std::uint32_t kDecodeAssists = 1U << 7;
}  // namespace feature

}  // namespace boxy::svm
