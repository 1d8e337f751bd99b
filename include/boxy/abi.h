/* SPDX-License-Identifier: MIT */
/*
 * The Boxy hypercall ABI, shared by the VMM (C++20, freestanding), the host
 * kernel driver boxy.ko (C, Linux kernel) and host tools (C or C++). The
 * prose version, with the rules for callers, is docs/abi.md.
 *
 * Plain C11: fixed-width types, macros and structs only, so that one header
 * serves every consumer. Every struct layout is pinned with a static
 * assertion, because the VMM and its callers are built by different
 * compilers in different languages.
 */
#ifndef BOXY_ABI_H
#define BOXY_ABI_H

/* C, not C++: <stdint.h> and typedef are what both languages accept. */
/* NOLINTBEGIN(modernize-deprecated-headers,modernize-use-using) */
#ifdef __KERNEL__
#include <linux/types.h>
typedef __u8 boxy_u8;
typedef __u16 boxy_u16;
typedef __u32 boxy_u32;
typedef __u64 boxy_u64;
#else
#include <stdint.h>
typedef uint8_t boxy_u8;
typedef uint16_t boxy_u16;
typedef uint32_t boxy_u32;
typedef uint64_t boxy_u64;
#endif
/* NOLINTEND(modernize-deprecated-headers,modernize-use-using) */

#ifdef __cplusplus
#define BOXY_ABI_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define BOXY_ABI_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
/* GCC and Clang built-in: no <stddef.h>, which the kernel does not have. */
#define BOXY_ABI_OFFSETOF(type, member) __builtin_offsetof(type, member)

/*
 * Version. A major change breaks callers; a minor change only adds (calls,
 * feature bits, exit reasons, fields in reserved space). A caller built
 * against MAJOR.MINOR works with any VMM reporting the same major and a
 * minor >= MINOR.
 */
#define BOXY_ABI_VERSION_MAJOR 0u
#define BOXY_ABI_VERSION_MINOR 2u
/* Packed as in CPUID 0x40000001 EAX and BOXY_CALL_VERSION RDI. */
#define BOXY_ABI_VERSION ((BOXY_ABI_VERSION_MAJOR << 16) | BOXY_ABI_VERSION_MINOR)
#define BOXY_ABI_VERSION_MAJOR_OF(version) (((version) >> 16) & 0xFFFFu)
#define BOXY_ABI_VERSION_MINOR_OF(version) ((version)&0xFFFFu)

/* Feature bits (64 bits; BOXY_CALL_VERSION RSI, CPUID 0x40000001 EBX/ECX).
 * Undefined bits are reserved and read as zero. */
#define BOXY_FEATURE_GET_STATS (1ull << 0)   /* BOXY_CALL_GET_STATS is served */
#define BOXY_FEATURE_SERVICE_VMS (1ull << 1) /* calls 0x10-0x4F are served */

/*
 * CPUID (the hypervisor range, 0x40000000-0x400000FF; CPUID.1:ECX[31], the
 * "hypervisor present" bit, is set under Boxy).
 *
 * Leaf 0x40000000: EAX = highest Boxy leaf (BOXY_CPUID_MAX_LEAF),
 *                  EBX, ECX, EDX = "BoxyBoxyBoxy" (four ASCII bytes per
 *                  register, first byte in bits 7:0, as CPUID vendor
 *                  strings are stored).
 * Leaf 0x40000001: EAX = BOXY_ABI_VERSION, EBX = features bits 31:0,
 *                  ECX = features bits 63:32, EDX = 0 (reserved).
 */
#define BOXY_CPUID_LEAF_IDENTITY 0x40000000u
#define BOXY_CPUID_LEAF_VERSION 0x40000001u
#define BOXY_CPUID_MAX_LEAF BOXY_CPUID_LEAF_VERSION
/* 'B' 0x42, 'o' 0x6F, 'x' 0x78, 'y' 0x79, little endian. */
#define BOXY_CPUID_SIGNATURE_EBX 0x79786F42u
#define BOXY_CPUID_SIGNATURE_ECX 0x79786F42u
#define BOXY_CPUID_SIGNATURE_EDX 0x79786F42u

/*
 * Calling convention. VMMCALL on AMD, VMCALL on Intel (the other
 * instruction raises #UD). RAX = call number (all 64 bits); arguments in
 * RDI, RSI, RDX, R10, R8, R9, the Linux system-call argument registers, so
 * that boxy.ko wraps the instruction with the same register constraints as
 * a syscall stub. Argument registers a call does not use must be zero.
 *
 * On return RAX = BOXY_STATUS_*; on success a call's outputs are in RDI,
 * RSI, RDX. Callers treat RAX, RDI, RSI and RDX as clobbered; every other
 * register is preserved.
 *
 * Call numbers, grouped by sixteen so each group can grow:
 *   0x00-0x07  queries: VERSION 0x00, GET_STATS 0x01
 *   0x08-0x0F  VMM lifecycle: STOP_CPU 0x08
 *   0x10-0x1F  service VMs: VM_CREATE 0x10, VM_DESTROY 0x11
 *   0x20-0x2F  their memory: MEMORY_DONATE 0x20, MEMORY_RECLAIM 0x21
 *   0x30-0x3F  their vCPUs: VCPU_CREATE 0x30, SET_REGS 0x31, GET_REGS 0x32,
 *              RUN 0x33
 *   0x40-0x4F  their interrupts: INJECT_INTERRUPT 0x40
 * Every number not defined here returns BOXY_STATUS_UNKNOWN_CALL.
 */
#define BOXY_CALL_VERSION 0x00u
/* In: nothing. Out: RDI = BOXY_ABI_VERSION, RSI = feature bits,
 *     RDX = number of CPUs under Boxy (valid cpu indices are 0..RDX-1). */
#define BOXY_CALL_GET_STATS 0x01u
/* In:  RDI = cpu index, RSI = guest-physical address of the buffer
 *      (8-byte aligned), RDX = buffer length in bytes, at least
 *      sizeof(struct boxy_cpu_stats), at most BOXY_GET_STATS_MAX_LENGTH.
 * Out: RDI = bytes written (struct boxy_cpu_stats.size).
 * The whole buffer must be ordinary RAM of the calling VM. */
#define BOXY_GET_STATS_MAX_LENGTH 4096u
#define BOXY_CALL_STOP_CPU 0x08u
/* In: nothing. The calling CPU leaves Boxy: it continues natively after
 * the instruction with RAX = BOXY_STATUS_OK and every other register, the
 * control registers, descriptor tables, segments and MSRs as they were in
 * the VM. Only a late-launched Boxy (started by boxy.ko) serves it; one
 * started by boxy.efi answers BOXY_STATUS_UNSUPPORTED. The VMM finishes the
 * switch on the caller's page tables, so they must map the VMM's region at
 * its physical address (supervisor, writable, executable), as boxy.ko's
 * launch page tables do (docs/abi.md, "Stopping"). Once every CPU has
 * stopped, the VMM's memory is the host's again. */

/* Return status in RAX. Zero is success; errors are small positive values. */
#define BOXY_STATUS_OK 0u
#define BOXY_STATUS_UNKNOWN_CALL 1u     /* no such call number */
#define BOXY_STATUS_DENIED 2u           /* caller may not make this call */
#define BOXY_STATUS_INVALID_ARGUMENT 3u /* e.g. an unused register not zero */
#define BOXY_STATUS_BAD_ADDRESS 4u      /* buffer address null, misaligned, wraps, not RAM */
#define BOXY_STATUS_BAD_LENGTH 5u       /* buffer too small or too large */
#define BOXY_STATUS_NO_SUCH_CPU 6u      /* cpu index >= number of CPUs */
#define BOXY_STATUS_UNSUPPORTED 7u      /* call known, but not offered here */
#define BOXY_STATUS_NO_MEMORY 8u        /* the VMM's page pool is exhausted */
#define BOXY_STATUS_NO_SUCH_VM 9u       /* no VM has this handle */
#define BOXY_STATUS_NO_SUCH_VCPU 10u    /* index >= the VM's vCPU count, or not created */
#define BOXY_STATUS_BUSY 11u            /* the VM or vCPU is in use; retry later */
#define BOXY_STATUS_EXISTS 12u          /* already created / already mapped */

/*
 * Exit reasons, numbered as the VMM's vendor-neutral ExitReason
 * (vmm/exit_reason.hpp; vmm/hypercall/exit_stats.cpp checks that the two
 * lists match). New reasons are appended.
 */
#define BOXY_EXIT_CPUID 0u
#define BOXY_EXIT_MSR_READ 1u
#define BOXY_EXIT_MSR_WRITE 2u
#define BOXY_EXIT_IO 3u
#define BOXY_EXIT_NESTED_PAGE_FAULT 4u
#define BOXY_EXIT_HYPERCALL 5u
#define BOXY_EXIT_INIT 6u
#define BOXY_EXIT_SIPI 7u
#define BOXY_EXIT_XSETBV 8u
#define BOXY_EXIT_HLT 9u
#define BOXY_EXIT_SHUTDOWN 10u
#define BOXY_EXIT_VIRTUALIZATION_INSTRUCTION 11u
#define BOXY_EXIT_CR_ACCESS 12u
#define BOXY_EXIT_EXCEPTION 13u
#define BOXY_EXIT_INTERRUPT 14u
#define BOXY_EXIT_NMI 15u
#define BOXY_EXIT_INVALID_STATE 16u
#define BOXY_EXIT_OTHER 17u
#define BOXY_EXIT_REASON_COUNT 18u /* reasons this ABI version defines */

/* Room in struct boxy_cpu_stats; reasons may grow to this without a new
 * layout. */
#define BOXY_STATS_MAX_REASONS 64u

/*
 * BOXY_CALL_GET_STATS output: one CPU's VM-exit counters since Boxy
 * started. Counters of different reasons are read one by one while the CPU
 * keeps running, so they are not one instant's snapshot: total_exits may
 * differ from the sum of exits_by_reason by the exits in flight.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_cpu_stats {
    boxy_u32 size;         /* bytes the VMM filled: sizeof(struct boxy_cpu_stats) */
    boxy_u32 cpu_index;    /* as passed in RDI */
    boxy_u32 apic_id;      /* the CPU's (x2)APIC ID */
    boxy_u32 reason_count; /* valid entries of exits_by_reason; the rest are zero */
    boxy_u64 total_exits;
    boxy_u64 exits_by_reason[BOXY_STATS_MAX_REASONS]; /* indexed by BOXY_EXIT_* */
};

BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, size) == 0, "boxy_cpu_stats.size");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, cpu_index) == 4,
                       "boxy_cpu_stats.cpu_index");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, apic_id) == 8,
                       "boxy_cpu_stats.apic_id");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, reason_count) == 12,
                       "boxy_cpu_stats.reason_count");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, total_exits) == 16,
                       "boxy_cpu_stats.total_exits");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, exits_by_reason) == 24,
                       "boxy_cpu_stats.exits_by_reason");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_cpu_stats) == 24 + 8 * BOXY_STATS_MAX_REASONS,
                       "boxy_cpu_stats size");
BOXY_ABI_STATIC_ASSERT(BOXY_EXIT_REASON_COUNT <= BOXY_STATS_MAX_REASONS,
                       "exit reasons must fit boxy_cpu_stats");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_cpu_stats) <= BOXY_GET_STATS_MAX_LENGTH,
                       "boxy_cpu_stats must fit the largest buffer");

/*
 * Service VMs (docs/abi.md, "Service VMs"). Only the host kernel calls
 * these. A VM is named by a handle (1..BOXY_MAX_VMS) that VM_CREATE returns;
 * a vCPU by its VM and its index (0..vcpu_count-1; vCPU i has APIC ID i, and
 * vCPU 0 is the bootstrap processor). Host-physical addresses passed in are
 * the host's guest-physical ones (the host VM is identity-mapped); each must
 * be ordinary RAM of the host, which never includes VMM memory.
 */
#define BOXY_MAX_VMS 32u
#define BOXY_MAX_VCPUS 8u               /* per VM */
#define BOXY_VM_MAX_MEMORY (1ull << 39) /* guest-physical space of one VM: 512 GiB */
#define BOXY_DONATE_MAX_PAGES 512u      /* pages per DONATE/RECLAIM call */

#define BOXY_CALL_VM_CREATE 0x10u
/* In:  RDI = guest-physical size: the VM's memory lives in [0, RDI); a
 *      multiple of 4 KiB, 1..BOXY_VM_MAX_MEMORY. RSI = vCPU count,
 *      1..BOXY_MAX_VCPUS.
 * Out: RDI = VM handle. NO_MEMORY if the VMM's pool is exhausted, BUSY if
 *      BOXY_MAX_VMS VMs exist. The VM has no memory and no vCPU yet. */
#define BOXY_CALL_VM_DESTROY 0x11u
/* In: RDI = VM handle. BUSY while one of its vCPUs runs. Every page still
 * donated is zeroed and unmapped first (to bound the time one call takes,
 * reclaim memory with MEMORY_RECLAIM before), then the VM's nested page
 * tables, vCPUs and handle are freed. Afterwards the host may reuse the
 * pages it donated. */
#define BOXY_CALL_MEMORY_DONATE 0x20u
/* In:  RDI = VM handle, RSI = guest-physical address (4 KiB aligned),
 *      RDX = host-physical address of a page list (8-byte aligned host RAM,
 *      R10 * 8 bytes): host-physical addresses of 4 KiB pages, each 4 KiB
 *      aligned host RAM, R10 = page count, 1..BOXY_DONATE_MAX_PAGES.
 * Page i is mapped at RSI + i * 4096, readable, writable and executable
 * for the VM, with the host's memory type for it. The range must lie inside
 * the VM's size and must not be mapped yet (EXISTS). BUSY while one of the
 * VM's vCPUs runs. On an error nothing is mapped. In "shared" isolation the
 * host keeps its own mapping of the pages (as with KVM). */
#define BOXY_CALL_MEMORY_RECLAIM 0x21u
/* In: RDI = VM handle, RSI = guest-physical address (4 KiB aligned),
 *     RDX = page count, 1..BOXY_DONATE_MAX_PAGES. Every page of the range
 *     must be mapped (else INVALID_ARGUMENT, nothing changed); each is
 *     zeroed, then unmapped. BUSY while one of the VM's vCPUs runs. */
#define BOXY_CALL_VCPU_CREATE 0x30u
/* In: RDI = VM handle, RSI = vCPU index (< the VM's vCPU count; EXISTS if
 *     created already), RDX = host-physical address of the vCPU's run page
 *     (4 KiB aligned host RAM, struct boxy_vcpu_run), which the VMM writes
 *     on every RUN.
 * The vCPU starts in the state INIT leaves (APM Vol. 2, 14.1.3); vCPU 0
 * runnable, the others waiting for a start-up IPI. */
#define BOXY_CALL_VCPU_SET_REGS 0x31u
/* In: RDI = VM handle, RSI = vCPU index, RDX = host-physical address of a
 *     struct boxy_vcpu_regs (8-byte aligned host RAM). Checked as VMRUN
 *     would (INVALID_ARGUMENT: e.g. EFER.LME with CR0.PG but not CR4.PAE,
 *     reserved bits, non-canonical bases). BUSY while the vCPU runs. */
#define BOXY_CALL_VCPU_GET_REGS 0x32u
/* In: as SET_REGS; the VMM writes the struct. BUSY while the vCPU runs. */
#define BOXY_CALL_VCPU_RUN 0x33u
/* In:  RDI = VM handle, RSI = vCPU index.
 * Out: RDI = exit reason (BOXY_VM_EXIT_*), also in the run page with its
 *      details. The calling CPU runs the vCPU until something needs the
 *      host: port I/O, MMIO, HLT with nothing to deliver, shutdown, a
 *      physical interrupt, an IPI to a sibling vCPU. Before entering the
 *      vCPU the VMM completes the previous exit: an IN or MMIO read takes
 *      its value from the run page's io.data / mmio.data, and the
 *      instruction is skipped. BUSY if the vCPU runs on another CPU.
 *      Unlike every other call, RUN leaves the guest's x87/SSE state in
 *      the CPU: the caller saves its own first (boxy.ko: kernel_fpu_begin).
 *      A TSC deadline the guest moves earlier than the run page said ends
 *      the RUN with INTERRUPTED, so the host can re-arm its timer. */
#define BOXY_CALL_INJECT_INTERRUPT 0x40u
/* In: RDI = VM handle, RSI = vCPU index, RDX = vector (32..255;
 *     0-31 are exceptions), R10 = flags (BOXY_INJECT_LEVEL: level-triggered;
 *     its EOI then exits
 *     with BOXY_VM_EXIT_EOI). The interrupt is made pending in the vCPU's
 *     local APIC; the host then kicks the vCPU's thread (it may run or
 *     halt elsewhere). Allowed while the vCPU runs. */
#define BOXY_INJECT_LEVEL (1ull << 0)

/* Why BOXY_CALL_VCPU_RUN returned (struct boxy_vcpu_run.exit_reason). */
#define BOXY_VM_EXIT_NONE 0u
#define BOXY_VM_EXIT_IO 1u       /* u.io: IN or OUT (not string I/O) */
#define BOXY_VM_EXIT_MMIO 2u     /* u.mmio: an access outside guest RAM */
#define BOXY_VM_EXIT_HLT 3u      /* nothing to deliver; sleep until timer_deadline_tsc or a kick */
#define BOXY_VM_EXIT_SHUTDOWN 4u /* triple fault or shutdown: the VM is dead */
#define BOXY_VM_EXIT_INTERRUPTED 5u /* a physical interrupt arrived; run again */
#define BOXY_VM_EXIT_KICK 6u        /* u.kick: sibling vCPUs got interrupts; wake them */
#define BOXY_VM_EXIT_EOI 7u         /* u.eoi: the guest ended a level-triggered interrupt */
#define BOXY_VM_EXIT_FAILED 8u      /* u.failed: the VMM cannot continue this vCPU */

/* BOXY_VM_EXIT_FAILED causes (u.failed.cause). */
#define BOXY_VM_FAIL_INVALID_STATE 1u /* VMRUN refused the state (VMEXIT_INVALID) */
#define BOXY_VM_FAIL_EMULATION 2u     /* an MMIO or I/O instruction the VMM cannot emulate */
#define BOXY_VM_FAIL_UNEXPECTED 3u    /* an exit the VMM does not handle; vendor code in u.failed */

/* vCPU states (boxy_vcpu_regs.mp_state). */
#define BOXY_MP_RUNNABLE 0u
#define BOXY_MP_WAIT_FOR_SIPI 1u

/* A segment register: VMCB layout (APM Vol. 2, 15.5.1; attrib packs
 * descriptor bits 40-47 into 7:0 and 52-55 into 11:8). */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_segment {
    boxy_u16 selector;
    boxy_u16 attrib;
    boxy_u32 limit;
    boxy_u64 base;
};
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_vcpu_regs {
    boxy_u64 gprs[16]; /* RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15 */
    boxy_u64 rip;
    boxy_u64 rflags;
    boxy_u64 cr0;
    boxy_u64 cr2;
    boxy_u64 cr3;
    boxy_u64 cr4;
    boxy_u64 efer;
    boxy_u64 pat;
    struct boxy_segment cs, ds, es, fs, gs, ss, tr, ldtr;
    struct boxy_segment gdtr, idtr; /* base and limit only */
    boxy_u32 mp_state;              /* BOXY_MP_* */
    boxy_u32 reserved;              /* zero */
};
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_segment) == 16, "boxy_segment size");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_vcpu_regs, rip) == 128, "boxy_vcpu_regs.rip");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_vcpu_regs, cs) == 192, "boxy_vcpu_regs.cs");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_vcpu_regs, mp_state) == 352,
                       "boxy_vcpu_regs.mp_state");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_vcpu_regs) == 360, "boxy_vcpu_regs size");

/* The run page: one per vCPU, 4 KiB, written by the VMM on every RUN. */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_vcpu_run {
    boxy_u32 exit_reason; /* out: BOXY_VM_EXIT_* */
    boxy_u32 reserved0;
    boxy_u64 timer_deadline_tsc; /* out: the vCPU's LAPIC timer deadline (host TSC); 0 = none */
    boxy_u64 exits;              /* out: VM exits of this vCPU, all reasons, since creation */
    boxy_u64 host_exits;         /* out: of those, RUN returns to the host */
    union {
        struct {
            boxy_u16 port;
            boxy_u8 size;  /* 1, 2 or 4 */
            boxy_u8 in;    /* 1: IN, the host sets data before the next RUN */
            boxy_u32 data; /* OUT: the value; IN: the host's answer */
        } io;
        struct {
            boxy_u64 gpa;
            boxy_u64 data; /* write: the value; read: the host's answer */
            boxy_u8 size;  /* 1, 2, 4 or 8 */
            boxy_u8 write; /* 1: a store */
            boxy_u8 pad[6];
        } mmio;
        struct {
            boxy_u64 vcpus; /* bit i: vCPU i has an interrupt or a start-up IPI to take */
        } kick;
        struct {
            boxy_u32 vector;
            boxy_u32 pad;
        } eoi;
        struct {
            boxy_u32 cause; /* BOXY_VM_FAIL_* */
            boxy_u32 pad;
            boxy_u64 vendor_code; /* SVM exit code / VMX exit reason */
            boxy_u64 info1;
            boxy_u64 info2;
            boxy_u64 rip;
        } failed;
        boxy_u64 raw[8];
    } u;
    boxy_u64 exits_by_reason[BOXY_STATS_MAX_REASONS]; /* out: indexed by BOXY_EXIT_* */
};
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_vcpu_run, timer_deadline_tsc) == 8,
                       "boxy_vcpu_run.timer_deadline_tsc");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_vcpu_run, u) == 32, "boxy_vcpu_run.u");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_vcpu_run, exits_by_reason) == 96,
                       "boxy_vcpu_run.exits_by_reason");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_vcpu_run) <= 4096, "boxy_vcpu_run fits a page");

#endif /* BOXY_ABI_H */
